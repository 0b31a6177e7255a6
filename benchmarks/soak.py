"""Soak: train with live views for a while, drag a cursor all along, report stalls, memory
and errors.

Run from the repository root (Qt's offscreen platform unless QT_QPA_PLATFORM says otherwise):

    python benchmarks/soak.py                 # 60 s
    python benchmarks/soak.py --seconds 600   # longer
    python benchmarks/soak.py --quick         # about 5 s; the test suite runs this

The window opens on the pretrained models, as `vae-gui` does, and Train is pressed with the
epochs raised so that training never ends during the soak. While it trains:

- a scripted cursor drags, with real mouse events sent to the latent plots' viewports (press
  on the cursor, a move every 16 ms along a circle around the prior's centre, release after
  2 s, then the other plot), so that both decoders run on every move;
- a 10 ms heartbeat timer on the GUI thread records the gap between its beats: gaps far above
  10 ms are the event loop's stalls (a snapshot being drawn, a decode, garbage collection);
- every exception (in slots, which PySide hands to sys.excepthook, and in Python threads),
  every error dialog the window opens, every Qt warning and every training failure is counted.

At the end training is stopped, the window is closed (closing never blocks: the time counted
is until the window has closed for good, its `closed` signal), and one table is printed:
stalls (gap percentiles and counts), resident memory at the start of training, after 10% of
the time (warm-up) and at the end, snapshots drawn and the time each took (one
ExplorerState.show: the projections and every view subscribed to models_changed; the
histograms, KL bars and loss curves follow in their own throttled turn, not counted), training
steps and cursor moves. Memory is read from
/proc/self/statm after gc.collect() and glibc's malloc_trim(0), so that it is memory in use and
not what the allocator keeps in reserve. The exit status is 1 when any error was seen.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import math
import os
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(REPO))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6 import QtCore, QtGui, QtWidgets  # noqa: E402

from benchmarks.common import markdown_table  # noqa: E402

HEARTBEAT_MS = 10
MOVE_MS = 16  # pyqtgraph drops moves closer than 10 ms apart
DRAG_SECONDS = 2.0
LOAD_TIMEOUT_S = 120


def rss_mb() -> float:
    """Resident memory in MB, after collecting garbage and trimming glibc's free heap."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class Errors:
    """Everything that went wrong, from any source, in the order seen."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.qt_warnings: list[str] = []
        self._lock = threading.Lock()

    def add(self, text: str) -> None:
        with self._lock:
            self.seen.append(text)
        print(f"soak: error: {text}", file=sys.stderr, flush=True)

    def install(self) -> None:
        def excepthook(kind, value, tb):
            self.add("".join(traceback.format_exception(kind, value, tb)).strip())

        def thread_excepthook(args):
            self.add(f"in thread {args.thread.name}: "
                     + "".join(traceback.format_exception(args.exc_type, args.exc_value,
                                                          args.exc_traceback)).strip())

        def qt_messages(mode, _context, message):
            if "propagateSizeHints" in message:  # the offscreen platform says this once
                return
            if mode in (QtCore.QtMsgType.QtCriticalMsg, QtCore.QtMsgType.QtFatalMsg):
                self.add(f"Qt: {message}")
            else:
                with self._lock:
                    self.qt_warnings.append(message)
                print(f"soak: Qt: {message}", file=sys.stderr, flush=True)

        sys.excepthook = excepthook
        threading.excepthook = thread_excepthook
        QtCore.qInstallMessageHandler(qt_messages)


class Heartbeat(QtCore.QObject):
    """A precise timer on the GUI thread; the gaps between its beats are the stalls."""

    def __init__(self) -> None:
        super().__init__()
        self.gaps: list[float] = []
        self._last = time.perf_counter()
        self.timer = QtCore.QTimer(self, interval=HEARTBEAT_MS,
                                   timerType=QtCore.Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self._beat)

    def start(self) -> None:
        self._last = time.perf_counter()
        self.timer.start()

    def _beat(self) -> None:
        now = time.perf_counter()
        self.gaps.append(1000 * (now - self._last))
        self._last = now


def _send(widget: QtWidgets.QWidget, kind, pos: QtCore.QPointF, button, buttons) -> None:
    event = QtGui.QMouseEvent(kind, pos, widget.mapToGlobal(pos), button, buttons,
                              QtCore.Qt.KeyboardModifier.NoModifier)
    QtWidgets.QApplication.sendEvent(widget, event)


class CursorScript(QtCore.QObject):
    """Drags the cursor of one latent plot around a circle with real mouse events, then the
    other plot's; each drag lasts DRAG_SECONDS."""

    LEFT, NONE = QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.MouseButton.NoButton

    def __init__(self, window) -> None:
        super().__init__()
        self.window = window
        self.plots = [window.columns[k].latent_plot for k in ("right", "left")]
        self.moves = 0
        self.drags = 0
        self._plot = None
        self._t0 = 0.0
        self._angle = 0.0
        self.timer = QtCore.QTimer(self, interval=MOVE_MS,
                                   timerType=QtCore.Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self._tick)
        for plot in self.plots:
            plot.cursor_moved.connect(self._on_moved)

    def _on_moved(self, *_xy) -> None:
        self.moves += 1

    def _widget_pos(self, plot, x: float, y: float) -> QtCore.QPointF:
        scene = plot.view_box.mapViewToScene(QtCore.QPointF(x, y))
        return QtCore.QPointF(plot.mapFromScene(scene))

    def start(self) -> None:
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()
        if self._plot is not None:
            self._release()

    def _release(self) -> None:
        plot = self._plot
        x, y = plot.cursor_position()
        _send(plot.viewport(), QtCore.QEvent.Type.MouseButtonRelease,
              self._widget_pos(plot, x, y), self.LEFT, self.NONE)
        self._plot = None

    def _tick(self) -> None:
        now = time.perf_counter()
        if self._plot is not None and now - self._t0 > DRAG_SECONDS:
            self._release()
        if self._plot is None:  # press on the cursor of the next plot
            self._plot = self.plots[self.drags % 2]
            self.drags += 1
            self._t0 = now
            x, y = self._plot.cursor_position()
            pos = self._widget_pos(self._plot, x, y)
            viewport = self._plot.viewport()
            _send(viewport, QtCore.QEvent.Type.MouseMove, pos, self.NONE, self.NONE)
            _send(viewport, QtCore.QEvent.Type.MouseButtonPress, pos, self.LEFT, self.LEFT)
            return
        plot = self._plot
        self._angle += 0.08
        (x0, x1), (y0, y1) = plot.view_box.viewRange()
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        r = 0.3 * min(x1 - x0, y1 - y0) * (1 + 0.3 * math.sin(self._angle / 7))
        pos = self._widget_pos(plot, cx + r * math.cos(self._angle),
                               cy + r * math.sin(self._angle))
        _send(plot.viewport(), QtCore.QEvent.Type.MouseMove, pos, self.NONE, self.LEFT)


