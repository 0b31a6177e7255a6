"""Frozen configuration values: the shape of the networks and how they are trained."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from numbers import Integral, Real
from types import MappingProxyType
from typing import Any

from vae_gui.model.pair import DEFAULT_PAIR, parse_pair

RECONSTRUCTION_LOSSES = ("bce", "mse")
MSE_VARIANCE = 0.5
"""The fixed per-pixel variance sigma^2 of the Gaussian decoder behind loss "mse". With 1/2,
-log N(x; m, 1/2) = (x - m)^2 + log(pi)/2: the squared error plus a constant, so gradients
are those of the plain squared error and the loss is a true negative log-likelihood. (Here,
not in model/losses.py, so that the settings panel can state it without importing torch.)"""
DEVICES = ("auto", "cpu", "cuda", "mps")
# The encoder and decoder: "mlp" (fully connected layers) or "conv" (stride-2 convolutions).
ARCHITECTURES = ("mlp", "conv")
# The most channels one convolutional stage may have. BOUNDS["hidden"] (8192) is a width for
# fully connected layers; a convolution's weights grow with the square of its channels (times
# its 16 kernel taps), so 8192 channels would be 1 G weights a stage.
MAX_CONV_CHANNELS = 512
# The float types that may train the models (vae_gui.model.precision resolves "auto" and
# says why); evaluation, snapshots and checkpoints are float32 whatever trained them.
PRECISIONS = ("auto", "fp32", "bf16", "fp16")

MAX_CLASSES = 1000
MAX_CLASS_NAME_CHARS = 255  # what a folder name can hold on most systems

# The most array bytes a dataset file may declare, and the most its pixels may take as
# float32 once loaded: a file of a few kilobytes can declare gigabytes of compressed zeros.
# The environment variable, a whole number of megabytes (MiB), raises or lowers it. 1 GiB
# holds all of MNIST (70,000 images: 220 MB as float32) four times over; a 0.4 MB file of
# 500,000 blank images (1.5 GB as float32, 2 GB at the peak of loading) is refused.
MAX_DATASET_BYTES = 1024**3
MAX_DATASET_MB_VARIABLE = "VAE_GUI_MAX_DATASET_MB"


@dataclass(frozen=True)
class Bound:
    """The inclusive range of one setting, and whether it must be a whole number.

    BOUNDS below is the one place where these ranges are set: the CLI's argument checks, the
    GUI's spin boxes and ModelConfig/TrainConfig.problems() (which checkpoint loading uses)
    all read them from there, so that a value one of them accepts is accepted by all.
    """

    min: int | float
    max: int | float
    whole: bool = True

    def problem(self, value: object) -> str | None:
        """Why `value` is out of bounds, as the end of a sentence ("must be at most 512,
        not 600"), or None when it is within them."""
        is_number = isinstance(value, Real) and not isinstance(value, bool)
        if self.whole and not (is_number and isinstance(value, Integral)):
            return f"must be a whole number, not {value!r}"
        if not is_number or not math.isfinite(value):
            return f"must be a finite number, not {value!r}"
        if value < self.min:
            return f"must be at least {_text(self.min)}, not {_text(value)}"
        if value > self.max:
            return f"must be at most {_text(self.max)}, not {_text(value)}"
        return None

    def text(self) -> str:
        """The range as people write it: "from 1 to 512"."""
        return f"from {_text(self.min)} to {_text(self.max)}"

    def __contains__(self, value: object) -> bool:
        return self.problem(value) is None


def _text(value: float) -> str:
    """A number as the shortest text that reads back as it: 4294967295, 1e-08, 0.5, 10."""
    if isinstance(value, Integral):
        return str(int(value))
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


# The bounds of every setting; they keep a hostile checkpoint or a typo from allocating
# gigabytes or running for ever. Keys: the field names of ModelConfig and TrainConfig, with
# "hidden" for the size of each hidden layer, "hidden_layers" for their number and
# "image_side" for either side of the images.
BOUNDS: Mapping[str, Bound] = MappingProxyType({
    "latent_dim": Bound(1, 512),
    "hidden": Bound(1, 8192),
    "hidden_layers": Bound(1, 8),
    "image_side": Bound(1, 512),
    "epochs": Bound(1, 100_000),
    "batch_size": Bound(1, 8192),
    "lr": Bound(1e-8, 10.0, whole=False),
    "beta": Bound(0.0, 1000.0, whole=False),
    "seed": Bound(0, 2**32 - 1),
    "encoder_dropout": Bound(0.0, 0.9, whole=False),
})


@dataclass(frozen=True)
class ModelConfig:
    """Shape shared by the AE and the VAE, so that the comparison between them is fair.

    With arch "mlp", each entry of `hidden` is the width of one fully connected layer. With
    arch "conv", each is the channel count of one stride-2 convolution (kernel 4), which
    halves both sides of the image: the image must be square, and its side divisible by
    2 ** len(hidden).
    """

    # (H, W) for grey images, (H, W, 3) for colour (channels last, as the data holds them).
    image_shape: tuple[int, ...] = (28, 28)
    hidden: tuple[int, ...] = (256, 128)
    latent_dim: int = 2
    # Dropout on the input pixels and after each hidden layer of both encoders while training
    # (never when encoding for the views): on the 4k training images of mnist5k it narrows
    # the gap between the training and held-out -ELBO (README, "The pretrained models").
    encoder_dropout: float = 0.0
    arch: str = "mlp"  # one of ARCHITECTURES

    def __post_init__(self) -> None:
        object.__setattr__(self, "image_shape", tuple(int(s) for s in self.image_shape))
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        problems = self.problems()
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def n_pixels(self) -> int:
        """Values per image: pixels times channels (what the reconstruction loss sums)."""
        return math.prod(self.image_shape)

    @property
    def channels(self) -> int:
        """1 for grey images, 3 for colour."""
        return self.image_shape[2] if len(self.image_shape) == 3 else 1

    def problems(self) -> list[str]:
        """Every way in which this configuration is out of BOUNDS or cannot be built, as
        sentences."""
        out = _problems(("latent dimension", "latent_dim", self.latent_dim),
                        ("the number of hidden layers", "hidden_layers", len(self.hidden)),
                        ("encoder dropout", "encoder_dropout", self.encoder_dropout))
        for h in self.hidden:
            if (why := BOUNDS["hidden"].problem(h)) is not None:
                out.append(f"hidden layer sizes {why}")
                break
        if len(self.image_shape) not in (2, 3) or self.image_shape[2:] not in ((), (3,)):
            out.append("image shape must be two sides, and 3 channels for colour, not "
                       f"{list(self.image_shape)}")
        for s in self.image_shape[:2]:
            if (why := BOUNDS["image_side"].problem(s)) is not None:
                out.append(f"image sides {why}")
                break
        if self.arch not in ARCHITECTURES:
            out.append(f"architecture must be one of {', '.join(ARCHITECTURES)}, "
                       f"not {self.arch!r}")
        elif self.arch == "conv" and self.hidden and len(self.image_shape) >= 2:
            out += self._conv_problems()
        return out

    def _conv_problems(self) -> list[str]:
        """Why a convolutional encoder and decoder cannot have this shape, as sentences."""
        out = []
        if (widest := max(self.hidden)) > MAX_CONV_CHANNELS:
            out.append(f"convolutional channel counts must be at most {MAX_CONV_CHANNELS}, "
                       f"not {widest}")
        height, width = self.image_shape[:2]
        stride = 2 ** len(self.hidden)
        if height != width:
            out.append(f"convolutional networks need square images, not {height}x{width}")
        elif height % stride:
            out.append(f"with {len(self.hidden)} convolutional stages the image side must be "
                       f"divisible by {stride}, and {height} is not")
        return out

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["image_shape"] = list(self.image_shape)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        return cls(
            image_shape=tuple(d["image_shape"]),
            hidden=tuple(d["hidden"]),
            latent_dim=int(d["latent_dim"]),
            # Checkpoints written before the option existed trained without dropout.
            encoder_dropout=float(d.get("encoder_dropout", 0.0)),
            # Checkpoints written before the convolutional option existed are MLPs.
            arch=str(d.get("arch", "mlp")),
        )


@dataclass(frozen=True)
class TrainConfig:
    """How both models are trained; they always share every one of these values."""

    epochs: int = 30  # the same default in the CLI and the window
    batch_size: int = 128
    lr: float = 1e-3
    beta: float = 1.0
    loss: str = "bce"
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    # The two models, left column first (vae_gui.model.pair): "ae", "vae" (β above) or
    # "vae:4" (a β of its own).
    pair: tuple[str, str] = DEFAULT_PAIR

    def __post_init__(self) -> None:
        object.__setattr__(self, "pair", tuple(self.pair))
        problems = self.problems()
        if problems:
            raise ValueError("; ".join(problems))

    def problems(self) -> list[str]:
        """Every way in which this configuration is out of BOUNDS, as sentences."""
        out = _problems(("epochs", "epochs", self.epochs),
                        ("batch size", "batch_size", self.batch_size),
                        ("learning rate", "lr", self.lr),
                        ("beta", "beta", self.beta),
                        ("seed", "seed", self.seed))
        if self.loss not in RECONSTRUCTION_LOSSES:
            out.append(f"reconstruction loss must be one of {', '.join(RECONSTRUCTION_LOSSES)}, "
                       f"not {self.loss!r}")
        if self.device not in DEVICES:
            out.append(f"device must be one of {', '.join(DEVICES)}, not {self.device!r}")
        if self.precision not in PRECISIONS:
            out.append(f"precision must be one of {', '.join(PRECISIONS)}, "
                       f"not {self.precision!r}")
        try:
            specs = parse_pair(self.pair)
        except ValueError as exc:
            out.append(str(exc))
        else:
            out += [f"the {s.text()} model's beta {why}" for s in specs if s.beta is not None
                    and (why := BOUNDS["beta"].problem(s.beta)) is not None]
        return out

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["pair"] = list(self.pair)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        return cls(
            epochs=int(d["epochs"]),
            batch_size=int(d["batch_size"]),
            lr=float(d["lr"]),
            beta=float(d["beta"]),
            loss=str(d["loss"]),
            seed=int(d["seed"]),
            device=str(d.get("device", "auto")),
            # Checkpoints written before mixed precision existed trained in float32.
            precision=str(d.get("precision", "fp32")),
            # Checkpoints written before pairs could be chosen hold an AE and a VAE.
            pair=tuple(str(t) for t in d.get("pair", DEFAULT_PAIR)),
        )


def _problems(*checks: tuple[str, str, object]) -> list[str]:
    """Sentences for each (label, BOUNDS key, value) whose value is out of bounds."""
    return [f"{label} {why}" for label, key, value in checks
            if (why := BOUNDS[key].problem(value)) is not None]
