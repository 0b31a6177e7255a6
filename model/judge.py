"""The judge: a small image classifier that grades decoded prior samples.

It answers the evidence panel's question "Do prior samples look like data, and all of it?"
for the AE and the VAE. Decode points drawn from N(0, I), classify them, and summarise:

- mean confidence (the mean of the largest class probability): do they look like *some* digit?
- the histogram of predicted classes and its entropy: do they cover *every* digit? A decoder
  whose prior samples all look like 1s scores entropy near 0; even coverage scores log C.

The network is LeNet-like (two 5x5 convolutions with max pooling, one hidden layer with
dropout): on 2 CPU cores it trains on mnist5k's 4,000 images in seconds and reaches about 97%
on held-out digits, where an MLP of the same cost stays below 95%. Images of any size are
resampled to its fixed input grid, so one definition serves every dataset.

Judges are saved like checkpoints (see checkpoint.py): safetensors tensors with JSON metadata
in the header, written atomically, validated field by field and shape by shape before any
tensor is read; never pickle. No Qt here.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save as save_safetensors
from torch import nn
from vae_gui.model.atomic_write import write_atomic
from vae_gui.model.config import BOUNDS, MAX_CLASSES
from vae_gui.model.data import DatasetBundle
from vae_gui.model.errors import JudgeError
from vae_gui.model.safetensors_file import open_header, read_finite

FORMAT = "vae-gui-judge"
VERSION = 1
# The same header key as checkpoints, so that each loader recognises the other's files by
# their "format" and can say which kind of file the user picked.
METADATA_KEY = "vae_gui"
CHECKPOINT_FORMAT = "vae-gui-checkpoint"

DEFAULT_EPOCHS = 5
DEFAULT_BATCH_SIZE = 64
DEFAULT_LEARNING_RATE = 3e-3
# Limits that make a hostile header cheap to refuse: a judge is about 80k parameters and its
# header a few kilobytes.
MAX_FILE_BYTES = 512 * 1024**2
MAX_HEADER_BYTES = 1024**2
MAX_PARAMETERS = 50_000_000
# Pixels per inference batch (~330 MNIST digits): bounds memory for large images, and
# batches of this size run faster on CPU than one large batch.
BATCH_PIXELS = 2**18
FLOAT_DTYPES = ("F16", "BF16", "F32", "F64")


# ------------------------------------------------------------------------------- network


@dataclass(frozen=True)
class JudgeLayers:
    """The network's sizes; stored in a judge file so that it can be rebuilt and checked."""

    input_side: int = 28  # images are resampled to input_side x input_side
    channels: tuple[int, int] = (16, 32)
    kernel: int = 5
    hidden: int = 128
    dropout: float = 0.3

    def feature_side(self) -> int:
        """The side of the last feature map: two valid convolutions, each halved by pooling."""
        after_first = (self.input_side - self.kernel + 1) // 2
        return (after_first - self.kernel + 1) // 2

    def problems(self) -> list[str]:
        found = []

        def whole(value: object, low: int, high: int, what: str) -> bool:
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                found.append(f"{what} must be a whole number from {low} to {high}, "
                             f"not {value!r}")
                return False
            return True

        ok = whole(self.input_side, 8, 256, "input_side") & whole(self.kernel, 1, 9, "kernel")
        if not isinstance(self.channels, tuple) or len(self.channels) != 2:
            found.append(f"channels must be two numbers, not {self.channels!r}")
        else:
            for c in self.channels:
                whole(c, 1, 512, "each channel count")
        whole(self.hidden, 1, 8192, "hidden")
        if (isinstance(self.dropout, bool) or not isinstance(self.dropout, int | float)
                or not 0.0 <= self.dropout < 1.0):
            found.append(f"dropout must be in [0, 1), not {self.dropout!r}")
        if ok and self.feature_side() < 1:
            found.append(f"kernel {self.kernel} is too large for input side {self.input_side}")
        return found

    def to_dict(self) -> dict[str, Any]:
        return {"input_side": self.input_side, "channels": list(self.channels),
                "kernel": self.kernel, "hidden": self.hidden, "dropout": self.dropout}

    @classmethod
    def from_dict(cls, d: object) -> JudgeLayers:
        if not isinstance(d, dict):
            raise TypeError("layers must be a dictionary")
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown layer fields {sorted(unknown)}")
        channels = d.get("channels", list(cls.channels))
        if not isinstance(channels, list):
            raise TypeError("channels must be a list")
        layers = cls(input_side=d["input_side"], channels=tuple(channels), kernel=d["kernel"],
                     hidden=d["hidden"], dropout=d.get("dropout", cls.dropout))
        if problems := layers.problems():
            raise ValueError("; ".join(problems))
        return layers


