"""The settings panel: dataset, network shape and training hyper-parameters."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from vae_gui.model.config import RECONSTRUCTION_LOSSES, ModelConfig, TrainConfig
from vae_gui.workers.training_session import TrainingSpec

DATASETS = ("mnist5k", "mnist", "fashion-mnist", "kmnist")


class SettingsPanel(QtWidgets.QWidget):
    """Edits a TrainingSpec; changes take effect on Reset or the next Train from scratch."""

    changed = QtCore.Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        m, t = ModelConfig(), TrainConfig(epochs=30)
        self.dataset = QtWidgets.QComboBox()
        self.dataset.setEditable(True)
        self.dataset.addItems(DATASETS)
        self.dataset.setToolTip("mnist5k ships with vae-gui; the others download once into the "
                                "data folder. You may also type a .npz file or a folder path.")
        browse = QtWidgets.QToolButton(text="\u2026")
        browse.setToolTip("Choose a folder of images (one sub-folder per class) or an .npz file "
                          "with 'images' and 'labels'.")
        browse.clicked.connect(self._on_browse)
        dataset_row = QtWidgets.QHBoxLayout()
        dataset_row.setContentsMargins(0, 0, 0, 0)
        dataset_row.addWidget(self.dataset, 1)
        dataset_row.addWidget(browse)
        self.image_size = QtWidgets.QSpinBox(minimum=4, maximum=128, value=28)
        self.image_size.setToolTip("Folder images are converted to grayscale and resized to "
                                   "this many pixels a side; the decoder's output follows.")
        self.latent_dim = QtWidgets.QSpinBox(minimum=1, maximum=64, value=m.latent_dim)
        self.hidden = QtWidgets.QLineEdit(" ".join(str(h) for h in m.hidden))
        self.hidden.setToolTip("Hidden layer sizes of the encoder, e.g. '400' or '512 256'; "
                               "the decoder mirrors them.")
        self.beta = QtWidgets.QDoubleSpinBox(minimum=0.0, maximum=100.0, value=t.beta,
                                             singleStep=0.1, decimals=2)
        self.beta.setToolTip("Weight of the KL term; 1 gives the ELBO, 0 makes the VAE an AE "
                             "with noise.")
        self.lr = QtWidgets.QDoubleSpinBox(minimum=1e-5, maximum=10.0, value=t.lr,
                                           singleStep=1e-4, decimals=5)
        self.batch_size = QtWidgets.QSpinBox(minimum=1, maximum=8192, value=t.batch_size)
        self.epochs = QtWidgets.QSpinBox(minimum=1, maximum=100000, value=t.epochs)
        self.loss = QtWidgets.QComboBox()
        self.loss.addItems(RECONSTRUCTION_LOSSES)
        self.seed = QtWidgets.QSpinBox(minimum=0, maximum=2**31 - 1, value=t.seed)

        form = QtWidgets.QFormLayout(self)
        form.addRow("Dataset", dataset_row)
        form.addRow("Image size (folders)", self.image_size)
        form.addRow("Latent dimension", self.latent_dim)
        form.addRow("Hidden sizes", self.hidden)
        form.addRow("\u03b2 (KL weight)", self.beta)
        form.addRow("Learning rate", self.lr)
        form.addRow("Batch size", self.batch_size)
        form.addRow("Epochs", self.epochs)
        form.addRow("Reconstruction", self.loss)
        form.addRow("Seed", self.seed)
        note = QtWidgets.QLabel("Changes apply on <b>Reset</b> or the next <b>Train</b> from "
                                "scratch.")
        note.setWordWrap(True)
        note.setStyleSheet("color:#555")
        form.addRow(note)
        for w in (self.latent_dim, self.beta, self.lr, self.batch_size, self.epochs, self.seed):
            w.valueChanged.connect(self.changed)
        self.hidden.textChanged.connect(self.changed)
        self.dataset.currentTextChanged.connect(self.changed)
        self.loss.currentTextChanged.connect(self.changed)

    def spec(self, data_root: str | None = None) -> TrainingSpec:
        """The current settings; raises ValueError with a readable message when invalid."""
        try:
            hidden = tuple(int(h) for h in self.hidden.text().replace(",", " ").split())
        except ValueError:
            raise ValueError("Hidden sizes must be whole numbers separated by spaces, "
                             f"not {self.hidden.text()!r}.") from None
        if not hidden:
            raise ValueError("Give at least one hidden layer size, e.g. '256 128'.")
        size = self.image_size.value()
        model_config = ModelConfig(image_shape=(size, size), hidden=hidden,
                                   latent_dim=self.latent_dim.value())
        train_config = TrainConfig(epochs=self.epochs.value(), batch_size=self.batch_size.value(),
                                   lr=self.lr.value(), beta=self.beta.value(),
                                   loss=self.loss.currentText(), seed=self.seed.value())
        return TrainingSpec(self.dataset.currentText().strip() or "mnist5k", data_root,
                            model_config, train_config)

    def _on_browse(self) -> None:
        box = QtWidgets.QMessageBox(self)
        box.setWindowTitle("Your own data")
        box.setText("Train on a folder of images (one sub-folder per class) or on an .npz file "
                    "holding 'images' (N, H, W) and 'labels' (N,)?")
        folder = box.addButton("Folder\u2026", QtWidgets.QMessageBox.ButtonRole.AcceptRole)
        npz = box.addButton(".npz file\u2026", QtWidgets.QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QtWidgets.QMessageBox.StandardButton.Cancel)
        box.exec()
        if box.clickedButton() is folder:
            path = QtWidgets.QFileDialog.getExistingDirectory(self, "Folder of class folders")
        elif box.clickedButton() is npz:
            path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Dataset file", "",
                                                            "NumPy archives (*.npz)")
        else:
            return
        if path:
            self.dataset.setCurrentText(path)

    def show_configs(self, dataset: str, model_config: ModelConfig,
                     train_config: TrainConfig) -> None:
        """Shows the settings that produced the models on screen (after a load)."""
        blockers = [QtCore.QSignalBlocker(w) for w in self.findChildren(QtWidgets.QWidget)]
        self.dataset.setCurrentText(dataset)
        self.latent_dim.setValue(model_config.latent_dim)
        self.image_size.setValue(model_config.image_shape[0])
        self.hidden.setText(" ".join(str(h) for h in model_config.hidden))
        self.beta.setValue(train_config.beta)
        self.lr.setValue(train_config.lr)
        self.batch_size.setValue(train_config.batch_size)
        self.loss.setCurrentText(train_config.loss)
        self.seed.setValue(train_config.seed)
        del blockers
