"""The settings panel: dataset, network shape and training hyper-parameters."""

from __future__ import annotations

import math
import re

from PySide6 import QtCore, QtGui, QtWidgets

from vae_gui.model.config import (
    ARCHITECTURES,
    BOUNDS,
    MAX_CONV_CHANNELS,
    MSE_VARIANCE,
    PRECISIONS,
    RECONSTRUCTION_LOSSES,
    ModelConfig,
    TrainConfig,
)
from vae_gui.model.data import BUILTIN_DATASETS
from vae_gui.model.pair import ModelSpec, parse_pair
from vae_gui.model.precision import describe_auto
from vae_gui.workers.training_session import TrainingSpec

# What the reconstruction choices are called on screen; the configuration keeps the key.
LOSS_NAMES = {"bce": "BCE (Bernoulli)", "mse": "MSE (Gaussian, \u03c3\u00b2 = 1/2)"}
ARCHITECTURE_NAMES = {"mlp": "MLP", "conv": "Convolutional"}
INT32_MAX = 2**31 - 1  # the most a QSpinBox holds
# What may still become a number as the user types: "", "1.", "1e", "1e-".
_PARTIAL_NUMBER = re.compile(r"[0-9]*\.?[0-9]*(?:[eE][-+]?[0-9]*)?")


