"""Tools ▸ β sweep: one VAE per β trained in the background with the panel's settings, then
their clouds as small multiples beside the rate-distortion curve, in a window of its own."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtGui, QtWidgets

from vae_gui.controllers.actions import make_action
from vae_gui.views.pil_pixmap import pixmap_of
from vae_gui.views.settings_panel import SettingsPanel
from vae_gui.workers.background import BackgroundRunner, check_cancelled

if TYPE_CHECKING:
    from PIL import Image

    from vae_gui.model.sweep import SweepResult
    from vae_gui.workers.training_session import TrainingSpec

DEFAULT_BETAS = "0.5 1 2 4 8"
DEFAULT_EPOCHS = 10


def parse_betas(text: str) -> list[float]:
    """'0.5 1, 2' as [0.5, 1.0, 2.0]; ValueError with a sentence for anything else."""
    parts = text.replace(",", " ").split()
    try:
        return [float(p) for p in parts]
    except ValueError:
        raise ValueError(f"the values of \u03b2 must be numbers separated by spaces, not "
                         f"{text!r}") from None


class SweepDialog(QtWidgets.QDialog):
    """The values of β and the epochs; everything else comes from the settings panel."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("\u03b2 sweep")
        self.betas = QtWidgets.QLineEdit(DEFAULT_BETAS)
        self.epochs = QtWidgets.QSpinBox()
        self.epochs.setRange(1, 1000)
        self.epochs.setValue(DEFAULT_EPOCHS)
        note = QtWidgets.QLabel(
            "Trains one VAE per value of \u03b2, from the same start on the same batches, "
            "with the dataset, latent dimension, hidden sizes, learning rate, batch size and "
            "loss of the Settings panel. Then shows each one's test means beside the "
            "rate-distortion curve.")
        note.setWordWrap(True)
        form = QtWidgets.QFormLayout(self)
        form.addRow(note)
        form.addRow("\u03b2 values", self.betas)
        form.addRow("Epochs", self.epochs)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Ok
                                             | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Ok).setText("Train")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)