class JudgeNet(nn.Module):
    """Logits over the classes for images (N, H, W) grey or (N, H, W, 3) colour, in [0, 1]."""

    def __init__(self, image_shape: tuple[int, ...], n_classes: int,
                 layers: JudgeLayers) -> None:
        super().__init__()
        self.image_shape = tuple(int(s) for s in image_shape)
        self.spec = layers
        c1, c2 = layers.channels
        in_channels = self.image_shape[2] if len(self.image_shape) == 3 else 1
        self.conv1 = nn.Conv2d(in_channels, c1, layers.kernel)
        self.conv2 = nn.Conv2d(c1, c2, layers.kernel)
        side = layers.feature_side()
        self.fc1 = nn.Linear(c2 * side * side, layers.hidden)
        self.fc2 = nn.Linear(layers.hidden, n_classes)

    def forward(self, images: torch.Tensor,
                generator: torch.Generator | None = None) -> torch.Tensor:
        x = images.permute(0, 3, 1, 2) if images.ndim == 4 else images.unsqueeze(1)
        side = self.spec.input_side
        if tuple(x.shape[-2:]) != (side, side):
            # One definition for every dataset: the convolutions are sized for this grid.
            x = F.interpolate(x, size=(side, side), mode="bilinear", align_corners=False,
                              antialias=True)
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        h = F.relu(self.fc1(x.flatten(1)))
        p = self.spec.dropout
        if self.training and p > 0:
            # Masks drawn from the caller's generator: nn.Dropout would draw from (and
            # advance) the global RNG that other threads share.
            keep = torch.rand(h.shape, generator=generator) >= p
            h = h * keep / (1.0 - p)
        return self.fc2(h)


def _network_shapes(image_shape: tuple[int, ...], n_classes: int,
                    layers: JudgeLayers) -> dict[str, tuple[int, ...]]:
    """Every tensor name of the network with its shape; built on the meta device, so absurd
    sizes cost nothing."""
    with torch.device("meta"):
        net = JudgeNet(image_shape, n_classes, layers)
    return {name: tuple(t.shape) for name, t in net.state_dict().items()}


# --------------------------------------------------------------------------------- judge


@dataclass(frozen=True, eq=False)
class Judge:
    """A trained classifier in inference mode, and what it was trained and measured on."""

    network: JudgeNet
    class_names: tuple[str, ...]
    image_shape: tuple[int, ...]  # (H, W), or (H, W, 3) for colour
    dataset: str
    train_accuracy: float  # on the training split, measured when training ended
    test_accuracy: float  # on the dataset's test split, which it never trained on
    layers: JudgeLayers = JudgeLayers()
    epochs: int = 0
    seed: int = 0
    # Accuracies on other held-out sets, by name (e.g. the real MNIST test set).
    evaluations: tuple[tuple[str, float], ...] = ()

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def with_evaluation(self, name: str, accuracy: float) -> Judge:
        """This judge with one more recorded accuracy (replacing one of the same name)."""
        kept = tuple((n, a) for n, a in self.evaluations if n != name)
        return dataclasses.replace(self, evaluations=(*kept, (name, float(accuracy))))

    def _images(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images)
        if tuple(images.shape[1:]) != self.image_shape:
            h, w = self.image_shape[:2]
            colour = " in colour" if len(self.image_shape) == 3 else ""
            shape = ", ".join(str(s) for s in self.image_shape)
            raise JudgeError(
                f"The judge grades images of {h}x{w} pixels{colour} (it was trained on "
                f"{self.dataset}), given an array of shape {list(images.shape)}; pass images "
                f"shaped (N, {shape}) or use a judge trained on these images' dataset."
            )
        # A writable float32 copy: torch warns about read-only arrays (snapshots' are).
        images = np.array(images, dtype=np.float32)
        if not np.isfinite(images).all():
            raise JudgeError("The images to judge contain NaN or infinite pixel values.")
        return images

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities (N, C), float32, for images (N, *image_shape) in [0, 1]."""
        images = self._images(images)
        step = max(1, BATCH_PIXELS // math.prod(self.image_shape))
        out = np.empty((len(images), self.n_classes), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(images), step):
                logits = self.network(torch.from_numpy(images[start:start + step]))
                out[start:start + step] = torch.softmax(logits, dim=1).numpy()
        return out

    def predict(self, images: np.ndarray) -> np.ndarray:
        """The most probable class of each image, (N,) int64."""
        return self.probabilities(images).argmax(axis=1).astype(np.int64)

    def accuracy(self, images: np.ndarray, labels: np.ndarray) -> float:
        """The fraction of images whose predicted class is their label."""
        labels = np.asarray(labels).reshape(-1)
        if len(labels) != len(images) or len(labels) == 0:
            raise JudgeError(f"Accuracy needs as many labels as images, at least one; given "
                             f"{len(images)} images and {len(labels)} labels.")
        return float(np.mean(self.predict(images) == labels))

    def metadata(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "dataset": self.dataset,
            "class_names": list(self.class_names),
            "image_shape": list(self.image_shape),
            "layers": self.layers.to_dict(),
            "train_accuracy": self.train_accuracy,
            "test_accuracy": self.test_accuracy,
            "epochs": self.epochs,
            "seed": self.seed,
            "evaluations": {name: acc for name, acc in self.evaluations},
        }


def _build_network(image_shape: tuple[int, ...], n_classes: int, layers: JudgeLayers,
                   seed: int) -> JudgeNet:
    """A freshly initialised network; like build_models, seeded without touching the global
    random state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return JudgeNet(image_shape, n_classes, layers)


