"""Datasets as in-memory bundles: the embedded mnist5k, torchvision sets, folders and .npz files.

Everything here returns numpy arrays, so the GUI can show data before torch is imported.
"""

from __future__ import annotations

import math
import os
import stat
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from numpy.lib import format as npy_format
from vae_gui.model.config import (
    BOUNDS,
    MAX_CLASS_NAME_CHARS,
    MAX_CLASSES,
    MAX_DATASET_BYTES,
    MAX_DATASET_MB_VARIABLE,
)
from vae_gui.model.errors import DatasetError
from vae_gui.model.shipped_files import embedded_dataset

TORCHVISION_SETS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST", "kmnist": "KMNIST"}
BUILTIN_DATASETS = ("mnist5k", *TORCHVISION_SETS)
IDX_FILES = ("train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
             "t10k-labels-idx1-ubyte")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm"}

# The arrays a dataset .npz holds: one set (split here) or its own split; any other member is
# never inflated.
_ONE_SET_KEYS = ("images", "labels")
_SPLIT_KEYS = ("train_images", "train_labels", "test_images", "test_labels")
_MB = 1024**2
_READ_BYTES = 4 * _MB  # read from an archive member at a time
_CHUNK_ELEMENTS = 2**22  # pixels checked or converted at a time (16 MB as float32)
# The most a valid 'class_names' array needs: MAX_CLASSES names as 4-byte characters.
_MAX_CLASS_NAMES_BYTES = MAX_CLASSES * MAX_CLASS_NAME_CHARS * 4


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
    """Load a dataset by name (see BUILTIN_DATASETS), or from a .npz file or a folder of images.

    `check` is called between download chunks and before each image of a folder is read; it
    may raise to cancel the load.
    """
    side = BOUNDS["image_side"]
    if image_size not in side:
        raise DatasetError(f"Image size must be between {side.min} and {side.max} pixels, "
                           f"not {image_size}.")
    if not name.strip():
        # Path("") is the current folder, which would be scanned as a dataset.
        raise DatasetError(f"No dataset named: the name is empty. Choose one of "
                           f"{', '.join(BUILTIN_DATASETS)}, a .npz file or a folder of images.")
    if name == "mnist5k":
        return _load_npz(embedded_dataset(), "mnist5k")
    if name in TORCHVISION_SETS:
        return _load_torchvision(name, Path(data_root) if data_root else default_data_root(),
                                 check)
    path = Path(name).expanduser()
    if path.suffix.lower() == ".npz":
        return _load_npz(path, path.stem, image_size, source=str(path.resolve()))
    if path.is_dir():
        return _load_folder(path, image_size, check)
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
    """Check a training and a test set, convert their pixels to float32 in [0, 1] (the rule is
    in _check_pixels) and freeze them."""
    arrays = []
    for split, (images, labels) in (("training", train), ("test", test)):
        images, labels = _checked(name, split, images, labels, len(class_names))
        arrays += [_to_float32(images), labels]
    return _frozen(name, arrays, class_names, source)


def _split_bundle(
    name: str, images: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...],
    source: str | None = None,
) -> DatasetBundle:
    """One set of images, split by stratified_split; each split is converted to float32 straight
    from the full set, so that no other copy of the whole set is ever made."""
    images, labels = _checked(name, "", images, labels, len(class_names))
    rows = stratified_split(labels)
    for split, picked in zip(("training", "test"), rows, strict=True):
        if len(picked) == 0:
            raise _no_images(name, split)
    arrays = []
    for picked in rows:
        arrays += [_to_float32(images, picked), labels[picked]]
    return _frozen(name, arrays, class_names, source)


def _no_images(name: str, split: str) -> DatasetError:
    """`split` is "training", "test", or "" for the whole set."""
    return DatasetError(
        f"Dataset {name!r} has no {split}{' ' if split else ''}images. A fifth of each class "
        "is held back for testing, so give each class at least 3 images."
    )


