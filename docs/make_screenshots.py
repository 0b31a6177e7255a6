"""Renders the README's screenshots: the window, and one per exploration tool.

Run from the repository root (no display needed):

    QT_QPA_PLATFORM=offscreen python docs/make_screenshots.py
    QT_QPA_PLATFORM=offscreen python docs/make_screenshots.py --out /tmp/shots  # elsewhere

It opens the window on the pretrained models, drives each tool as a user would, and saves
screenshot.png and tool-*.png (and run.gif, a short run as a movie) into docs/ (or --out).
The training shots train from scratch, and the latent-8 shot trains a small model for 15
epochs (about a minute on 2 cores); the 70k-point shot trains on 70,000 images for 2
epochs (about 15 s), where the real MNIST test set is beside the project; the colour shapes
demo trains for 15 epochs (`--only shapes` renders that shot alone).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6 import QtCore, QtWidgets  # noqa: E402

DOCS = Path(__file__).resolve().parent


def wait(app: QtWidgets.QApplication, condition, seconds: float = 60.0) -> None:
    end = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("the window did not get there in time")
        app.processEvents()
        time.sleep(0.01)


def shoot(app, window, out: Path, name: str) -> None:
    window.statusBar().clearMessage()  # "Opened <a path on this machine>" says nothing here
    for _ in range(5):
        app.processEvents()
    window.grab().save(str(out / name), "PNG")
    print(f"wrote {out / name}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=DOCS,
                   help="folder to write the PNGs into (default: docs/, the README's)")
    p.add_argument("--only", choices=("shapes", "pair"),
                   help="shapes: only demo-shapes.png, the colour shapes demo trained live; "
                        "pair: only tool-pair.png, VAE \u03b2=1 | VAE \u03b2=4 trained")
    args = p.parse_args(argv)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    import pyqtgraph as pg

    pg.setConfigOptions(antialias=False, foreground="k")
    app = QtWidgets.QApplication(sys.argv[:1])
    from vae_gui.main_window import MainWindow

    settings = QtCore.QSettings(str(Path(tempfile.mkdtemp()) / "s.ini"),
                                QtCore.QSettings.Format.IniFormat)
    settings.setValue("ask_before_discarding", False)  # a script: nobody answers a question
    def new_window() -> MainWindow:
        window = MainWindow(settings)
        # The size of a common laptop screen (Qt's offscreen screen is 800 x 800, smaller
        # than the window can be).
        window.fit_to(QtCore.QRect(0, 0, 1600, 900))
        window.show()
        return window

    if args.only is not None:
        window = new_window()
        {"shapes": shoot_shapes_demo, "pair": shoot_pair}[args.only](app, window, out)
        close(app, window)
        return 0
    window = new_window()
    window.load_initial()
    wait(app, lambda: window.snapshot is not None)
    vae_plot = window.columns["right"].latent_plot
    vae_plot.set_cursor(0.8, -1.1, notify=True)
    shoot(app, window, out, "screenshot.png")

    window.sample_action.trigger()
    shoot(app, window, out, "tool-prior-samples.png")

    window.manifold_action.trigger()
    window.tools.show_tab(window.tools.manifold)
    shoot(app, window, out, "tool-manifold.png")
    window.manifold_action.trigger()

    window.inspect_point(17)
    posterior = window.tools.inspect.posterior
    wait(app, lambda: posterior.picture is not None, seconds=120)
    shoot(app, window, out, "tool-inspect.png")

    window.tools.show_tab("Evidence")
    wait(app, lambda: window.evidence.latest is not None, seconds=120)
    shoot(app, window, out, "tool-evidence.png")

    tab = window.tools.interpolate
    window.tools.show_tab(tab)
    vae_plot.set_cursor(-1.6, -0.9, notify=True)
    tab.pin(0, window.cursor_z())
    vae_plot.set_cursor(1.4, 1.2, notify=True)
    tab.pin(1, window.cursor_z())
    shoot(app, window, out, "tool-interpolate.png")

    draw = window.tools.draw
    window.tools.show_tab(draw)
    draw.canvas.stroke([(9, 7), (18, 7), (18, 12), (11, 21)])  # a 7
    wait(app, lambda: draw.posterior.picture is not None, seconds=120)
    shoot(app, window, out, "tool-draw.png")
    draw.canvas.clear()

    window.sampled_action.trigger()
    shoot(app, window, out, "tool-sampled-cloud.png")
    window.sampled_action.trigger()

    window.fade_action.trigger()
    shoot(app, window, out, "tool-fade-uncertain.png")
    window.fade_action.trigger()

    pretrained = window.snapshot
    window.train_action.trigger()
    wait(app, lambda: window.snapshot is not pretrained and window.snapshot.epoch >= 3)
    shoot(app, window, out, "tool-training.png")
    window.tools.show_tab("Evidence")
    wait(app, lambda: len(window.evidence.history) >= 3, seconds=120)
    shoot(app, window, out, "tool-evidence-training.png")
    window.stop_action.trigger()
    wait(app, lambda: not window.session.running)
    shoot_timeline(app, window, out)
    shoot_compare(app, window, out)

    shoot_sweep(app, window, out)

    window.settings_panel.latent_dim.setValue(8)
    window.settings_panel.epochs.setValue(15)
    # Train would continue the stopped run: Reset starts a paused one with the new shape.
    window.reset_action.trigger()
    window.train_action.trigger()
    wait(app, lambda: window.snapshot.ae_codes.shape[1] == 8 and not window.session.running,
         seconds=300)
    shoot(app, window, out, "tool-latent8-pca.png")
    close(app, window)

    # A window of its own: none of the marks and tabs the shots above left behind.
    window = new_window()
    shoot_train_points(app, window, out)
    close(app, window)

    window = new_window()
    shoot_shapes_demo(app, window, out)
    close(app, window)

    window = new_window()
    shoot_pair(app, window, out)
    close(app, window)
    return 0


def shoot_shapes_demo(app, window, out: Path) -> None:
    """The colour shapes demo trained to its end (15 epochs, a minute or two on 2 cores), the
    cursor on the rings' cloud and the colour manifold in the Tools tab."""
    import numpy as np

    window.load_initial()
    wait(app, lambda: window.snapshot is not None)
    window.shapes_demo_action.trigger()
    wait(app, lambda: window.session.has_run and not window.session.running
         and window.snapshot.epoch == 15, seconds=900)
    snapshot = window.snapshot
    mu, is_ring = snapshot.vae_mu, snapshot.labels == window.class_names.index("ring")
    # A ring whose 20 nearest test points are rings too (the most such), in the densest place.
    distances = np.linalg.norm(mu[is_ring][:, None] - mu[None], axis=-1)
    nearest = np.argsort(distances, axis=1)[:, 1:21]
    purity = is_ring[nearest].mean(axis=1)
    spread = np.take_along_axis(distances, nearest[:, -1:], axis=1)[:, 0]
    best = np.lexsort((spread, -purity))[0]
    window.columns["right"].latent_plot.set_cursor(*mu[is_ring][best], notify=True)
    window.tools.show_tab(window.tools.manifold)
    shoot(app, window, out, "demo-shapes.png")