def train_judge(
    data: DatasetBundle,
    seed: int = 0,
    epochs: int = DEFAULT_EPOCHS,
    check: Callable[[], None] | None = None,
    *,
    layers: JudgeLayers | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    learning_rate: float = DEFAULT_LEARNING_RATE,
) -> Judge:
    """Trains a judge on data's training split and measures it on the test split.

    Deterministic for a seed on CPU (with the same torch thread count): the initial weights,
    the batch order and the dropout masks all come from `seed`, and the global RNG is left
    as it was. `check` is called before every batch; it cancels by raising, and what it
    raises propagates. Raises JudgeError when the data cannot train a classifier.
    """
    layers = layers or JudgeLayers()
    if problems := layers.problems():
        raise JudgeError("Invalid judge layers: " + "; ".join(problems) + ".")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise JudgeError(f"A judge trains for at least one epoch, not {epochs!r}.")
    if batch_size < 1:
        raise JudgeError(f"The batch size must be at least 1, not {batch_size}.")
    n_classes = len(data.class_names)
    labels_np = np.asarray(data.train_labels).reshape(-1)
    if not 1 <= n_classes <= MAX_CLASSES:
        raise JudgeError(f"Dataset {data.name!r} has {n_classes} classes; a judge needs 1 to "
                         f"{MAX_CLASSES}.")
    if len(labels_np) == 0 or len(labels_np) != len(data.train_images):
        raise JudgeError(f"Dataset {data.name!r} has no training images with labels to train "
                         "a judge on.")
    if labels_np.min() < 0 or labels_np.max() >= n_classes:
        raise JudgeError(f"Dataset {data.name!r} has labels outside 0..{n_classes - 1}.")

    image_shape = data.image_shape
    # Copies: torch.from_numpy of the bundle's read-only arrays would warn.
    images = torch.from_numpy(np.array(data.train_images, dtype=np.float32))
    labels = torch.from_numpy(labels_np.astype(np.int64))
    network = _build_network(image_shape, n_classes, layers, seed)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(network.parameters(), lr=learning_rate)
    n = len(labels)
    steps_per_epoch = math.ceil(n / batch_size)
    # One cycle (warm up, then anneal) reaches ~97% in 5 epochs, where a constant rate
    # needs about twice as many.
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=learning_rate,
                                                   total_steps=epochs * steps_per_epoch)
    network.train()
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, batch_size):
            if check is not None:
                check()
            batch = order[start:start + batch_size]
            loss = F.cross_entropy(network(images[batch], generator), labels[batch])
            if not torch.isfinite(loss):
                raise JudgeError("Training the judge diverged (the loss became NaN or "
                                 "infinite); try a smaller learning rate.")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    network.eval().requires_grad_(False)
    judge = Judge(network, tuple(data.class_names), image_shape, data.name, math.nan, math.nan,
                  layers, epochs, seed)
    return dataclasses.replace(
        judge,
        train_accuracy=judge.accuracy(data.train_images, data.train_labels),
        test_accuracy=judge.accuracy(data.test_images, data.test_labels),
    )


# ----------------------------------------------------------------------------- judgement


