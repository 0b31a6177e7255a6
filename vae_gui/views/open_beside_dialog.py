"""File ▸ Open beside: two checkpoints, and which of each one's two models to show."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6 import QtWidgets

RIGHT = 1  # each checkpoint's right-column model (the VAE of an AE | VAE checkpoint) first


class OpenBesideDialog(QtWidgets.QDialog):
    """A row for A (the left column) and one for B (the right): a checkpoint and one of its
    models, read from the file's metadata alone (no weights are loaded until OK)."""

    def __init__(self, last_folder: Callable[[], str],
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Open beside")
        self.last_folder = last_folder
        self.paths: list[Path | None] = [None, None]
        self.path_labels: list[QtWidgets.QLabel] = []
        self.models: list[QtWidgets.QComboBox] = []
        self.choose_buttons: list[QtWidgets.QPushButton] = []
        form = QtWidgets.QFormLayout(self)
        intro = QtWidgets.QLabel(
            "One model of each checkpoint, side by side with the cursor linked: A's in the "
            "left column, B's in the right, encoding A's dataset. Their evaluate figures are "
            "measured next to each other in the background.")
        intro.setWordWrap(True)
        form.addRow(intro)
        for k, letter in enumerate("AB"):
            label = QtWidgets.QLabel("no checkpoint chosen")
            label.setMinimumWidth(260)
            choose = QtWidgets.QPushButton("Choose\u2026")
            choose.clicked.connect(lambda _=False, k=k: self._on_choose(k))
            models = QtWidgets.QComboBox()
            models.setEnabled(False)
            row = QtWidgets.QHBoxLayout()
            row.addWidget(label, 1)
            row.addWidget(choose)
            form.addRow(f"{letter} ({'left' if k == 0 else 'right'})", row)
            form.addRow(f"{letter}'s model", models)
            self.path_labels.append(label)
            self.models.append(models)
            self.choose_buttons.append(choose)
        self.buttons = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.StandardButton.Ok
            | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)
        self.resize(560, self.sizeHint().height())
        self._update_ok()

    def set_checkpoint(self, k: int, path: str | Path) -> None:
        """Shows checkpoint `k` (0: A, 1: B) and lists its models; a file vae-gui cannot
        open says why in the row, and OK stays off."""
        from vae_gui.model.beside import model_names
        from vae_gui.model.checkpoint import read_metadata
        from vae_gui.model.config import TrainConfig
        from vae_gui.model.errors import VaeGuiError

        path = Path(path)
        models = self.models[k]
        models.clear()
        try:
            names = model_names(TrainConfig.from_dict(read_metadata(path)["training"]))
        except (VaeGuiError, OSError, ValueError, KeyError, TypeError) as exc:
            self.paths[k] = None
            self.path_labels[k].setText(f"{path.name}: not a checkpoint vae-gui can open "
                                        f"({exc})")
            models.setEnabled(False)
        else:
            self.paths[k] = path
            # Run folders all hold a checkpoint.safetensors: the folder tells them apart.
            self.path_labels[k].setText(f"{path.parent.name}/{path.name}")
            self.path_labels[k].setToolTip(str(path))
            for slot, name in enumerate(names):
                models.addItem(f"{name} ({'left' if slot == 0 else 'right'} column)", slot)
            models.setCurrentIndex(RIGHT)
            models.setEnabled(True)
        self._update_ok()

    def choice(self) -> tuple[Path, Path, tuple[int, int]]:
        """The two checkpoints and which model of each."""
        return (self.paths[0], self.paths[1],
                (self.models[0].currentData(), self.models[1].currentData()))

    def _update_ok(self) -> None:
        ok = self.buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(all(p is not None for p in self.paths))

    def _on_choose(self, k: int) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, f"Open beside: checkpoint {'AB'[k]}", self.last_folder(),
            "vae-gui checkpoints (*.safetensors);;All files (*)")
        if path:
            self.set_checkpoint(k, path)