def _checked(name: str, split: str, images: np.ndarray, labels: np.ndarray,
             n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """The images and labels (as int64) of one split, refused unless they fit together."""
    images = np.asarray(images)
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    if images.ndim == 3 and len(images) == len(labels) == 0:
        raise _no_images(name, split)
    if images.ndim != 3 or len(images) != len(labels):
        raise DatasetError(
            f"Dataset {name!r} is malformed: expected N images of shape (H, W) and N labels, "
            f"got images {images.shape} and labels {labels.shape}."
        )
    _check_pixels(name, images, split)
    if labels.min() < 0 or labels.max() >= n_classes:
        raise DatasetError(f"Dataset {name!r} has labels outside 0..{n_classes - 1}.")
    return images, labels


def _frozen(name: str, arrays: list[np.ndarray], class_names: tuple[str, ...],
            source: str | None) -> DatasetBundle:
    """The bundle of (train images, train labels, test images, test labels), read-only."""
    if arrays[0].shape[1:] != arrays[2].shape[1:]:
        raise DatasetError(f"Dataset {name!r}: train and test images differ in size.")
    for array in arrays:
        array.setflags(write=False)
    return DatasetBundle(name, *arrays, class_names=tuple(class_names), source=source or name)


def _row_chunks(images: np.ndarray) -> range:
    """Starts of row blocks of about _CHUNK_ELEMENTS pixels, so that temporaries stay small."""
    per_row = max(1, int(np.prod(images.shape[1:], dtype=np.int64)))
    return range(0, len(images), max(1, _CHUNK_ELEMENTS // per_row))


def _check_pixels(name: str, images: np.ndarray, split: str = "") -> None:
    """Refuses pixels whose range is not stated by their dtype: uint8 is 0..255, bool 0 or 1,
    floats must lie within [0, 1]. Guessing (floats above 1 divided by 255) would silently turn
    floats up to 1.2 nearly black and uint16 images nearly white. `split` names the images
    ("training", "test"; "" for the whole set)."""
    kind = images.dtype.kind
    if images.dtype == np.uint8 or kind == "b" or images.size == 0:
        return
    advice = ("store uint8 images 0..255 or float images 0..1, e.g. images.astype(np.uint8) "
              "for integers 0..255, or images / images.max() for other non-negative values.")
    if kind not in "iuf":
        raise DatasetError(f"Dataset {name!r} has {images.dtype} pixels; {advice}")
    lo, hi = None, None
    step = _row_chunks(images).step
    for start in _row_chunks(images):
        part = images[start:start + step]
        if kind == "f" and not np.isfinite(part).all():
            raise DatasetError(f"Dataset {name!r} contains NaN or infinite pixel values; "
                               "replace them with values from 0 to 1.")
        part_lo, part_hi = part.min(), part.max()
        lo = part_lo if lo is None else min(lo, part_lo)
        hi = part_hi if hi is None else max(hi, part_hi)
    if kind == "f" and lo >= 0 and hi <= 1:
        return
    shown = (f"{lo:g} to {hi:g}" if kind == "f" else f"{int(lo)} to {int(hi)}")
    where = f" in its {split} images" if split else ""
    raise DatasetError(f"Dataset {name!r} has {images.dtype} pixels from {shown}{where}, and "
                       f"vae-gui does not guess what range they mean: {advice}")


def _to_float32(images: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """Pixels checked by _check_pixels as float32 in [0, 1]: uint8 divided by 255, bool as 0 and
    1, floats as they are. `rows` picks images; the conversion goes a block at a time, so the
    only large allocation is the result."""
    if rows is None and images.dtype == np.float32 and images.flags.c_contiguous:
        return images  # already in range: no copy
    n = len(images) if rows is None else len(rows)
    out = np.empty((n, *images.shape[1:]), np.float32)
    step = _row_chunks(images).step
    for start in range(0, n, step):
        stop = start + step
        out[start:stop] = images[start:stop] if rows is None else images[rows[start:stop]]
    if images.dtype == np.uint8:
        out /= 255  # in place: float32 division, as images.astype(np.float32) / 255 gives
    return out


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


def _dataset_byte_limit() -> int:
    """MAX_DATASET_BYTES, or as many megabytes as the environment variable says."""
    text = os.environ.get(MAX_DATASET_MB_VARIABLE, "").strip()
    if not text:
        return MAX_DATASET_BYTES
    try:
        megabytes = int(text)
    except ValueError:
        megabytes = 0
    if megabytes < 1:
        raise DatasetError(f"{MAX_DATASET_MB_VARIABLE} is {text!r}, but it must be a whole "
                           "number of megabytes such as 4096; fix it or unset it to use the "
                           f"default of {MAX_DATASET_BYTES // _MB:,} MB.")
    return megabytes * _MB


def _check_size(what: str, n_bytes: int) -> None:
    """Refuses `n_bytes` over the limit; `what` starts the sentence ("x.npz declares arrays
    of")."""
    limit = _dataset_byte_limit()
    if n_bytes > limit:
        raise DatasetError(f"{what} {n_bytes / _MB:,.0f} MB, which exceeds the limit of "
                           f"{limit // _MB:,} MB; set {MAX_DATASET_MB_VARIABLE} to raise it.")


def _open_regular(path: Path, advice: str) -> BinaryIO:
    """`path` opened for reading if it is a regular file. Anything else is refused, ending with
    `advice`, before it is opened (a pipe would block, a device may never end), and again
    after, in case one was swapped in meanwhile. OSError when it cannot be opened."""
    _refuse_irregular(path, os.stat(path).st_mode, advice)
    # Non-blocking, so that a pipe swapped in after the check cannot block the open itself.
    non_blocking = getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, os.O_RDONLY | non_blocking | getattr(os, "O_BINARY", 0))
    try:
        _refuse_irregular(path, os.fstat(fd).st_mode, advice)
        if non_blocking:
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _refuse_irregular(path: Path, mode: int, advice: str) -> None:
    if stat.S_ISDIR(mode):
        raise DatasetError(f"{path} is a folder, not a file; {advice}")
    if not stat.S_ISREG(mode):
        raise DatasetError(f"{path} is not a regular file (a pipe, device or socket); {advice}")


@dataclass(frozen=True)
class _NpyHeader:
    """What the .npy header of an archive member declares, before any of its data is read."""

    shape: tuple[int, ...]
    fortran_order: bool
    dtype: np.dtype
    offset: int  # where the data starts in the member

    @property
    def count(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.count * self.dtype.itemsize


def _npz_members(archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """The archive's members by array name, as numpy names them ("images.npy" is "images")."""
    members: dict[str, zipfile.ZipInfo] = {}
    for info in archive.infolist():
        if info.filename.endswith(".npy"):
            members[info.filename[:-4]] = info
        else:
            members.setdefault(info.filename, info)
    return members


def _read_npy_header(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo,
                     key: str) -> _NpyHeader:
    """The member's .npy header; inflating it reads a few hundred bytes, never the data."""
    with archive.open(info) as stream:
        version = npy_format.read_magic(stream)
        if version == (1, 0):
            shape, fortran_order, dtype = npy_format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran_order, dtype = npy_format.read_array_header_2_0(stream)
        else:
            raise ValueError(f"array {key!r} has .npy format version {version}, which vae-gui "
                             "does not read")
        offset = stream.tell()
    if dtype.hasobject:
        raise DatasetError(f"Could not read {path}: its array {key!r} holds Python objects, "
                           "which vae-gui never unpickles because that can run code hidden in "
                           "the file. Save it as numbers or strings.")
    if any(n < 0 for n in shape):
        raise ValueError(f"array {key!r} declares the impossible shape {shape}")
    header = _NpyHeader(tuple(shape), bool(fortran_order), dtype, offset)
    if info.file_size < offset + header.nbytes:
        raise ValueError(f"array {key!r} is truncated: it declares {header.nbytes:,} bytes of "
                         f"data but its member holds {max(0, info.file_size - offset):,}")
    return header


def _read_npy_data(archive: zipfile.ZipFile, info: zipfile.ZipInfo, key: str,
                   header: _NpyHeader) -> np.ndarray:
    """The member's array, reading exactly the bytes its header declares and not one more,
    whatever the member holds after them, straight into the array (no intermediate copy)."""
    flat = np.empty(header.count, header.dtype)
    with archive.open(info) as stream:
        stream.seek(header.offset)  # inflates the header again: a few hundred bytes
        if header.nbytes:
            buffer, done = flat.view(np.uint8), 0
            while done < header.nbytes:
                got = stream.readinto(buffer[done:done + _READ_BYTES])
                if not got:
                    raise ValueError(f"array {key!r} is truncated: it declares "
                                     f"{header.nbytes:,} bytes of data but holds {done:,}")
                done += got
    if header.fortran_order:
        return flat.reshape(header.shape[::-1]).transpose()
    return flat.reshape(header.shape)


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """The arrays of a dataset .npz that are used, after their declared sizes are checked;
    the other members are never inflated."""
    try:
        with _open_regular(path, "choose a .npz file.") as file, \
                zipfile.ZipFile(file) as archive:
            members = _npz_members(archive)
            if set(_SPLIT_KEYS) <= members.keys():
                keys = _SPLIT_KEYS
            elif set(_ONE_SET_KEYS) <= members.keys():
                keys = _ONE_SET_KEYS
            else:
                held = sorted(members)
                listed = ", ".join(map(repr, held[:20])) + (", ..." if len(held) > 20 else "")
                raise DatasetError(f"{path} must hold arrays 'images' (N, H, W) and 'labels' "
                                   f"(N,), but it holds [{listed}].")
            if "class_names" in members:
                keys = (*keys, "class_names")
            headers = {k: _read_npy_header(path, archive, members[k], k) for k in keys}
            _check_npz_headers(path, headers)
            return {k: _read_npy_data(archive, members[k], k, headers[k]) for k in keys}
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise DatasetError(f"Dataset file {path} does not exist.") from exc
    except DatasetError:
        raise
    except Exception as exc:  # noqa: BLE001 - any read failure is the user's file
        reason = (exc.strerror if isinstance(exc, OSError) else None) or exc
        raise DatasetError(f"Could not read {path} as a .npz file: {reason}") from exc


def _check_npz_headers(path: Path, headers: dict[str, _NpyHeader]) -> None:
    """Refuses, before any data is inflated, what the headers alone show to be wrong or too
    large: sizes over the limit, labels that are not integers, unusable class names."""
    _check_size(f"{path} declares arrays of", sum(h.nbytes for h in headers.values()))
    pixels = [h for k, h in headers.items() if k.endswith("images")]
    n_pixels = sum(h.count for h in pixels)
    if all(len(h.shape) == 3 for h in pixels):
        n_images = sum(h.shape[0] for h in pixels)
        side = "x".join(str(s) for s in pixels[0].shape[1:])
        what = f"{path} holds {n_images:,} images of {side} pixels; as float32 they take"
    else:  # malformed: _checked says how, once the size is known to be safe to read
        what = f"The images in {path} as float32 take"
    _check_size(what, 4 * n_pixels)
    for key, header in headers.items():
        if key.endswith("labels") and header.dtype.kind not in "iu":
            raise DatasetError(f"{path}: labels must be whole class numbers 0, 1, 2, ..., "
                               f"not {header.dtype} values.")
    names = headers.get("class_names")
    if names is None:
        return
    if names.dtype.kind not in "US":
        raise DatasetError(f"{path}: 'class_names' must be an array of strings, not "
                           f"{names.dtype} values; save it as np.array(['zero', 'one', ...]).")
    if names.count > MAX_CLASSES:
        raise DatasetError(f"{path} has {names.count:,} class names; vae-gui handles at most "
                           f"{MAX_CLASSES}. Fix the file or choose another dataset.")
    if names.nbytes > _MAX_CLASS_NAMES_BYTES:
        raise DatasetError(
            f"{path}: 'class_names' takes {names.nbytes:,} bytes, more than "
            f"{MAX_CLASSES} names of {MAX_CLASS_NAME_CHARS} characters need; save it as "
            "np.array(names), which is only as wide as the longest name."
        )


def _class_names(path: Path, array: np.ndarray) -> tuple[str, ...]:
    """The names in a 'class_names' array (bytes decoded as UTF-8), each of bounded length."""
    flat = array.reshape(-1)
    if flat.dtype.kind == "S":
        names = tuple(bytes(c).decode("utf-8", "replace") for c in flat)
    else:
        names = tuple(str(c) for c in flat)
    for number, text in enumerate(names):
        if len(text) > MAX_CLASS_NAME_CHARS:
            raise DatasetError(
                f"{path}: class name {number} is {len(text):,} characters long; class names "
                f"may have at most {MAX_CLASS_NAME_CHARS}, so shorten it."
            )
    return names


def _load_npz(
    path: Path, name: str, image_size: int | None = None, source: str | None = None
) -> DatasetBundle:
    """A dataset .npz: 'images' and 'labels' (split here), or its own train and test arrays;
    'class_names' is optional."""
    data = _read_npz(path)
    labels = {k: v.reshape(-1) for k, v in data.items() if k.endswith("labels")}
    one_set = "images" in data
    if one_set:
        all_labels = labels["labels"]
        if data["images"].ndim != 3:
            raise DatasetError(
                f"{path}: Dataset {name!r} is malformed: expected N images of shape (H, W) and "
                f"N labels, got images {data['images'].shape} and labels {all_labels.shape}. "
                "Fix the file or choose another dataset."
            )
        if len(data["images"]) != len(all_labels) or len(all_labels) < 2:
            raise DatasetError(f"{path}: 'images' and 'labels' must have the same length >= 2.")
    else:
        all_labels = np.concatenate([labels["train_labels"], labels["test_labels"]])
    if all_labels.size == 0:
        raise DatasetError(f"{path}: labels must be whole class numbers 0, 1, 2, ..., "
                           "but there are none.")
    low, high = int(all_labels.min()), int(all_labels.max())
    if low < 0 or high >= MAX_CLASSES:
        raise DatasetError(f"{path}: labels must be class numbers from 0 to {MAX_CLASSES - 1}, "
                           f"but they run from {low} to {high}.")
    if "class_names" in data:
        class_names = _class_names(path, data["class_names"])
        if high >= len(class_names):
            raise DatasetError(
                f"{path} has labels up to {high}, but its 'class_names' holds only "
                f"{len(class_names)} name{'' if len(class_names) == 1 else 's'}: add a name "
                f"for each class number from 0 to {high}, or leave 'class_names' out to name "
                "the classes by their numbers."
            )
    else:
        class_names = tuple(str(i) for i in range(high + 1))
    try:
        if one_set:
            return _split_bundle(name, data["images"], all_labels, class_names, source)
        return _bundle(name, (data["train_images"], labels["train_labels"]),
                       (data["test_images"], labels["test_labels"]), class_names, source)
    except DatasetError as exc:
        raise DatasetError(f"{path}: {exc} Fix the file or choose another dataset.") from exc


def _load_folder(root: Path, image_size: int,
                 check: Callable[[], None] | None = None) -> DatasetBundle:
    """One sub-folder per class; every image converted to grayscale and resized. `check` is
    called between class folders and before each image is opened; it may raise to cancel."""
    from PIL import Image

    check = check or (lambda: None)
    try:
        classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not classes:
            raise DatasetError(f"{root} has no sub-folders: put each class's images in its own "
                               "folder.")
        if len(classes) > MAX_CLASSES:
            raise DatasetError(f"{root} has {len(classes)} class folders; vae-gui handles at "
                               f"most {MAX_CLASSES}.")
        for folder in classes:
            if len(folder.name) > MAX_CLASS_NAME_CHARS:
                raise DatasetError(
                    f"{root} has a class folder whose name is {len(folder.name):,} characters "
                    f"long ({folder.name[:40]}...); class names may have at most "
                    f"{MAX_CLASS_NAME_CHARS}, so rename it."
                )
        files = []
        for label, folder in enumerate(classes):
            check()
            files += [(label, file) for file in sorted(folder.iterdir())
                      if file.suffix.lower() in IMAGE_SUFFIXES and not file.name.startswith(".")]
    except OSError as exc:
        raise DatasetError(f"Could not list the images in {root}: {exc.strerror or exc}. "
                           "Check that the folder is readable.") from exc
    if len(files) < 2:
        raise DatasetError(f"{root} holds fewer than two readable images in its class folders.")
    _check_size(f"{root} holds {len(files):,} images; at {image_size}x{image_size} pixels as "
                "float32 they take", 4 * len(files) * image_size**2)
    images = np.empty((len(files), image_size, image_size), np.uint8)
    labels = np.empty(len(files), np.int64)
    for i, (label, file) in enumerate(files):
        check()
        try:
            stream = _open_regular(file, "remove it from the folder.")
        except OSError as exc:
            raise DatasetError(f"Could not read image {file} ({exc.strerror or exc}); remove "
                               "or replace it.") from exc
        with stream:
            try:
                with Image.open(stream) as im:
                    im = im.convert("L").resize((image_size, image_size), Image.BILINEAR)
                    images[i] = np.asarray(im, dtype=np.uint8)
            except Exception as exc:  # noqa: BLE001 - PIL raises many types for a damaged file
                raise DatasetError(f"Could not read image {file} ({exc}); remove or replace "
                                   "it.") from exc
        labels[i] = label
    return _split_bundle(root.name, images, labels, tuple(c.name for c in classes),
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
