"""File ▸ Compare two checkpoints: both measured as `vae-gui evaluate` measures one, in the
background, then their clouds (at one scale) and their figures side by side in a window."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtGui, QtWidgets

from vae_gui.controllers.actions import make_action
from vae_gui.views.pil_pixmap import pixmap_of
from vae_gui.workers.background import BackgroundRunner, check_cancelled

if TYPE_CHECKING:
    from PIL import Image

PICTURE_SIZE = (640, 330)  # each checkpoint's two clouds, left and right


@dataclass(frozen=True)
class Comparison:
    """Two checkpoints' evaluate reports and their clouds, drawn at one scale where their
    columns hold models of the same kinds; `columns` says which columns the rows compare."""

    paths: tuple[Path, Path]
    reports: tuple[dict, dict]
    pictures: tuple[Image.Image, Image.Image]
    columns: tuple[tuple[str, str], ...] = (("left", "left"), ("right", "right"))


def measure(paths: tuple[Path, Path], max_images: int, progress: Callable[[str], None],
            columns: tuple[tuple[str, str], ...] = (("left", "left"), ("right", "right")),
            ) -> Comparison:
    """Runs in a background thread: both evaluations, then both pictures."""
    from vae_gui.model.checkpoint import load_checkpoint
    from vae_gui.model.compare import evaluate_args
    from vae_gui.model.data import load_dataset
    from vae_gui.model.errors import VaeGuiError
    from vae_gui.model.evaluate import evaluate
    from vae_gui.model.movie import caption_of, plot_frames, render_frame
    from vae_gui.model.movie_settings import MovieSettings
    from vae_gui.model.training import snapshot_of

    checkpoints = [load_checkpoint(p) for p in paths]
    shapes = [tuple(c.model_config.image_shape) for c in checkpoints]
    if shapes[0] != shapes[1]:
        raise VaeGuiError(f"The two checkpoints' images differ ({shapes[0][0]}x{shapes[0][1]} "
                          f"and {shapes[1][0]}x{shapes[1][1]}); compare models of one image "
                          "size.")
    reports, snapshots = [], []
    for name, path, ckpt in zip("AB", paths, checkpoints, strict=True):
        check_cancelled()
        reports.append(evaluate(evaluate_args(str(path), max_images),
                                progress=lambda t, n=name: progress(f"{n}: {t}"),
                                check=check_cancelled))
        data = load_dataset(ckpt.dataset, None, ckpt.model_config.image_shape[0])
        snapshots.append(snapshot_of(ckpt.models, data, ckpt.history, ckpt.step,
                                     epoch=ckpt.epoch, train_config=ckpt.train_config))
    settings = MovieSettings(width=PICTURE_SIZE[0], height=PICTURE_SIZE[1])
    # One scale for both checkpoints, where a column holds one kind of model in both: an AE's
    # codes may spread ten times as far as a VAE's means, which would shrink it to a dot.
    if snapshots[0].kinds == snapshots[1].kinds:
        frames = [plot_frames(snapshots, settings.models)] * 2
    else:
        frames = [plot_frames([s], settings.models) for s in snapshots]
    pictures = tuple(render_frame(s, f, settings, c.class_names,
                                  f"{n}: {caption_of(s, c.dataset)}")
                     for n, s, f, c in zip("AB", snapshots, frames, checkpoints, strict=True))
    return Comparison(paths, (reports[0], reports[1]), pictures, columns)


class CompareWindow(QtWidgets.QDialog):
    """A's and B's clouds side by side, and their figures with the better one marked."""

    def __init__(self, comparison: Comparison, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        from vae_gui.model.compare import compare_rows

        a, b = comparison.paths
        self.setWindowTitle(f"Compare: A {a.name} and B {b.name}")
        self.comparison = comparison
        pictures = QtWidgets.QHBoxLayout()
        self.pictures = []
        for name, path, picture in zip("AB", comparison.paths, comparison.pictures,
                                       strict=True):
            label = QtWidgets.QLabel()
            label.setPixmap(pixmap_of(picture))
            label.setToolTip(f"{name}: {path}")
            self.pictures.append(label)
            pictures.addWidget(label)
        # Column by column: A's left model with B's left, A's right with B's right.
        self.rows = compare_rows(*comparison.reports, comparison.columns)
        cells = "".join(
            f"<tr><td>{html.escape(label)}</td><td align=right>{va}</td>"
            f"<td align=right>{vb}</td><td align=center><b>{better}</b></td></tr>"
            for label, va, vb, better in self.rows)
        n = comparison.reports[0]["sets"]["test"]["images"]
        models = "<br>".join(f"{name}: {html.escape(str(path))} ({html.escape(_pair(r))})"
                             for name, path, r in zip("AB", comparison.paths,
                                                      comparison.reports, strict=True))
        self.table = QtWidgets.QLabel(
            f"<p>{models}</p><table cellspacing=6><tr><th align=left>test split, "
            f"{n:,} images</th><th>A</th><th>B</th><th>better</th></tr>{cells}</table>")
        self.table.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.table.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop
                                | QtCore.Qt.AlignmentFlag.AlignLeft)
        self.table.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        scroll = QtWidgets.QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.table)
        close = QtWidgets.QPushButton("Close")
        close.clicked.connect(self.close)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(pictures)
        layout.addWidget(scroll, 1)
        layout.addWidget(close, 0, QtCore.Qt.AlignmentFlag.AlignRight)
        screen = (parent.screen() if parent is not None else
                  QtGui.QGuiApplication.primaryScreen()).availableGeometry()
        self.resize(min(2 * PICTURE_SIZE[0] + 40, screen.width() - 40),
                    min(PICTURE_SIZE[1] + 480, screen.height() - 60))


def _pair(report: dict) -> str:
    """A checkpoint's two models, left first: "AE | VAE"."""
    return " | ".join(m["name"] for m in report["models"])