def _short(value: float) -> str:
    """The shortest text that reads back as exactly `value`: 0.001, 1e-05, 10."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def _whole_box(key: str, value: int) -> QtWidgets.QAbstractSpinBox:
    """A spin box for the whole-number setting BOUNDS[key]; a QSpinBox holds only int32, so a
    wider range (the seed's 0 to 2**32 - 1) gets a QDoubleSpinBox without decimals, which
    holds every whole number up to 2**53 exactly."""
    bound = BOUNDS[key]
    if bound.max <= INT32_MAX:
        return QtWidgets.QSpinBox(minimum=bound.min, maximum=bound.max, value=value)
    return QtWidgets.QDoubleSpinBox(minimum=bound.min, maximum=bound.max, value=value,
                                    decimals=0)


class FloatSpinBox(QtWidgets.QDoubleSpinBox):
    """A spin box for a real-valued setting that keeps the exact value it is given.

    QDoubleSpinBox rounds to its `decimals`, so a learning rate of 3e-6 from a CLI run would
    become 0 and retrain differently. This one keeps every double (decimals at Qt's maximum),
    shows the shortest text that reads back as the value, accepts typed scientific notation
    ("1e-4"), and steps either by `step` or, with `ladder`, along 1, 2, 5, 10, 20, 50, ...
    """

    def __init__(self, key: str, value: float, step: float = 0.1, ladder: bool = False,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._step, self._ladder = step, ladder
        self.setDecimals(1000)  # Qt clamps this to the most a double can need (323)
        self.setRange(BOUNDS[key].min, BOUNDS[key].max)
        self.setSingleStep(step)
        self.setValue(value)

    def textFromValue(self, value: float) -> str:  # noqa: N802 - Qt's name
        return _short(value)

    def valueFromText(self, text: str) -> float:  # noqa: N802 - Qt's name
        try:
            return float(text.strip())
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int):
        stripped = text.strip()
        try:
            value = float(stripped)
        except ValueError:
            partial = _PARTIAL_NUMBER.fullmatch(stripped) is not None
            state = QtGui.QValidator.State.Intermediate if partial else \
                QtGui.QValidator.State.Invalid
            return state, text, pos
        if not math.isfinite(value) or not _PARTIAL_NUMBER.fullmatch(stripped):
            return QtGui.QValidator.State.Invalid, text, pos  # "inf", "nan", "-1"
        if self.minimum() <= value <= self.maximum():
            return QtGui.QValidator.State.Acceptable, text, pos
        return QtGui.QValidator.State.Intermediate, text, pos  # "0" on the way to "0.001"

    def stepBy(self, steps: int) -> None:  # noqa: N802 - Qt's name
        value = self.value()
        for _ in range(abs(steps)):
            if self._ladder and value > 0:
                value = _ladder_step(value, up=steps > 0)
            else:
                value += self._step if steps > 0 else -self._step
                value = float(f"{value:.12g}")  # 0.30000000000000004 -> 0.3
        self.setValue(min(max(value, self.minimum()), self.maximum()))
        self.selectAll()


def _ladder_step(value: float, up: bool) -> float:
    """The next value along 1, 2, 5 times a power of ten, above or below `value`."""
    exponent = math.floor(math.log10(value))
    candidates = [float(f"{m}e{e}") for e in (exponent - 1, exponent, exponent + 1)
                  for m in (1, 2, 5)]
    if up:
        return min(c for c in candidates if c > value * (1 + 1e-9))
    return max(c for c in candidates if c < value * (1 - 1e-9))


class SettingsPanel(QtWidgets.QWidget):
    """Edits a TrainingSpec; changes take effect on Reset or the next Train from scratch.

    Every range comes from vae_gui.model.config.BOUNDS, as the CLI's and the checkpoint
    loader's do, so any configuration that a checkpoint holds shows here unchanged, and
    spec() gives it back exactly.
    """

    edited = QtCore.Signal()  # the user changed a setting

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        m, t = ModelConfig(), TrainConfig()
        self.dataset = QtWidgets.QComboBox()
        self.dataset.setEditable(True)
        self.dataset.addItems(BUILTIN_DATASETS)
        self.dataset.setToolTip("mnist5k ships with vae-gui; the others download once into the "
                                "data folder. You may also type a .npz file or a folder path.")
        browse = QtWidgets.QToolButton(text="\u2026")
        browse.setToolTip("Choose a folder of images (one sub-folder per class) or an .npz file "
                          "with 'images' (uint8 0..255 or floats 0..1) and 'labels'.")
        browse.clicked.connect(self._on_browse)
        dataset_row = QtWidgets.QHBoxLayout()
        dataset_row.setContentsMargins(0, 0, 0, 0)
        dataset_row.addWidget(self.dataset, 1)
        dataset_row.addWidget(browse)
        self.image_size = _whole_box("image_side", 28)
        self.image_size.setToolTip("Folder images are converted to grayscale and resized to "
                                   "this many pixels a side; the decoder's output follows.")
        self.latent_dim = _whole_box("latent_dim", m.latent_dim)
        self.hidden = QtWidgets.QLineEdit(" ".join(str(h) for h in m.hidden))
        self.hidden.setToolTip(f"Hidden layer sizes of the encoder, e.g. '400' or '512 256' "
                               f"({BOUNDS['hidden_layers'].text()} sizes, each "
                               f"{BOUNDS['hidden'].text()}); the decoder mirrors them. "
                               "With the convolutional architecture they are the channel "
                               "counts of its stride-2 stages.")
        self.arch = QtWidgets.QComboBox()
        for kind in ARCHITECTURES:
            self.arch.addItem(ARCHITECTURE_NAMES[kind], kind)
        self.arch.setCurrentIndex(self.arch.findData(m.arch))
        self.arch.setToolTip(
            "MLP: fully connected layers; the hidden sizes are their widths. Convolutional: "
            "each hidden size is the channel count of one stride-2 convolution (4x4 kernel), "
            "which halves the image's sides, e.g. '32 64' (at most "
            f"{MAX_CONV_CHANNELS} channels); the decoder mirrors them with transposed "
            "convolutions. The images must be square, with a side divisible by 2 to the "
            "number of stages (28 by 4: two stages).")
        self.dropout = FloatSpinBox("encoder_dropout", m.encoder_dropout, step=0.1)
        self.dropout.setToolTip(
            "Dropout on the input and after each hidden layer of both encoders while "
            f"training, {BOUNDS['encoder_dropout'].text()}; on small data it narrows the gap "
            "between training and held-out loss.")
        self.beta = FloatSpinBox("beta", t.beta, step=0.1)
        self.beta.setToolTip("Weight of the KL term of the right column's VAE (and of the "
                             "left one's, where it has no \u03b2 of its own); 1 gives the "
                             "ELBO, 0 makes the VAE an AE with noise.")
        # The two models trained side by side: AE | VAE by default, or a VAE with a β of its
        # own on the left (VAE β=1 | VAE β=4 shows what β does), or an AE on the right.
        self.left_kind = QtWidgets.QComboBox()
        self.left_kind.addItem("AE", "ae")
        self.left_kind.addItem("VAE", "vae")
        self.left_beta = FloatSpinBox("beta", 1.0, step=0.1)
        self.left_beta.setToolTip("The left VAE's own weight of the KL term; the right "
                                  "column's follows \u03b2 below.")
        self.right_kind = QtWidgets.QComboBox()
        self.right_kind.addItem("VAE, \u03b2 below", "vae")
        self.right_kind.addItem("AE", "ae")
        # On two rows: one would not fit the narrow panel of a laptop-sized window.
        left_row = QtWidgets.QHBoxLayout()
        left_row.setContentsMargins(0, 0, 0, 0)
        left_row.addWidget(self.left_kind, 1)
        left_row.addWidget(QtWidgets.QLabel("\u03b2"))
        left_row.addWidget(self.left_beta, 1)
        for box in (self.left_kind, self.right_kind):
            box.setToolTip("The models of the left and right columns, trained side by side "
                           "on the same batches from the same start. AE | VAE shows what "
                           "the prior does; VAE with \u03b2 1 | VAE with \u03b2 4 what "
                           "\u03b2 does.")
        self.left_kind.currentIndexChanged.connect(self._show_left_beta)
        self._show_left_beta()
        self.lr = FloatSpinBox("lr", t.lr, ladder=True)
        self.lr.setToolTip("Adam's learning rate; the arrows step along 1, 2, 5 x 10^k. Type "
                           "any value, e.g. 3e-4.")
        self.batch_size = _whole_box("batch_size", t.batch_size)
        self.epochs = _whole_box("epochs", t.epochs)
        self.loss = QtWidgets.QComboBox()
        for kind in RECONSTRUCTION_LOSSES:
            self.loss.addItem(LOSS_NAMES[kind], kind)
        self.loss.setToolTip(
            "How -log p(x|z) is measured, in nats per image. BCE: each pixel is a Bernoulli "
            "variable with probability the decoded value (binary cross-entropy). MSE: each "
            "pixel is Gaussian around the decoded value with a fixed variance "
            f"\u03c3\u00b2 = {MSE_VARIANCE:g}, so the loss is the summed squared error plus "
            "log(\u03c0)/2 per pixel. With \u03b2 = 1 either is the negative ELBO.")
        self.seed = _whole_box("seed", t.seed)
        self.precision = QtWidgets.QComboBox()
        for name in PRECISIONS:
            self.precision.addItem(name, name)
        self.precision.setCurrentIndex(self.precision.findData(t.precision))
        self.precision.setToolTip(
            "The float type of training's forward pass: bf16 and fp16 speed up the matrix "
            "work where the hardware does them natively; weights, evaluation and checkpoints "
            "stay fp32. "
            f"{describe_auto()} fp16 needs a CUDA GPU. The status bar says which one a run "
            "trains in.")

        form = QtWidgets.QFormLayout(self)
        form.addRow("Dataset", dataset_row)
        form.addRow("Image size (folders)", self.image_size)
        form.addRow("Latent dimension", self.latent_dim)
        form.addRow("Architecture", self.arch)
        form.addRow("Hidden sizes", self.hidden)
        form.addRow("Encoder dropout", self.dropout)
        form.addRow("Left model", left_row)
        form.addRow("Right model", self.right_kind)
        form.addRow("\u03b2 (KL weight)", self.beta)
        form.addRow("Learning rate", self.lr)
        form.addRow("Batch size", self.batch_size)
        form.addRow("Epochs", self.epochs)
        form.addRow("Reconstruction", self.loss)
        form.addRow("Seed", self.seed)
        form.addRow("Precision", self.precision)
        self.note = QtWidgets.QLabel("")
        self.note.setWordWrap(True)
        self.note.setTextFormat(QtCore.Qt.TextFormat.RichText)
        form.addRow(self.note)
        self.set_pending([])
        for box in (self.image_size, self.latent_dim, self.dropout, self.beta, self.lr,
                    self.batch_size, self.epochs, self.seed, self.left_beta):
            box.valueChanged.connect(self.edited)
        self.hidden.textChanged.connect(self.edited)
        self.dataset.currentTextChanged.connect(self.edited)
        self.loss.currentTextChanged.connect(self.edited)
        self.arch.currentTextChanged.connect(self.edited)
        self.precision.currentTextChanged.connect(self.edited)
        self.left_kind.currentIndexChanged.connect(self.edited)
        self.right_kind.currentIndexChanged.connect(self.edited)
        for key, box in (("image_side", self.image_size), ("latent_dim", self.latent_dim),
                         ("beta", self.beta), ("lr", self.lr), ("batch_size", self.batch_size),
                         ("epochs", self.epochs), ("seed", self.seed)):
            if not box.toolTip():
                box.setToolTip(BOUNDS[key].text().capitalize() + ".")

    def _show_left_beta(self) -> None:
        self.left_beta.setEnabled(self.left_kind.currentData() == "vae")

    def pair(self) -> tuple[str, str]:
        """The two models chosen, as TrainConfig.pair holds them."""
        left = self.left_kind.currentData()
        if left == "vae":
            left = ModelSpec("vae", self.left_beta.value()).text()
        return left, self.right_kind.currentData()

    def set_pair(self, pair: tuple[str, str], beta: float) -> None:
        """Shows a run's pair (`beta`: the run's): a VAE without a β of its own on the left
        shows the run's; any β of its own on the right moves to the β row."""
        left, right = parse_pair(pair)
        self.left_kind.setCurrentIndex(self.left_kind.findData(left.kind))
        self.left_beta.setValue(left.beta_in(beta) if left.variational else 1.0)
        self.right_kind.setCurrentIndex(self.right_kind.findData(right.kind))
        if right.beta is not None:
            self.beta.setValue(right.beta)
        self._show_left_beta()

    def set_pending(self, names: list[str]) -> None:
        """Marks settings changed since the run on screen started, which need a new run."""
        if names:
            self.note.setText(f"<b style='color:#b35900'>Changed: {', '.join(names)}.</b> "
                              "They apply when you press <b>\u25b6 Train from scratch</b>.")
        else:
            self.note.setText("<span style='color:#555'>\u03b2, the learning rate and the "
                              "epochs apply at once, even while training; the rest with "
                              "<b>\u25b6 Train from scratch</b> or <b>Reset</b>.</span>")

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
                                   latent_dim=self.latent_dim.value(),
                                   encoder_dropout=self.dropout.value(),
                                   arch=self.arch.currentData())
        train_config = TrainConfig(epochs=self.epochs.value(), batch_size=self.batch_size.value(),
                                   lr=self.lr.value(), beta=self.beta.value(),
                                   loss=self.loss.currentData(), seed=int(self.seed.value()),
                                   precision=self.precision.currentData(),
                                   pair=self.pair())
        return TrainingSpec(self.dataset.currentText().strip() or "mnist5k", data_root,
                            model_config, train_config)

    def _on_browse(self) -> None:
        box = QtWidgets.QMessageBox(self)
        box.setWindowTitle("Your own data")
        box.setText("Train on a folder of images (one sub-folder per class) or on an .npz file "
                    "holding 'images' (N, H, W; uint8 0..255 or floats 0..1) and 'labels' "
                    "(N,)?")
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
        """Shows the settings that produced the models on screen (after a load).

        Every value of a valid configuration fits its widget (both obey BOUNDS), so spec()
        then gives back the same configurations, except the device and the precision: the GUI
        always trains on the best device here ("auto"), wherever the checkpoint was trained,
        and in the precision chosen here, since both belong to this machine (a GPU's bf16
        is many times slower than fp32 on a CPU without native bf16). The image size shows
        the height (folders are resized to squares).
        """
        blockers = [QtCore.QSignalBlocker(w) for w in self.findChildren(QtWidgets.QWidget)]
        self.dataset.setCurrentText(dataset)
        self.latent_dim.setValue(model_config.latent_dim)
        self.image_size.setValue(model_config.image_shape[0])
        self.hidden.setText(" ".join(str(h) for h in model_config.hidden))
        self.arch.setCurrentIndex(self.arch.findData(model_config.arch))
        self.dropout.setValue(model_config.encoder_dropout)
        self.beta.setValue(train_config.beta)
        self.set_pair(train_config.pair, train_config.beta)
        self.lr.setValue(train_config.lr)
        self.batch_size.setValue(train_config.batch_size)
        self.epochs.setValue(train_config.epochs)
        self.loss.setCurrentIndex(self.loss.findData(train_config.loss))
        self.seed.setValue(train_config.seed)
        del blockers