def wait_for(app, condition, timeout_s: float, what: str) -> None:
    deadline = time.perf_counter() + timeout_s
    while not condition():
        if time.perf_counter() > deadline:
            raise SystemExit(f"soak: {what} did not happen within {timeout_s:.0f} s")
        app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.002)


def run_for(app, seconds: float) -> None:
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 50)
        QtCore.QThread.msleep(1)


def percentile(values, q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else float("nan")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    p.add_argument("--seconds", type=float, default=60.0, help="how long to train (default 60)")
    p.add_argument("--quick", action="store_true", help="5 s: proves the script works")
    args = p.parse_args(argv)
    seconds = 5.0 if args.quick else args.seconds
    if not seconds > 0:
        p.error("--seconds must be positive")

    import pyqtgraph as pg

    from vae_gui.main_window import MainWindow

    errors = Errors()
    errors.install()
    pg.setConfigOptions(antialias=False, foreground="k")
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    settings_dir = tempfile.TemporaryDirectory()
    settings = QtCore.QSettings(str(Path(settings_dir.name) / "settings.ini"),
                                QtCore.QSettings.Format.IniFormat)
    settings.setValue("ask_before_discarding", False)  # a script: nobody answers a question
    window = MainWindow(settings)
    shown_errors: list[str] = []
    real_show_error = window.show_error

    def show_error(title: str, text: str) -> None:  # every dialog the window opens
        errors.add(f"error dialog: {title}: {text}")
        shown_errors.append(title)
        real_show_error(title, text)

    window.show_error = show_error
    render_ms: list[float] = []
    state = window.state
    real_show = state.show

    def show(*a, **k):  # every snapshot shown, and how long showing it took
        t0 = time.perf_counter()
        try:
            return real_show(*a, **k)
        finally:
            render_ms.append(1000 * (time.perf_counter() - t0))

    # The controllers call state.show(...) through the state object, so this instance
    # attribute sees every snapshot: models_changed's slots all run inside the call.
    state.show = show
    window.show()
    window.load_initial()
    wait_for(app, lambda: window.snapshot is not None, LOAD_TIMEOUT_S, "loading the models")

    # Never let training end during the soak: the most epochs the panel allows.
    window.settings_panel.epochs.setValue(window.settings_panel.epochs.maximum())
    heartbeat = Heartbeat()
    cursor = CursorScript(window)
    # The trainer is its thread's alone: steps are counted from the Progress records the
    # session relays (about ten a second), the newest when the soak ends.
    latest: dict = {}
    window.session.progress.connect(lambda p: latest.update(progress=p))
    rss_start = rss_mb()
    render_ms.clear()
    started = time.perf_counter()
    window.train_action.trigger()
    heartbeat.start()
    cursor.start()
    warm = 0.1 * seconds
    run_for(app, warm)
    rss_warm = rss_mb()
    run_for(app, seconds - warm)
    cursor.stop()
    heartbeat.timer.stop()
    elapsed = time.perf_counter() - started
    last = latest.get("progress")
    steps, epoch = (last.step, last.step / last.steps_per_epoch) if last else (0, 0.0)
    running_at_end = window.session.running
    window.stop_action.trigger()
    wait_for(app, lambda: not window.session.running, 10, "stopping training")
    run_for(app, 0.2)
    rss_end = rss_mb()
    closed: list[bool] = []
    window.closed.connect(lambda: closed.append(True))
    t0 = time.perf_counter()
    window.close()
    wait_for(app, lambda: closed, 30, "closing the window")
    close_s = time.perf_counter() - t0
    if not running_at_end:
        errors.add("training was not running at the end of the soak")

    gaps = np.asarray(heartbeat.gaps)
    rows = [
        ["trained with live views", f"{elapsed:.1f} s"],
        ["training steps", f"{steps:,} (epoch {epoch:.1f}, {steps / elapsed:.0f} steps/s)"],
        ["snapshots drawn", f"{len(render_ms):,} ({len(render_ms) / elapsed:.1f}/s)"],
        ["drawing one snapshot p50 / max", f"{percentile(render_ms, 50):.0f} / "
                                           f"{max(render_ms, default=float('nan')):.0f} ms"],
        ["cursor moves decoded", f"{cursor.moves:,} in {cursor.drags} drags "
                                 f"({cursor.moves / elapsed:.0f}/s)"],
        ["heartbeat gaps p50 / p99 / max", f"{percentile(gaps, 50):.1f} / "
                                           f"{percentile(gaps, 99):.1f} / "
                                           f"{gaps.max() if len(gaps) else float('nan'):.1f} ms "
                                           f"({len(gaps):,} beats of {HEARTBEAT_MS} ms)"],
        ["stalls > 50 / 100 / 250 ms", " / ".join(str(int((gaps > t).sum()))
                                                 for t in (50, 100, 250))],
        ["RSS at start / after warm-up / end", f"{rss_start:.0f} / {rss_warm:.0f} / "
                                               f"{rss_end:.0f} MB"],
        ["RSS growth after warm-up", f"{rss_end - rss_warm:+.1f} MB"],
        ["closing the window", f"{1000 * close_s:.0f} ms"],
        ["Qt warnings", str(len(errors.qt_warnings))],
        ["errors seen (exceptions, error dialogs)", str(len(errors.seen))],
    ]
    print(f"## Soak: {seconds:g} s of training with live views and a dragged cursor\n")
    print(markdown_table(["measure", "value"], rows))
    print(f"\n{os.cpu_count()} CPUs, 1-min load average {os.getloadavg()[0]:.2f} at the end")
    for text in errors.seen:
        print(f"\nerror: {text}")
    return 1 if errors.seen else 0


if __name__ == "__main__":
    sys.exit(main())