@dataclass(frozen=True)
class Judgement:
    """How a set of images is classified: confidently? and into how many classes?"""

    n_samples: int
    mean_confidence: float  # the mean over images of the largest class probability
    class_counts: tuple[int, ...]  # images per class, by predicted (argmax) class
    class_shares: tuple[float, ...]  # class_counts / n_samples
    entropy_nats: float  # of class_shares: 0 when all fall in one class
    max_entropy_nats: float  # log C: every class equally often
    largest_share: float
    largest_class: int
    class_names: tuple[str, ...] = ()

    @property
    def evenness(self) -> float:
        """entropy / max entropy in [0, 1]: 1 when every class is predicted equally often."""
        if self.max_entropy_nats <= 0:
            return 1.0  # a single class is covered as evenly as it can be
        return self.entropy_nats / self.max_entropy_nats

    @property
    def largest_class_name(self) -> str:
        if 0 <= self.largest_class < len(self.class_names):
            return self.class_names[self.largest_class]
        return str(self.largest_class)


def judgement_of(probabilities: np.ndarray, class_names: tuple[str, ...] = ()) -> Judgement:
    """Summarises class probabilities (N, C) of N >= 1 images."""
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] == 0 or p.shape[1] == 0:
        raise JudgeError(f"There are no images to judge (probabilities of shape "
                         f"{list(p.shape)}).")
    n, c = p.shape
    counts = np.bincount(p.argmax(axis=1), minlength=c)
    shares = counts / n
    nonzero = shares[shares > 0]
    entropy = float(-(nonzero * np.log(nonzero)).sum())
    largest = int(counts.argmax())
    return Judgement(
        n_samples=n,
        mean_confidence=float(p.max(axis=1).mean()),
        class_counts=tuple(int(k) for k in counts),
        class_shares=tuple(float(s) for s in shares),
        entropy_nats=max(0.0, entropy),  # -0.0 when a single class holds everything
        max_entropy_nats=math.log(c),
        largest_share=float(shares[largest]),
        largest_class=largest,
        class_names=tuple(class_names),
    )


def judge_images(judge: Judge, images: np.ndarray) -> Judgement:
    """Classifies images (N, H, W) in [0, 1] and summarises the result."""
    return judgement_of(judge.probabilities(images), judge.class_names)


def judge_prior_samples(
    judge: Judge,
    decode: Callable[[np.ndarray], np.ndarray],
    latent_dim: int,
    n: int = 1000,
    seed: int = 0,
) -> Judgement:
    """Draws n points z ~ N(0, I) (numpy Generator(seed)), decodes and judges them.

    `decode` maps latent points (n, latent_dim) to images (n, H, W) in [0, 1], e.g.
    `lambda z: decode_images(model, z, image_shape)`. The same seed gives both models the
    same points, so that their judgements compare like with like.
    """
    if isinstance(latent_dim, bool) or not isinstance(latent_dim, int) or latent_dim < 1:
        raise ValueError(f"latent_dim must be a whole number >= 1, not {latent_dim!r}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a whole number >= 1, not {n!r}")
    z = np.random.default_rng(seed).standard_normal((n, latent_dim)).astype(np.float32)
    images = np.asarray(decode(z))
    if len(images) != n:
        raise JudgeError(f"Decoding {n} latent points gave {len(images)} images.")
    return judge_images(judge, images)


# ---------------------------------------------------------------------------- save, load


def save_judge(judge: Judge, path: str | os.PathLike) -> Path:
    """Writes the judge atomically: the file at `path` is either the old one or the new one.
    A failure to write raises JudgeError."""
    path = Path(path)
    tensors = {name: t.detach().to("cpu", torch.float32).contiguous()
               for name, t in judge.network.state_dict().items()}
    blob = save_safetensors(tensors, metadata={METADATA_KEY: json.dumps(judge.metadata())})
    try:
        write_atomic(path, blob)
    except OSError as exc:
        raise JudgeError(f"Could not save the judge to {path}: {exc.strerror or exc}. Nothing "
                         "was overwritten; choose a folder you can write to.") from exc
    return path


def _judge_metadata(path: Path, header: dict[str, str] | None) -> dict:
    text = (header or {}).get(METADATA_KEY)
    if not isinstance(text, str):
        raise JudgeError(f"{path} is a safetensors file without vae-gui metadata, so it is not "
                         "a judge saved by vae-gui.")
    try:
        meta = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise JudgeError(f"{path} has damaged metadata (not valid JSON); it cannot be "
                         "opened.") from exc
    fmt = meta.get("format") if isinstance(meta, dict) else None
    if fmt == CHECKPOINT_FORMAT:
        raise JudgeError(f"{path} is a vae-gui checkpoint (the AE and the VAE), not a judge; "
                         "choose a judge file.")
    if fmt != FORMAT:
        raise JudgeError(f"{path} is a safetensors file but not a vae-gui judge (its metadata "
                         f"names the format {fmt!r}).")
    version = meta.get("version")
    if version != VERSION:
        newer = isinstance(version, int) and not isinstance(version, bool) and version > VERSION
        raise JudgeError(f"{path} is a judge of version {version!r}; this vae-gui reads version "
                         f"{VERSION}. " + ("Update vae-gui to open it." if newer else
                                           "It cannot be opened."))
    return meta


