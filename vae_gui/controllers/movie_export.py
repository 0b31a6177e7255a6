"""File ▸ Export run as movie: the timeline's moments drawn as a GIF (or MP4/WebM) in the
background, with a progress bar that can cancel."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from vae_gui.controllers.actions import make_action
from vae_gui.controllers.timeline import TimelineController
from vae_gui.explorer_state import ExplorerState
from vae_gui.model.movie_settings import MAX_FPS, MAX_SIZE, MIN_SIZE, MODELS, MovieSettings
from vae_gui.model.pair import distinct_labels
from vae_gui.workers.background import BackgroundRunner, check_cancelled

# Which clouds: both columns, or one ("{left}" and "{right}" are the columns' names).
CHOICES = (("{left} and {right} side by side", MODELS), ("{left} only", ("left",)),
           ("{right} only", ("right",)))
FILTERS = "Animated GIF (*.gif);;MP4 video, needs ffmpeg (*.mp4);;WebM video, needs ffmpeg (*.webm)"


class MovieDialog(QtWidgets.QDialog):
    """Which clouds, the frame size and the frame rate."""

    def __init__(self, moments: int, parent: QtWidgets.QWidget | None = None,
                 names: tuple[str, str] = ("AE", "VAE")) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export run as movie")
        defaults = MovieSettings()
        self.models = QtWidgets.QComboBox()
        left, right = distinct_labels(names)
        self.models.addItems([label.format(left=left, right=right) for label, _ in CHOICES])
        self.width_box = self._spin(MIN_SIZE[0], MAX_SIZE[0], defaults.width)
        self.height_box = self._spin(MIN_SIZE[1], MAX_SIZE[1], defaults.height)
        self.fps = QtWidgets.QDoubleSpinBox()
        self.fps.setRange(0.5, MAX_FPS)
        self.fps.setDecimals(1)
        self.fps.setValue(defaults.fps)
        size = QtWidgets.QHBoxLayout()
        size.addWidget(self.width_box)
        size.addWidget(QtWidgets.QLabel("\u00d7"))
        size.addWidget(self.height_box)
        size.addWidget(QtWidgets.QLabel("pixels"))
        form = QtWidgets.QFormLayout(self)
        form.addRow(QtWidgets.QLabel(f"One frame for each of the run's {moments} kept "
                                     "moments."))
        form.addRow("Show", self.models)
        form.addRow("Frame size", size)
        form.addRow("Frames a second", self.fps)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Ok
                                             | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    @staticmethod
    def _spin(low: int, high: int, value: int) -> QtWidgets.QSpinBox:
        box = QtWidgets.QSpinBox()
        box.setRange(low, high)
        box.setValue(value)
        return box

    def settings(self) -> MovieSettings:
        return MovieSettings(CHOICES[self.models.currentIndex()][1], self.width_box.value(),
                             self.height_box.value(), self.fps.value())


class MovieExport(QtCore.QObject):
    """Draws the kept moments of the run on screen into a movie file."""

    message = QtCore.Signal(str, int)
    error = QtCore.Signal(str, str)
    saved = QtCore.Signal(object)  # the Path written

    def __init__(self, state: ExplorerState, timeline: TimelineController,
                 last_folder: Callable[[], str], window: QtWidgets.QWidget) -> None:
        super().__init__(window)
        self.state = state
        self.timeline = timeline
        self.window = window
        self.last_folder = last_folder
        self.runner = BackgroundRunner(self)
        self.progress: QtWidgets.QProgressDialog | None = None
        self._done = [0]  # frames drawn so far, written by the job's thread
        self._poll = QtCore.QTimer(self)
        self._poll.setInterval(100)
        self._poll.timeout.connect(self._show_progress)
        self.action = make_action(self, "Export run as &movie\u2026", self._on_export, None,
                                  "Save the run's kept moments as an animated GIF (or MP4 "
                                  "or WebM with ffmpeg)")
        timeline.changed.connect(self._update_action)
        self._update_action()

    def _update_action(self) -> None:
        n = len(self.timeline.timeline)
        self.action.setEnabled(n >= 2 and not self.runner.busy)
        self.action.setStatusTip("" if n >= 2 else "Train first: a movie shows the moments "
                                 "the timeline keeps of a run")

    def export(self, path: str | Path, settings: MovieSettings) -> None:
        """Writes the movie in the background; `saved` or `error` follows."""
        from vae_gui.model.movie import save_movie

        moments = list(self.timeline.timeline)  # immutable snapshots: safe on any thread
        names, dataset = self.state.class_names, self.state.origin.dataset
        self._done[0] = 0

        def job() -> Path:
            def on_frame(done: int, _total: int) -> None:
                check_cancelled()
                self._done[0] = done

            return save_movie(moments, path, settings, names, dataset, on_frame=on_frame)

        self.progress = QtWidgets.QProgressDialog("Drawing the movie\u2026", "Cancel", 0,
                                                  len(moments), self.window)
        self.progress.setWindowTitle("Export run as movie")
        self.progress.setWindowModality(QtCore.Qt.WindowModality.WindowModal)
        self.progress.setMinimumDuration(300)
        self.progress.setValue(0)
        key = self.runner.run(job, self._on_saved, self._on_failed, self._on_cancelled)
        self.progress.canceled.connect(lambda: self.runner.cancel(key))
        self._poll.start()
        self._update_action()

    def shutdown(self) -> bool:
        self._end()
        return self.runner.shutdown()

    def _show_progress(self) -> None:
        if self.progress is not None:
            self.progress.setValue(self._done[0])

    def _end(self) -> None:
        self._poll.stop()
        if self.progress is not None:
            self.progress.reset()
            self.progress.deleteLater()
            self.progress = None

    def _on_saved(self, path: Path) -> None:
        self._end()
        self._update_action()
        self.message.emit(f"Saved the movie {path}", 5000)
        self.saved.emit(path)

    def _on_failed(self, message: str) -> None:
        self._end()
        self._update_action()
        self.error.emit("Could not save the movie", f"{message}\n\nNothing was written.")

    def _on_cancelled(self) -> None:
        self._end()
        self._update_action()
        self.message.emit("Movie export cancelled; nothing was written", 5000)

    def _on_export(self) -> None:
        dialog = MovieDialog(len(self.timeline.timeline), self.window,
                             (self.state.name("left"), self.state.name("right")))
        if not dialog.exec():
            return
        path, chosen = QtWidgets.QFileDialog.getSaveFileName(
            self.window, "Export run as movie", str(Path(self.last_folder()) / "run.gif"),
            FILTERS)
        if path:
            if not path.lower().endswith((".gif", ".mp4", ".webm")):
                path += ".mp4" if "mp4" in chosen else ".webm" if "webm" in chosen else ".gif"
            self.export(path, dialog.settings())