def shoot_pair(app, window, out: Path) -> None:
    """Settings > Models: VAE β=1 | VAE β=4 trained side by side for 10 epochs, the cursor
    between the clouds, the KL bars and loss curves of each."""
    window.load_initial()
    wait(app, lambda: window.snapshot is not None)
    panel = window.settings_panel
    panel.left_kind.setCurrentIndex(panel.left_kind.findData("vae"))
    panel.left_beta.setValue(1.0)
    panel.beta.setValue(4.0)
    panel.epochs.setValue(10)
    window.train_action.trigger()
    wait(app, lambda: window.session.has_run and not window.session.running
         and window.snapshot.epoch == 10, seconds=300)
    window.columns["right"].latent_plot.set_cursor(0.5, -0.8, notify=True)
    shoot(app, window, out, "tool-pair.png")


def shoot_timeline(app, window, out: Path) -> None:
    """The run just trained, scrubbed back to about two epochs in; and the run as a GIF."""
    from vae_gui.model.movie_settings import MovieSettings

    interpolate = window.tools.interpolate  # the marks of the tool shots above: not here
    interpolate.ends = [None, None]
    interpolate.path_changed.emit()
    window.state.inspect(None)
    window.tools.show_tab("Prior samples")
    timeline = window.timeline.timeline
    index = timeline.index_at_or_before(timeline[0].step + 2 * window.snapshot.steps_per_epoch)
    window.timeline.choose(index)  # about two epochs in
    wait(app, lambda: window.timeline.index == index)
    shoot(app, window, out, "tool-timeline.png")
    window.timeline.present()
    saved = []
    window.movie.saved.connect(saved.append)
    window.movie.export(out / "run.gif", MovieSettings(width=640, height=340, fps=4))
    wait(app, lambda: saved, seconds=120)
    print(f"wrote {out / 'run.gif'}")