def _fraction(value: object, what: str) -> float:
    if (isinstance(value, bool) or not isinstance(value, int | float)
            or not 0.0 <= value <= 1.0):  # NaN fails this too
        raise ValueError(f"{what} must be a number from 0 to 1, not {value!r}")
    return float(value)


def _count(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what} must be a whole number >= 0, not {value!r}")
    return value


def _parse_metadata(path: Path, meta: dict) -> dict[str, Any]:
    """The Judge fields other than the network, every one checked."""
    try:
        names = meta["class_names"]
        if not isinstance(names, list) or not all(isinstance(c, str) for c in names):
            raise TypeError("class_names must be a list of strings")
        if not 1 <= len(names) <= MAX_CLASSES:
            raise ValueError(f"there must be 1 to {MAX_CLASSES} class names, not {len(names)}")
        shape = meta["image_shape"]
        if not isinstance(shape, list) or len(shape) not in (2, 3) or shape[2:] not in ([], [3]):
            raise TypeError("image_shape must be two numbers, and 3 channels for colour")
        for side in shape[:2]:
            if isinstance(side, bool) or not isinstance(side, int) or side not in (
                    BOUNDS["image_side"]):
                raise ValueError(f"image sides must be whole numbers in {BOUNDS['image_side']}"
                                 f", not {side!r}")
        dataset = meta["dataset"]
        if not isinstance(dataset, str):
            raise TypeError("dataset must be a name")
        evaluations = meta.get("evaluations", {})
        if not isinstance(evaluations, dict):
            raise TypeError("evaluations must be a dictionary")
        return {
            "class_names": tuple(names),
            "image_shape": tuple(shape),
            "dataset": dataset,
            "layers": JudgeLayers.from_dict(meta["layers"]),
            "train_accuracy": _fraction(meta["train_accuracy"], "train_accuracy"),
            "test_accuracy": _fraction(meta["test_accuracy"], "test_accuracy"),
            "epochs": _count(meta["epochs"], "epochs"),
            "seed": _count(meta["seed"], "seed"),
            "evaluations": tuple((str(k), _fraction(v, f"accuracy on {k}"))
                                 for k, v in evaluations.items()),
        }
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        what = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise JudgeError(f"{path} has damaged judge metadata ({what}); it cannot be "
                         "opened.") from exc


def _read_weights(path: Path, f, fields: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Checks every tensor's name, shape and dtype in the header against the network the
    metadata describes, and only then reads them."""
    expected = _network_shapes(fields["image_shape"], len(fields["class_names"]),
                               fields["layers"])
    if sum(math.prod(s) for s in expected.values()) > MAX_PARAMETERS:
        raise JudgeError(f"{path} describes a network far larger than any judge; it is not "
                         "one.")
    names = set(f.keys())
    missing, extra = sorted(set(expected) - names), sorted(names - set(expected))
    if missing or extra:
        raise JudgeError(f"{path} does not match the network its metadata describes (missing "
                         f"{missing[:3]}, unexpected {extra[:3]}).")
    for name, want in expected.items():
        tensor = f.get_slice(name)
        if tuple(tensor.get_shape()) != want or tensor.get_dtype() not in FLOAT_DTYPES:
            raise JudgeError(f"{path}: {name} is {tensor.get_dtype()} of shape "
                             f"{list(tensor.get_shape())}, but the metadata needs floating-"
                             f"point weights of shape {list(want)}; the file is damaged.")
    return {name: read_finite(f, path, name, JudgeError) for name in expected}


def load_judge(path: str | os.PathLike) -> Judge:
    """Reads and validates a judge file; any problem raises JudgeError saying what is wrong.

    In the order of what it costs: the file's kind and size, its first bytes, the safetensors
    header, the metadata, every tensor's name, shape and dtype; only then the weights.
    """
    path = Path(path)
    with open_header(path, JudgeError, "judge", MAX_FILE_BYTES, MAX_HEADER_BYTES) as f:
        fields = _parse_metadata(path, _judge_metadata(path, f.metadata()))
        weights = _read_weights(path, f, fields)
    with torch.device("meta"):  # no initialisation, so no random numbers drawn
        network = JudgeNet(fields["image_shape"], len(fields["class_names"]), fields["layers"])
    network.load_state_dict(weights, assign=True)
    network.eval().requires_grad_(False)
    return Judge(network, **fields)
