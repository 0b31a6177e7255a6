"""Frozen configuration values: the shape of the networks and how they are trained."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from numbers import Integral
from typing import Any

RECONSTRUCTION_LOSSES = ("bce", "mse")
DEVICES = ("auto", "cpu", "cuda", "mps")

# Bounds that keep a hostile checkpoint or a typo from allocating gigabytes.
MAX_LATENT_DIM = 512
MAX_HIDDEN_UNITS = 8192
MAX_HIDDEN_LAYERS = 8
MAX_IMAGE_SIDE = 512
MAX_CLASSES = 1000
MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class ModelConfig:
    """Shape shared by the AE and the VAE, so that the comparison between them is fair."""

    image_shape: tuple[int, int] = (28, 28)
    hidden: tuple[int, ...] = (256, 128)
    latent_dim: int = 2

    def __post_init__(self) -> None:
        object.__setattr__(self, "image_shape", tuple(int(s) for s in self.image_shape))
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        problems = self.problems()
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def n_pixels(self) -> int:
        return self.image_shape[0] * self.image_shape[1]

    def problems(self) -> list[str]:
        """Every way in which this configuration is out of bounds, as sentences."""
        out = []
        if not 1 <= self.latent_dim <= MAX_LATENT_DIM:
            out.append(f"latent dimension must be between 1 and {MAX_LATENT_DIM}, "
                       f"not {self.latent_dim}")
        if not 1 <= len(self.hidden) <= MAX_HIDDEN_LAYERS:
            out.append(f"give between 1 and {MAX_HIDDEN_LAYERS} hidden layer sizes, "
                       f"not {len(self.hidden)}")
        if any(not 1 <= h <= MAX_HIDDEN_UNITS for h in self.hidden):
            out.append(f"hidden layer sizes must be between 1 and {MAX_HIDDEN_UNITS}, "
                       f"not {list(self.hidden)}")
        if len(self.image_shape) != 2 or any(
            not 1 <= s <= MAX_IMAGE_SIDE for s in self.image_shape
        ):
            out.append(f"image shape must be two sides between 1 and {MAX_IMAGE_SIDE}, "
                       f"not {list(self.image_shape)}")
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
        )


@dataclass(frozen=True)
class TrainConfig:
    """How both models are trained; they always share every one of these values."""

    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    beta: float = 1.0
    loss: str = "bce"
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ValueError("; ".join(problems))

    def problems(self) -> list[str]:
        out = []
        if self.epochs < 1:
            out.append(f"epochs must be at least 1, not {self.epochs}")
        if self.batch_size < 1:
            out.append(f"batch size must be at least 1, not {self.batch_size}")
        if not self.lr > 0 or self.lr != self.lr or self.lr == float("inf"):
            out.append(f"learning rate must be a positive number, not {self.lr}")
        if not self.beta >= 0 or self.beta == float("inf"):
            out.append(f"beta must be zero or positive, not {self.beta}")
        if self.loss not in RECONSTRUCTION_LOSSES:
            out.append(f"reconstruction loss must be one of {', '.join(RECONSTRUCTION_LOSSES)}, "
                       f"not {self.loss!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, Integral) or not (
            0 <= self.seed <= MAX_SEED
        ):
            out.append(f"seed must be a whole number from 0 to {MAX_SEED}, not {self.seed!r}")
        if self.device not in DEVICES:
            out.append(f"device must be one of {', '.join(DEVICES)}, not {self.device!r}")
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

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
        )
