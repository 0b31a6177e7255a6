"""Datasets as in-memory bundles: the embedded mnist5k, torchvision sets, folders and .npz files.

Everything here returns numpy arrays, so the GUI can show data before torch is imported.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from vae_gui.model.config import BOUNDS, MAX_CLASSES
from vae_gui.model.errors import DatasetError
from vae_gui.model.shipped_files import embedded_dataset

TORCHVISION_SETS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST", "kmnist": "KMNIST"}
BUILTIN_DATASETS = ("mnist5k", *TORCHVISION_SETS)
IDX_FILES = ("train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
             "t10k-labels-idx1-ubyte")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm"}


@dataclass(frozen=True, eq=False)
class DatasetBundle:
    """Train and test images as float32 (N, H, W) in [0, 1], with integer labels."""

    name: str
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    class_names: tuple[str, ...]
    source: str = ""  # what load_dataset takes to load it again: a name, or a file's path

    @property
    def image_shape(self) -> tuple[int, int]:
        return (int(self.train_images.shape[1]), int(self.train_images.shape[2]))


def default_data_root() -> Path:
    """The per-user cache folder where torchvision datasets are downloaded."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vae-gui" / "data"


def load_dataset(
    name: str, data_root: str | os.PathLike | None = None, image_size: int = 28,
    check: Callable[[], None] | None = None,
) -> DatasetBundle:
    """Load a dataset by name (see BUILTIN_DATASETS), or from a .npz file or a folder of images."""
    side = BOUNDS["image_side"]
    if image_size not in side:
        raise DatasetError(f"Image size must be between {side.min} and {side.max} pixels, "
                           f"not {image_size}.")
    if name == "mnist5k":
        return _load_npz(embedded_dataset(), "mnist5k")
    if name in TORCHVISION_SETS:
        return _load_torchvision(name, Path(data_root) if data_root else default_data_root(),
                                 check)
    path = Path(name).expanduser()
    if path.suffix.lower() == ".npz":
        return _load_npz(path, path.stem, image_size, source=str(path.resolve()))
    if path.is_dir():
        return _load_folder(path, image_size)
    raise DatasetError(
        f"Unknown dataset {name!r}: use one of {', '.join(BUILTIN_DATASETS)}, "
        "a .npz file with 'images' and 'labels', or a folder with one sub-folder per class."
    )


def _bundle(
    name: str,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    class_names: tuple[str, ...],
    source: str | None = None,
) -> DatasetBundle:
    """Normalise dtypes and ranges, check consistency and freeze the arrays."""
    arrays = []
    for split, (images, labels) in (("training", train), ("test", test)):
        images = np.asarray(images)
        labels = np.asarray(labels).astype(np.int64).reshape(-1)
        if images.ndim == 3 and len(images) == len(labels) == 0:
            raise DatasetError(
                f"Dataset {name!r} has no {split} images. A fifth of each class is held back "
                "for testing, so give each class at least 3 images."
            )
        if images.ndim != 3 or len(images) != len(labels):
            raise DatasetError(
                f"Dataset {name!r} is malformed: expected N images of shape (H, W) and N labels, "
                f"got images {images.shape} and labels {labels.shape}."
            )
        if images.dtype == np.uint8:
            images = images.astype(np.float32) / 255.0
        else:
            images = images.astype(np.float32)
            if images.max(initial=0) > 1.0:
                images = images / 255.0
        if not np.isfinite(images).all():
            raise DatasetError(f"Dataset {name!r} contains NaN or infinite pixel values.")
        images = np.clip(images, 0.0, 1.0)
        if labels.min() < 0 or labels.max() >= len(class_names):
            raise DatasetError(
                f"Dataset {name!r} has labels outside 0..{len(class_names) - 1}."
            )
        images.setflags(write=False)
        labels.setflags(write=False)
        arrays += [images, labels]
    if arrays[0].shape[1:] != arrays[2].shape[1:]:
        raise DatasetError(f"Dataset {name!r}: train and test images differ in size.")
    return DatasetBundle(name, *arrays, class_names=tuple(class_names),
                         source=source or name)


