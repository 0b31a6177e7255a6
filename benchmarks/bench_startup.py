"""Start-up: from process start to the first painted window, and to the models drawn.

Run from the repository root (Qt's offscreen platform unless QT_QPA_PLATFORM says otherwise):

    python benchmarks/bench_startup.py             # 5 rounds, about a minute
    python benchmarks/bench_startup.py --quick     # one round; what the test suite runs

Each round starts, in rotating order, three (or four) fresh processes and times them from
just before the spawn (a monotonic clock shared by all processes):

- the reference, `python -c "import torch"`, until it exits;
- the app, through a thin probe (`--child-app`) that does what `python -m vae_gui.app` does
  (it calls `vae_gui.app.main([])`, the same function) after installing an event filter:
  "first paint" is when the window's first paint has finished, "models drawn" when
  MainWindow.models_shown fires, and "interactive" when the paint after that has finished
  (the pretrained clouds are on screen and the cursor decodes). Then it closes the window.
- the unmodified `python -m vae_gui.app --screenshot FILE`, until it exits: an upper bound on
  "interactive" that needs no probe (it also waits 300 ms, grabs and saves the window and
  tears everything down).
- with --what-if MS (on by default in full runs, MS = 50): the probe again, with
  MainWindow.load_initial deferred by MS ms, to measure a proposed change to run_gui (the
  background torch import otherwise competes with the first paint for the GIL).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(REPO))

from benchmarks.common import markdown_table, median, worst  # noqa: E402

FIRST_PAINT_TARGET_S = 1.5
INTERACTIVE_TARGET_RATIO = 2.0
TIMEOUT_S = 120


def child_app(defer_load_ms: int | None = None) -> int:
    """The probe: vae_gui.app.main as `python -m vae_gui.app` runs it, printing when things
    happen.

    `defer_load_ms` is a what-if for a proposed change to run_gui: it starts loading torch
    and the models that long after the window is shown instead of at once.
    """
    from PySide6 import QtCore, QtWidgets

    marks: dict[str, float] = {}

    def mark(name: str) -> None:
        if name not in marks:
            marks[name] = time.monotonic()
            print(f"MARK {name} {marks[name]:.6f}", flush=True)

    class Probe(QtCore.QObject):
        """Until the first paint: sees every event (a few microseconds each); then only the
        window's. Records the end of a paint with a zero timer, which runs right after it."""

        def __init__(self) -> None:
            super().__init__()
            self.window = None

        def eventFilter(self, obj, event):  # noqa: N802 - Qt's API
            if event.type() != QtCore.QEvent.Type.Paint:
                return False
            if self.window is None and isinstance(obj, QtWidgets.QWidget):
                from vae_gui.main_window import MainWindow

                window = obj.window()
                if isinstance(window, MainWindow):
                    self.window = window
                    QtWidgets.QApplication.instance().removeEventFilter(self)
                    window.installEventFilter(self)
                    window.models_shown.connect(self.on_models_shown)
                    QtCore.QTimer.singleShot(0, lambda: mark("first_paint"))
            elif obj is self.window and "models_shown" in marks and "interactive" not in marks:
                QtCore.QTimer.singleShot(0, self.done)
            return False

        def on_models_shown(self) -> None:
            mark("models_shown")
            self.window.update()  # the next paint shows the models (it is due anyway)

        def done(self) -> None:
            mark("interactive")
            self.window.close()

    # run_gui would create this QApplication itself (`instance() or QApplication(argv[:1])`);
    # creating it first lets the probe watch from the first event on.
    app = QtWidgets.QApplication(sys.argv[:1])
    probe = Probe()
    app.installEventFilter(probe)
    QtCore.QTimer.singleShot(TIMEOUT_S * 1000, app.quit)  # never hang a benchmark
    from vae_gui.fast_start import import_pyqtgraph

    import_pyqtgraph()  # as vae_gui.app.main does before it imports the window
    from vae_gui import app as vae_gui_app
    from vae_gui import main_window

    if defer_load_ms is not None:
        load_initial = main_window.MainWindow.load_initial

        def deferred(self, path=None) -> None:
            QtCore.QTimer.singleShot(defer_load_ms, lambda: load_initial(self, path))

        main_window.MainWindow.load_initial = deferred
    mark("imported")
    code = vae_gui_app.main([])
    return code if "interactive" in marks else 1


def env() -> dict[str, str]:
    e = dict(os.environ)
    e.setdefault("QT_QPA_PLATFORM", "offscreen")
    return e


def time_bare_torch() -> float:
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-c", "import torch"], check=True, env=env(),
                   timeout=TIMEOUT_S)
    return time.monotonic() - t0


