"""Renders the README's screenshots: the window, and one per exploration tool.

Run from the repository root (no display needed):

    QT_QPA_PLATFORM=offscreen python docs/make_screenshots.py

It opens the window on the pretrained models, drives each tool as a user would, and saves
docs/screenshot.png and docs/tool-*.png. The latent-8 shots train a small model first
(about 20 s).
"""

from __future__ import annotations

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


def shoot(app, window, name: str) -> None:
    for _ in range(5):
        app.processEvents()
    window.grab().save(str(DOCS / name), "PNG")
    print(f"wrote docs/{name}")


def main() -> int:
    import pyqtgraph as pg

    pg.setConfigOptions(antialias=False, foreground="k")
    app = QtWidgets.QApplication(sys.argv[:1])
    from vae_gui.main_window import MainWindow

    settings = QtCore.QSettings(str(Path(tempfile.mkdtemp()) / "s.ini"),
                                QtCore.QSettings.Format.IniFormat)
    window = MainWindow(settings)
    window.show()
    window.load_initial()
    wait(app, lambda: window.snapshot is not None)
    vae_plot = window.columns["vae"].latent_plot
    vae_plot.set_cursor(0.8, -1.1, notify=True)
    shoot(app, window, "screenshot.png")

    window.sample_action.trigger()
    shoot(app, window, "tool-prior-samples.png")

    window.manifold_action.trigger()
    window.tools.show_tab(window.tools.manifold)
    shoot(app, window, "tool-manifold.png")
    window.manifold_action.trigger()

    window.inspect_point(17)
    shoot(app, window, "tool-inspect.png")

    tab = window.tools.interpolate
    window.tools.show_tab(tab)
    vae_plot.set_cursor(-1.6, -0.9, notify=True)
    tab.pin(0, window.cursor_z())
    vae_plot.set_cursor(1.4, 1.2, notify=True)
    tab.pin(1, window.cursor_z())
    shoot(app, window, "tool-interpolate.png")

    draw = window.tools.draw
    window.tools.show_tab(draw)
    draw.canvas.stroke([(9, 7), (18, 7), (18, 12), (11, 21)])  # a 7
    shoot(app, window, "tool-draw.png")
    draw.canvas.clear()

    window.sampled_action.trigger()
    shoot(app, window, "tool-sampled-cloud.png")
    window.sampled_action.trigger()

    window.fade_action.trigger()
    shoot(app, window, "tool-fade-uncertain.png")
    window.fade_action.trigger()

    pretrained = window.snapshot
    window.train_action.trigger()
    wait(app, lambda: window.snapshot is not pretrained and window.snapshot.epoch >= 3)
    shoot(app, window, "tool-training.png")
    window.stop_action.trigger()
    window.session.wait(5000)

    window.settings_panel.latent_dim.setValue(8)
    window.settings_panel.epochs.setValue(15)
    window.train_action.trigger()  # a stopped run continues; start fresh with the new shape
    window.session.wait(1000)
    window.reset_action.trigger()
    window.train_action.trigger()
    wait(app, lambda: window.snapshot.ae_codes.shape[1] == 8 and not window.session.running,
         seconds=300)
    shoot(app, window, "tool-latent8-pca.png")

    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