def stratified_split(
    labels: np.ndarray, test_fraction: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a train/test split that keeps each class's share, reproducibly."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_test = int(round(len(idx) * test_fraction)) if len(idx) > 1 else 0
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def _load_npz(
    path: Path, name: str, image_size: int | None = None, source: str | None = None
) -> DatasetBundle:
    if not path.is_file():
        raise DatasetError(f"Dataset file {path} does not exist.")
    try:
        with np.load(path, allow_pickle=False) as f:
            data = {k: f[k] for k in f.files}
    except Exception as exc:  # noqa: BLE001 - any read failure is the user's file
        raise DatasetError(f"Could not read {path} as a .npz file: {exc}") from exc
    if {"train_images", "train_labels", "test_images", "test_labels"} <= data.keys():
        train = (data["train_images"], data["train_labels"])
        test = (data["test_images"], data["test_labels"])
        all_labels = np.concatenate([train[1], test[1]])
    elif {"images", "labels"} <= data.keys():
        images, labels = data["images"], np.asarray(data["labels"]).reshape(-1)
        if len(images) != len(labels) or len(images) < 2:
            raise DatasetError(f"{path}: 'images' and 'labels' must have the same length >= 2.")
        if not np.issubdtype(labels.dtype, np.integer):
            raise DatasetError(f"{path}: labels must be whole class numbers 0, 1, 2, ..., "
                               f"not {labels.dtype} values.")
        tr, te = stratified_split(labels)
        train, test, all_labels = (images[tr], labels[tr]), (images[te], labels[te]), labels
    else:
        raise DatasetError(
            f"{path} must hold arrays 'images' (N, H, W) and 'labels' (N,), "
            f"but it holds {sorted(data)}."
        )
    all_labels = np.asarray(all_labels)
    if all_labels.size == 0 or not np.issubdtype(all_labels.dtype, np.integer):
        raise DatasetError(f"{path}: labels must be whole class numbers 0, 1, 2, ..., "
                           f"not {all_labels.dtype} values.")
    if all_labels.min() < 0 or all_labels.max() >= MAX_CLASSES:
        raise DatasetError(f"{path}: labels must be class numbers from 0 to {MAX_CLASSES - 1}, "
                           f"but they run from {all_labels.min()} to {all_labels.max()}.")
    if "class_names" in data:
        class_names = tuple(str(c) for c in np.asarray(data["class_names"]).reshape(-1))
    else:
        class_names = tuple(str(i) for i in range(int(all_labels.max()) + 1))
    try:
        return _bundle(name, train, test, class_names, source)
    except DatasetError as exc:
        raise DatasetError(f"{path}: {exc} Fix the file or choose another dataset.") from exc


def _load_folder(root: Path, image_size: int) -> DatasetBundle:
    """One sub-folder per class; every image converted to grayscale and resized."""
    from PIL import Image

    try:
        classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not classes:
            raise DatasetError(f"{root} has no sub-folders: put each class's images in its own "
                               "folder.")
        if len(classes) > MAX_CLASSES:
            raise DatasetError(f"{root} has {len(classes)} class folders; vae-gui handles at "
                               f"most {MAX_CLASSES}.")
        files = [(label, file) for label, folder in enumerate(classes)
                 for file in sorted(folder.iterdir())
                 if file.suffix.lower() in IMAGE_SUFFIXES and not file.name.startswith(".")]
    except OSError as exc:
        raise DatasetError(f"Could not list the images in {root}: {exc.strerror or exc}. "
                           "Check that the folder is readable.") from exc
    images, labels = [], []
    for label, file in files:
        try:
            with Image.open(file) as im:
                im = im.convert("L").resize((image_size, image_size), Image.BILINEAR)
                images.append(np.asarray(im, dtype=np.uint8))
        except Exception as exc:  # noqa: BLE001 - PIL raises many types for a damaged file
            raise DatasetError(f"Could not read image {file} ({exc}); remove or replace it."
                               ) from exc
        labels.append(label)
    if len(images) < 2:
        raise DatasetError(f"{root} holds fewer than two readable images in its class folders.")
    x, y = np.stack(images), np.asarray(labels)
    tr, te = stratified_split(y)
    return _bundle(root.name, (x[tr], y[tr]), (x[te], y[te]), tuple(c.name for c in classes),
                   source=str(root.resolve()))


def _load_torchvision(name: str, root: Path, check: Callable[[], None] | None = None
                      ) -> DatasetBundle:
    """Read the IDX files under root, downloading them first if they are not there; `check`
    is called between download chunks and may raise to cancel."""
    import torchvision
    from vae_gui.model.download import download_raw_files

    cls = getattr(torchvision.datasets, TORCHVISION_SETS[name])
    splits = []
    for train in (True, False):
        raw = root / cls.__name__ / "raw"
        try:
            ds = cls(str(root), train=train, download=False)
        except RuntimeError as exc:
            if "not found" not in str(exc).lower():
                raise DatasetError(
                    f"The {name} files in {raw} are damaged ({exc or type(exc).__name__}); "
                    "delete them so they can be downloaded again."
                ) from exc
            try:
                download_raw_files(cls, raw, check)
                ds = cls(str(root), train=train, download=False)
            except (OSError, ValueError, RuntimeError) as exc:  # network and disk errors
                reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise DatasetError(
                    f"{name} is not in {root} and could not be downloaded ({reason}). Connect "
                    f"to the internet once, or copy its four unpacked IDX files ({IDX_FILES}) "
                    f"into {raw}."
                ) from exc
        except Exception as exc:  # noqa: BLE001 - a corrupt or truncated file
            raise DatasetError(
                f"The {name} files in {raw} are damaged ({exc or type(exc).__name__}); "
                "delete them so they can be downloaded again."
            ) from exc
        if len(ds.data) != len(ds.targets):
            raise DatasetError(
                f"The {name} files in {raw} are damaged: {len(ds.data)} images but "
                f"{len(ds.targets)} labels. Delete them so they can be downloaded again."
            )
        splits.append((ds.data.numpy(), ds.targets.numpy()))
    try:
        return _bundle(name, splits[0], splits[1], tuple(str(c) for c in cls.classes))
    except DatasetError as exc:
        raise DatasetError(f"The {name} files in {root / cls.__name__ / 'raw'} are damaged "
                           f"({exc}); delete them so they can be downloaded again.") from exc