def time_app(tmp: str, defer_load_ms: int | None = None) -> dict[str, float]:
    # A private settings folder, so that the user's recent files and window state stay out.
    e = dict(env(), XDG_CONFIG_HOME=tmp)
    extra = [] if defer_load_ms is None else ["--defer-load-ms", str(defer_load_ms)]
    t0 = time.monotonic()
    result = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child-app",
                             *extra], cwd=REPO, env=e, capture_output=True, text=True,
                            timeout=TIMEOUT_S)
    end = time.monotonic() - t0
    marks = {}
    for line in result.stdout.splitlines():
        if line.startswith("MARK "):
            _, name, value = line.split()
            marks[name] = float(value) - t0
    if result.returncode != 0 or "interactive" not in marks:
        raise SystemExit(f"bench_startup: the app probe failed (exit {result.returncode}):\n"
                         f"{result.stdout[-1500:]}\n{result.stderr[-3000:]}")
    marks["exit"] = end
    return marks


def time_screenshot(tmp: str) -> float:
    e = dict(env(), XDG_CONFIG_HOME=tmp)
    shot = Path(tmp) / "startup.png"
    t0 = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "vae_gui.app", "--screenshot", str(shot)],
                            cwd=REPO, env=e, capture_output=True, text=True, timeout=TIMEOUT_S)
    elapsed = time.monotonic() - t0
    if result.returncode != 0 or not shot.is_file():
        raise SystemExit(f"bench_startup: `python -m vae_gui.app --screenshot` failed "
                         f"(exit {result.returncode}):\n{result.stderr[-3000:]}")
    shot.unlink()
    return elapsed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="one round (the tests)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--what-if", type=int, metavar="MS", default=None,
                   help="also time the app with loading started MS ms after the window is "
                        "shown (a proposed change; default 50 in full runs, off in --quick)")
    p.add_argument("--child-app", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--defer-load-ms", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child_app:
        return child_app(args.defer_load_ms)
    rounds = 1 if args.quick else args.rounds
    what_if = args.what_if if args.what_if is not None or args.quick else 50
    load_before = os.getloadavg()[0]
    bare, app, shot, deferred = [], [], [], []
    methods = ("bare", "app", "screenshot") + (("deferred",) if what_if is not None else ())
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            k = r % len(methods)
            for m in methods[k:] + methods[:k]:
                if m == "bare":
                    bare.append(time_bare_torch())
                elif m == "app":
                    app.append(time_app(tmp))
                elif m == "deferred":
                    deferred.append(time_app(tmp, what_if))
                else:
                    shot.append(time_screenshot(tmp))
    load_after = os.getloadavg()[0]

    def col(name: str) -> list[float]:
        return [a[name] for a in app]

    print(f"# Start-up{' (quick)' if args.quick else ''}\n")
    print(f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} "
          f"CPUs, Qt platform {env()['QT_QPA_PLATFORM']}; {rounds} round(s), each starting "
          f"the {len(methods)} processes in rotating order; seconds from just before the "
          "spawn\n")
    ref = median(bare)
    rows = [["reference: python -c \"import torch\" (to exit)", f"{ref:.2f}",
             f"{worst(bare, higher_is_better=False):.2f}", "1.00"]]
    for name, label in (("imported", "app: Qt, pyqtgraph and vae_gui imported"),
                        ("first_paint", "app: first window painted"),
                        ("models_shown", "app: models drawn (models_shown)"),
                        ("interactive", "app: interactive (painted after models_shown)")):
        v = col(name)
        rows.append([label, f"{median(v):.2f}", f"{worst(v, higher_is_better=False):.2f}",
                     f"{median(v) / ref:.2f}"])
    for name, label in (("first_paint", "what-if: first window painted"),
                        ("interactive", "what-if: interactive")):
        if deferred:
            v = [a[name] for a in deferred]
            rows.append([f"{label} (loading starts {what_if} ms after show)",
                         f"{median(v):.2f}", f"{worst(v, higher_is_better=False):.2f}",
                         f"{median(v) / ref:.2f}"])
    rows.append(["python -m vae_gui.app --screenshot (to exit, unmodified)",
                 f"{median(shot):.2f}", f"{worst(shot, higher_is_better=False):.2f}",
                 f"{median(shot) / ref:.2f}"])
    print(markdown_table(["what", "median s", "worst s", "ratio to import torch"], rows))
    first = median(col("first_paint"))
    ratio = median(col("interactive")) / ref
    print(f"\nfirst paint at most {FIRST_PAINT_TARGET_S:g} s ({first:.2f}): "
          f"{'met' if first <= FIRST_PAINT_TARGET_S else 'NOT met'}")
    print(f"interactive at most {INTERACTIVE_TARGET_RATIO:g}x a bare torch import "
          f"({ratio:.2f}x): {'met' if ratio <= INTERACTIVE_TARGET_RATIO else 'NOT met'}")
    spread = np.ptp(bare) if len(bare) > 1 else 0.0
    print(f"\n1-min load average {load_before:.2f} before, {load_after:.2f} after "
          f"({os.cpu_count()} CPUs); the reference's spread between rounds {spread:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