class CompareCheckpoints(QtCore.QObject):
    """Measures two checkpoints in the background and shows them side by side."""

    message = QtCore.Signal(str, int)
    error = QtCore.Signal(str, str)
    shown = QtCore.Signal(object)  # the CompareWindow

    def __init__(self, last_folder: Callable[[], str], window: QtWidgets.QWidget) -> None:
        super().__init__(window)
        self.window = window
        self.last_folder = last_folder
        self.runner = BackgroundRunner(self)
        self.result_window: CompareWindow | None = None
        self._progress = [""]  # the latest stage, written by the job's thread
        self._poll = QtCore.QTimer(self)
        self._poll.setInterval(200)
        self._poll.timeout.connect(lambda: self.message.emit(
            f"Comparing: {self._progress[0]}\u2026", 0))
        self.action = make_action(self, "&Compare two checkpoints\u2026", self._on_compare,
                                  None, "Measure two checkpoints as 'vae-gui evaluate' does "
                                  "and show their clouds and figures side by side")

    def compare(self, a: str | Path, b: str | Path, max_images: int | None = None,
                columns: tuple[tuple[str, str], ...] | None = None) -> None:
        """Measures both in the background; `shown` follows with the window, or `error`.
        `columns`: which column of A the rows compare with which of B (by default each with
        the same column; Open beside asks for the two models it shows)."""
        from vae_gui.model.compare import DEFAULT_MAX_IMAGES

        paths = (Path(a), Path(b))
        n = max_images or DEFAULT_MAX_IMAGES
        self._progress[0] = "loading"

        def progress(text: str) -> None:
            check_cancelled()
            self._progress[0] = text

        pairs = columns or (("left", "left"), ("right", "right"))
        self.runner.run(lambda: measure(paths, n, progress, pairs), self._on_done,
                        self._on_failed, self._on_cancelled)
        self.action.setEnabled(False)
        self._poll.start()

    def shutdown(self) -> bool:
        self._end()
        return self.runner.shutdown()

    def _end(self) -> None:
        self._poll.stop()
        self.action.setEnabled(True)

    def _on_done(self, comparison: Comparison) -> None:
        self._end()
        self.result_window = CompareWindow(comparison, self.window)
        self.result_window.show()
        self.message.emit("Compared the two checkpoints", 5000)
        self.shown.emit(self.result_window)

    def _on_failed(self, message: str) -> None:
        self._end()
        self.message.emit("", 1)
        self.error.emit("Could not compare the checkpoints", message)

    def _on_cancelled(self) -> None:
        self._end()

    def _on_compare(self) -> None:
        paths, _ = QtWidgets.QFileDialog.getOpenFileNames(
            self.window, "Compare two checkpoints (choose two)", self.last_folder(),
            "vae-gui checkpoints (*.safetensors);;All files (*)")
        if not paths:
            return
        if len(paths) != 2:
            self.error.emit("Compare two checkpoints",
                            f"Choose exactly two checkpoints, not {len(paths)}.")
            return
        self.compare(*paths)