class SweepWindow(QtWidgets.QDialog):
    """The sweep's picture and figures, with a button that saves them."""

    def __init__(self, result: SweepResult, picture: Image.Image, spec: TrainingSpec,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"\u03b2 sweep: {result.dataset}")
        self.result, self.spec, self.picture = result, spec, picture
        self.image = QtWidgets.QLabel()
        self.image.setPixmap(pixmap_of(picture))
        scroll = QtWidgets.QScrollArea()
        scroll.setWidget(self.image)
        rows = "".join(
            f"<tr><td>{b:g}</td><td>{r:.2f}</td><td>{d:.2f}</td><td>{r + d:.2f}</td></tr>"
            for b, r, d in zip(result.betas, result.rate, result.distortion, strict=True))
        self.table = QtWidgets.QLabel(
            "<table cellspacing=6><tr><th>\u03b2</th><th>rate (KL)</th><th>distortion</th>"
            f"<th>-ELBO = D + R</th></tr>{rows}</table>"
            f"<p>Nats per image on the test split, after {len(result.history[0])} epochs "
            f"({result.seconds:.0f} s).</p>")
        self.table.setTextFormat(QtCore.Qt.TextFormat.RichText)
        save = QtWidgets.QPushButton("Save picture and figures\u2026")
        save.clicked.connect(self._on_save)
        close = QtWidgets.QPushButton("Close")
        close.clicked.connect(self.close)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(save)
        buttons.addWidget(close)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        screen = (parent.screen() if parent is not None else
                  QtGui.QGuiApplication.primaryScreen()).availableGeometry()
        self.resize(min(picture.width + 40, screen.width() - 40),
                    min(picture.height + 200, screen.height() - 60))

    def save(self, folder: str | Path) -> list[Path]:
        """Writes sweep.png and sweep.json into `folder` (made if missing)."""
        from vae_gui.model.sweep_cli import sweep_files, write_files

        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        picture, figures = sweep_files(self.result, self.spec.model_config,
                                       self.spec.train_config, self.spec.dataset)
        written: list[Path] = []
        write_files(out, picture, figures, written)
        return written

    def _on_save(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Save the sweep into")
        if not folder:
            return
        try:
            written = self.save(folder)
        except OSError as exc:
            QtWidgets.QMessageBox.warning(self, "Could not save the sweep",
                                          f"{folder} could not be written: {exc}")
            return
        QtWidgets.QMessageBox.information(self, "Saved", "Saved " + " and ".join(
            str(p) for p in written))


class BetaSweep(QtCore.QObject):
    """Runs a sweep with the settings panel's choices and shows what β did."""

    message = QtCore.Signal(str, int)
    error = QtCore.Signal(str, str)
    shown = QtCore.Signal(object)  # the SweepWindow

    def __init__(self, settings_panel: SettingsPanel, window: QtWidgets.QWidget) -> None:
        super().__init__(window)
        self.settings_panel = settings_panel
        self.window = window
        self.runner = BackgroundRunner(self)
        self.progress: QtWidgets.QProgressDialog | None = None
        self.result_window: SweepWindow | None = None
        self._done = [0, 1]  # steps done and in all, written by the job's thread
        self._poll = QtCore.QTimer(self)
        self._poll.setInterval(100)
        self._poll.timeout.connect(self._show_progress)
        self.action = make_action(self, "\u03b2 &sweep\u2026", self._on_sweep, None,
                                  "Train one VAE per \u03b2 on the same batches and compare "
                                  "their clouds and their rate and distortion")

    def run(self, betas: list[float], epochs: int) -> None:
        """Trains the sweep in the background; `shown` follows with its window, or `error`."""
        from vae_gui.model.sweep import check_betas  # torch is loaded once models are shown

        try:
            spec = self.settings_panel.spec()
            train_config = dataclasses.replace(spec.train_config, epochs=epochs)
            check_betas(betas, train_config)
        except ValueError as exc:
            text = str(exc)
            self.error.emit("Cannot sweep", text if text.endswith(".") else f"{text}.")
            return
        spec = dataclasses.replace(spec, train_config=train_config)
        self._done[:] = [0, 1]

        def job():
            from vae_gui.model.data import load_dataset
            from vae_gui.model.sweep import sweep
            from vae_gui.model.sweep_picture import sweep_picture

            data = load_dataset(spec.dataset, spec.data_root, spec.model_config.image_shape[0],
                                check=check_cancelled)
            config = dataclasses.replace(spec.model_config, image_shape=data.image_shape)

            def progress(done: int, total: int) -> None:
                self._done[:] = [done, total]

            result = sweep(data, config, train_config, betas, progress, check_cancelled)
            return result, sweep_picture(result)

        self.progress = QtWidgets.QProgressDialog(
            f"Training {len(betas)} VAEs for {epochs} epochs\u2026", "Cancel", 0, 1000,
            self.window)
        self.progress.setWindowTitle("\u03b2 sweep")
        self.progress.setWindowModality(QtCore.Qt.WindowModality.WindowModal)
        self.progress.setMinimumDuration(0)
        self.progress.setValue(0)
        key = self.runner.run(job, lambda done: self._on_done(done, spec), self._on_failed,
                              self._on_cancelled)
        self.progress.canceled.connect(lambda: self.runner.cancel(key))
        self._poll.start()
        self.action.setEnabled(False)

    def shutdown(self) -> bool:
        self._end()
        return self.runner.shutdown()

    def _show_progress(self) -> None:
        if self.progress is not None:
            done, total = self._done
            self.progress.setValue(round(1000 * done / max(total, 1)))

    def _end(self) -> None:
        self._poll.stop()
        self.action.setEnabled(True)
        if self.progress is not None:
            self.progress.reset()
            self.progress.deleteLater()
            self.progress = None

    def _on_done(self, done, spec: TrainingSpec) -> None:
        self._end()
        result, picture = done
        self.result_window = SweepWindow(result, picture, spec, self.window)
        self.result_window.show()
        self.message.emit(f"\u03b2 sweep done: {len(result.betas)} VAEs in "
                          f"{result.seconds:.0f} s", 5000)
        self.shown.emit(self.result_window)

    def _on_failed(self, message: str) -> None:
        self._end()
        self.error.emit("The \u03b2 sweep stopped", message)

    def _on_cancelled(self) -> None:
        self._end()
        self.message.emit("\u03b2 sweep cancelled", 5000)

    def _on_sweep(self) -> None:
        dialog = SweepDialog(self.window)
        while dialog.exec():
            try:
                betas = parse_betas(dialog.betas.text())
            except ValueError as exc:
                QtWidgets.QMessageBox.warning(self.window, "\u03b2 sweep",
                                              f"{str(exc)[:1].upper()}{str(exc)[1:]}.")
                continue
            self.run(betas, dialog.epochs.value())
            return