def shoot_dialog(app, dialog, size: tuple[int, int], out: Path, name: str) -> None:
    """A window the main window opened (the sweep's, the comparison's), at `size`; closed."""
    dialog.resize(*size)
    for _ in range(5):
        app.processEvents()
    dialog.grab().save(str(out / name), "PNG")
    print(f"wrote {out / name}")
    dialog.close()


def shoot_compare(app, window, out: Path) -> None:
    """File > Compare two checkpoints: the pretrained models against the short run above."""
    from vae_gui.workers.loading import PRETRAINED

    run = Path(tempfile.mkdtemp()) / "short-run.safetensors"
    saved = []
    window.files.runner.idle.connect(lambda: saved.append(True))
    window.save_checkpoint(str(run))
    wait(app, lambda: saved and run.exists())
    shown = []
    window.compare.shown.connect(shown.append)
    window.compare.compare(PRETRAINED, run)
    wait(app, lambda: shown, seconds=300)
    shoot_dialog(app, shown[0], (1320, 860), out, "tool-compare.png")


def shoot_sweep(app, window, out: Path) -> None:
    """Tools > β sweep with its default values of β, 10 epochs: its window."""
    shown = []
    window.sweep.shown.connect(shown.append)
    window.sweep.run([0.5, 1, 2, 4, 8], epochs=10)
    wait(app, lambda: shown, seconds=300)
    shoot_dialog(app, shown[0], (1240, 1000), out, "tool-sweep.png")


def close(app, window) -> None:
    """Closing never blocks: the window closes for good once its threads have ended."""
    closed = []
    window.closed.connect(lambda: closed.append(True))
    window.close()
    wait(app, lambda: closed)


def shoot_train_points(app, window, out: Path) -> None:
    """View ▸ Cloud: training images too, on a 70k set: the real MNIST test set
    (../shared/data/mnist-t10k; skipped where it is absent) and 60,000 one-pixel shifts of it
    as the training split (benchmarks/bench_points.py), trained 2 epochs by `vae-gui train`."""
    import subprocess

    sys.path.insert(0, str(DOCS.parent))
    from benchmarks.bench_points import T10K, data_70k, save_npz

    if not (T10K / "t10k-images-idx3-ubyte.gz").is_file():
        print(f"skipped tool-train-points.png: {T10K} is not here")
        return
    data, _ = data_70k()
    with tempfile.TemporaryDirectory() as tmp:
        npz = Path(tmp) / "mnist-70k.npz"
        save_npz(data, npz)
        trained = subprocess.run([sys.executable, "-m", "vae_gui", "train", "--dataset",
                                  str(npz), "--epochs", "2", "--out", str(Path(tmp) / "run")],
                                 capture_output=True, text=True)
        if trained.returncode:
            raise SystemExit(f"vae-gui train failed for tool-train-points.png:\n"
                             f"{trained.stderr[-2000:]}")
        window.files.open_checkpoint(str(Path(tmp) / "run" / "checkpoint.safetensors"),
                                     ask=False)
        wait(app, lambda: window.snapshot is not None and len(window.snapshot.labels) == 10000,
             seconds=120)
        window.train_points_action.trigger()
        wait(app, lambda: window.columns["right"].latent_plot.point_count() == 70000,
             seconds=120)
        window.statusBar().showMessage("")
        shoot(app, window, out, "tool-train-points.png")


if __name__ == "__main__":
    sys.exit(main())
