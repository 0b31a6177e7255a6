"""Datasets as in-memory bundles: the embedded mnist5k, torchvision sets, folders and .npz files.

Everything here returns numpy arrays, so the GUI can show data before torch is imported.
"""

from __future__ import annotations

import dataclasses
import math
import os
import stat
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
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
from vae_gui.model.memory_needs import available_bytes
from vae_gui.model.shipped_files import embedded_dataset

TORCHVISION_SETS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST", "kmnist": "KMNIST"}
# "shapes": coloured shapes generated on the fly (model/shapes.py), the offline colour demo.
BUILTIN_DATASETS = ("mnist5k", "shapes", *TORCHVISION_SETS)
IDX_FILES = ("train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
             "t10k-labels-idx1-ubyte")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm"}

# The arrays a dataset .npz holds: one set (split here) or its own split; any other member is
# never inflated.
_ONE_SET_KEYS = ("images", "labels")
_SPLIT_KEYS = ("train_images", "train_labels", "test_images", "test_labels")
_MB = 1024**2
_READ_BYTES = 4 * _MB  # read from an archive member at a time
_LIST_CHECK_EVERY = 1000  # folder entries listed between checks and reports
_CHUNK_ELEMENTS = 2**22  # pixels checked or converted at a time (16 MB as float32)
# The most a valid 'class_names' array needs: MAX_CLASSES names as 4-byte characters.
_MAX_CLASS_NAMES_BYTES = MAX_CLASSES * MAX_CLASS_NAME_CHARS * 4

# A folder whose pixels as float32 take more than the streaming threshold is not read into
# memory: training reads its images from disk, batch by batch (model/folder_stream.py). The
# threshold is the dataset byte limit (what the in-memory path may hold at most) or half the
# memory available when the folder is loaded, whichever is smaller; this variable, a whole
# number of megabytes (0: stream every folder), replaces it.
STREAM_ABOVE_MB_VARIABLE = "VAE_GUI_STREAM_ABOVE_MB"
STREAM_MEMORY_SHARE = 0.5
# A folder too large to read whole cannot be checked file by file for colour before training:
# it is colour when any of this many files, evenly spaced over its sorted list, has colour.
COLOUR_SAMPLE_FILES = 64
# What a streamed folder keeps in memory: a fixed subset of its test split (the test loss and
# the clouds use it) and of its training split (for the clouds' training points), each at
# most this many images, and together at most HELD_BYTES as float32 (and half the byte limit),
# three quarters of it for the test images.
HELD_TEST_IMAGES = 10_000
HELD_TRAIN_IMAGES = 2_000
HELD_BYTES = 256 * _MB
HELD_SEED = 0
# Loading reports its progress at most this often (seconds), and always at the end of a stage.
PROGRESS_INTERVAL = 0.1


@dataclass(frozen=True)
class LoadProgress:
    """How far the load of a folder has got: `stage` "listing" counts the image files found so
    far (`total` is not known yet); "reading" counts the images read of `total`."""

    stage: str
    done: int
    total: int | None
    folder: str

    def describe(self) -> str:
        """One line for a status bar: 'Listing images in /data/big: 12,000 so far'."""
        if self.stage == "listing":
            return f"Listing images in {self.folder}: {self.done:,} so far"
        return f"Reading images of {self.folder}: {self.done:,} of {self.total:,}"


class _Reporter:
    """Calls `progress` at most every PROGRESS_INTERVAL seconds, and whenever `final`."""

    def __init__(self, progress: Callable[[LoadProgress], None] | None, folder: Path) -> None:
        self.progress = progress
        self.folder = str(folder)
        self._last = -math.inf

    def __call__(self, stage: str, done: int, total: int | None = None,
                 final: bool = False) -> None:
        if self.progress is None:
            return
        now = time.monotonic()
        if final or now - self._last >= PROGRESS_INTERVAL:
            self._last = now
            self.progress(LoadProgress(stage, done, total, self.folder))


@dataclass(frozen=True, eq=False)
class FolderStream:
    """A folder dataset read from disk while training: every file of its stratified train and
    test splits, in split order (file i of the training split is the image the in-memory path
    would hold at row i), and how each is converted: read_image at `image_size`, then its first
    channel when `channels` is 1 (a grey picture's grey level, as the in-memory path keeps it),
    else RGB. `held_test` and `held_train` are the rows of each split whose images the bundle
    holds in memory as its test_images and train_images."""

    root: str
    train_files: tuple[str, ...]
    train_labels: np.ndarray
    test_files: tuple[str, ...]
    test_labels: np.ndarray
    image_size: int
    channels: int
    held_test: np.ndarray
    held_train: np.ndarray
    float32_bytes: int  # what the whole folder would take in memory
    threshold_bytes: int  # the streaming threshold it is over
    colour_rule: str = field(default="")  # how the channels were decided, in words

    @property
    def all_test_held(self) -> bool:
        return len(self.held_test) == len(self.test_files)

    def test_set(self) -> str:
        """What the test loss and the clouds are measured on, in words."""
        n, k = len(self.test_files), len(self.held_test)
        if k == n:
            return f"all {n:,} test images"
        return f"a fixed subset of {k:,} of the {n:,} test images (seed {HELD_SEED})"

    def reason(self) -> str:
        """Why this folder streams: its size against the threshold."""
        return (f"its {len(self.train_files) + len(self.test_files):,} images take "
                f"{self.float32_bytes / _MB:,.0f} MB as float32, over the streaming threshold "
                f"of {self.threshold_bytes / _MB:,.0f} MB")


@dataclass(frozen=True, eq=False)
class DatasetBundle:
    """Train and test images as float32 in [0, 1], (N, H, W) grey or (N, H, W, 3) colour,
    with integer labels."""

    name: str
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    class_names: tuple[str, ...]
    source: str = ""  # what load_dataset takes to load it again: a name, or a file's path
    # A folder too large for memory: every file, read from disk while training. The arrays
    # above then hold only fixed subsets of each split (FolderStream.held_test, held_train).
    stream: FolderStream | None = None

    @property
    def image_shape(self) -> tuple[int, ...]:
        """(H, W) for grey images, (H, W, 3) for colour: what ModelConfig.image_shape holds."""
        return tuple(int(s) for s in self.train_images.shape[1:])

    @property
    def channels(self) -> int:
        return 3 if self.train_images.ndim == 4 else 1

    @property
    def n_train(self) -> int:
        """Images in the whole training split (more than train_images holds when streamed)."""
        return len(self.stream.train_files) if self.stream else len(self.train_images)

    @property
    def n_test(self) -> int:
        """Images in the whole test split (more than test_images holds when streamed)."""
        return len(self.stream.test_files) if self.stream else len(self.test_images)

    def test_set(self) -> str:
        """What the test loss and the clouds are measured on, in words."""
        if self.stream is not None:
            return self.stream.test_set()
        return f"all {len(self.test_images):,} test images"


def default_data_root() -> Path:
    """The per-user cache folder where torchvision datasets are downloaded."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vae-gui" / "data"


def load_dataset(
    name: str, data_root: str | os.PathLike | None = None, image_size: int = 28,
    check: Callable[[], None] | None = None,
    progress: Callable[[LoadProgress], None] | None = None,
) -> DatasetBundle:
    """Load a dataset by name (see BUILTIN_DATASETS), or from a .npz file or a folder of images.

    `check` is called between download chunks and before each image of a folder is read; it
    may raise to cancel the load. `progress` hears how a folder's listing and reading go (at
    most every PROGRESS_INTERVAL seconds). A folder over stream_threshold() is streamed: see
    FolderStream.
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
    if name == "shapes":
        from vae_gui.model.shapes import shapes_dataset

        train_images, train_labels, test_images, test_labels, class_names = shapes_dataset()
        return _bundle("shapes", (train_images, train_labels), (test_images, test_labels),
                       class_names)
    if name in TORCHVISION_SETS:
        return _load_torchvision(name, Path(data_root) if data_root else default_data_root(),
                                 check)
    path = Path(name).expanduser()
    if path.suffix.lower() == ".npz":
        return _load_npz(path, path.stem, image_size, source=str(path.resolve()))
    if path.is_dir():
        return _load_folder(path, image_size, check, progress)
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
    images = _one_channel_as_grey(np.asarray(images))
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    if _image_array(images) and len(images) == len(labels) == 0:
        raise _no_images(name, split)
    if not _image_array(images) or len(images) != len(labels):
        raise DatasetError(f"Dataset {name!r} is malformed: expected {IMAGE_ARRAY}, got images "
                           f"{images.shape} and labels {labels.shape}.")
    _check_pixels(name, images, split)
    if labels.min() < 0 or labels.max() >= n_classes:
        raise DatasetError(f"Dataset {name!r} has labels outside 0..{n_classes - 1}.")
    return images, labels


IMAGE_ARRAY = "N images of shape (H, W), or (H, W, 3) for RGB colour, and N labels"


def _image_array(images: np.ndarray) -> bool:
    """Whether an array holds grey (N, H, W) or RGB (N, H, W, 3) images."""
    return images.ndim == 3 or (images.ndim == 4 and images.shape[3] == 3)


def _one_channel_as_grey(images: np.ndarray) -> np.ndarray:
    """(N, H, W, 1) as the grey (N, H, W) it is; anything else unchanged."""
    return images[..., 0] if images.ndim == 4 and images.shape[3] == 1 else images


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
    if all(len(h.shape) in (3, 4) for h in pixels):
        n_images = sum(h.shape[0] for h in pixels)
        side = "x".join(str(s) for s in pixels[0].shape[1:3])
        colour = " in colour" if len(pixels[0].shape) == 4 and pixels[0].shape[3] > 1 else ""
        what = f"{path} holds {n_images:,} images of {side} pixels{colour}; as float32 they take"
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
        if not _image_array(_one_channel_as_grey(data["images"])):
            raise DatasetError(
                f"{path}: Dataset {name!r} is malformed: expected {IMAGE_ARRAY}, got images "
                f"{data['images'].shape} and labels {all_labels.shape}. Fix the file or choose "
                "another dataset."
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


def _load_folder(root: Path, image_size: int, check: Callable[[], None] | None = None,
                 progress: Callable[[LoadProgress], None] | None = None) -> DatasetBundle:
    """One sub-folder per class; every image resized, in colour when any image of the folder
    has colour (RGB, channels last), else grey. `check` is called between class folders and
    before each image is opened; it may raise to cancel. A folder over stream_threshold()
    is streamed instead (_stream_folder)."""
    check = check or (lambda: None)
    report = _Reporter(progress, root)
    classes, files = folder_files(root, check, report)
    grey_bytes = 4 * len(files) * image_size**2
    threshold = stream_threshold()
    if 3 * grey_bytes > threshold:
        # Its size decides here, and that needs its channels: decided from a sample, since
        # reading every file to know is what streaming avoids.
        colour, rule = _sampled_colour(files, image_size, check)
        if (3 if colour else 1) * grey_bytes > threshold:
            return _stream_folder(root, classes, files, image_size, 3 if colour else 1, rule,
                                  threshold, check, report)
    _check_size(f"{root} holds {len(files):,} images; at {image_size}x{image_size} pixels as "
                "float32 they take", grey_bytes)
    images = np.empty((len(files), image_size, image_size, 3), np.uint8)
    labels = np.empty(len(files), np.int64)
    colour = False
    for i, (label, file) in enumerate(files):
        check()
        images[i] = read_image(file, image_size)
        colour = colour or has_colour(images[i])
        labels[i] = label
        report("reading", i + 1, len(files), final=i + 1 == len(files))
    if colour:
        _check_size(f"{root} holds {len(files):,} colour images; at {image_size}x{image_size} "
                    "pixels and 3 channels as float32 they take", 12 * len(files) * image_size**2)
    else:  # grey stays grey: one channel, a third of the memory
        images = np.ascontiguousarray(images[..., 0])
    return _split_bundle(root.name, images, labels, tuple(c.name for c in classes),
                         source=str(root.resolve()))


def stream_threshold() -> int:
    """The float32 size above which a folder is streamed from disk rather than held in
    memory: STREAM_ABOVE_MB_VARIABLE's megabytes, else the smaller of the dataset byte limit
    and STREAM_MEMORY_SHARE of the memory available now."""
    text = os.environ.get(STREAM_ABOVE_MB_VARIABLE, "").strip()
    if text:
        try:
            megabytes = int(text)
        except ValueError:
            megabytes = -1
        if megabytes < 0:
            raise DatasetError(f"{STREAM_ABOVE_MB_VARIABLE} is {text!r}, but it must be a whole "
                               "number of megabytes such as 2048 (0 streams every folder); fix "
                               "it or unset it to stream only folders too large for memory.")
        return megabytes * _MB
    limit = _dataset_byte_limit()
    available = available_bytes()
    return limit if available is None else min(limit, int(available * STREAM_MEMORY_SHARE))


def _sampled_colour(files: list[tuple[int, Path]], image_size: int,
                    check: Callable[[], None]) -> tuple[bool, str]:
    """Whether any of COLOUR_SAMPLE_FILES files, evenly spaced over the list, has colour;
    and that rule in words."""
    n = len(files)
    k = min(n, COLOUR_SAMPLE_FILES)
    picked = np.unique(np.round(np.linspace(0, n - 1, k)).astype(np.int64))
    for i in picked:
        check()
        if has_colour(read_image(files[i][1], image_size)):
            return True, (f"colour: file {files[i][1]}, one of {len(picked)} evenly spaced "
                          "over the folder, has colour")
    if len(picked) == n:
        return False, "grey: no file has colour"
    return False, (f"grey: none of {len(picked)} files evenly spaced over the folder has "
                   "colour (in any other file with colour only the red channel is used)")


def _held_rows(n: int, k: int, seed: int) -> np.ndarray:
    """All of range(n), or a fixed random sorted subset of k rows."""
    if n <= k:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, k, replace=False))


def _read_images(files: list[Path], image_size: int, channels: int,
                 check: Callable[[], None], on_read: Callable[[], None]) -> np.ndarray:
    """Files as float32 in [0, 1], converted as _load_folder converts a grey (the first
    channel) or colour folder."""
    images = np.empty((len(files), image_size, image_size, 3), np.uint8)
    for i, file in enumerate(files):
        check()
        images[i] = read_image(file, image_size)
        on_read()
    if channels == 1:
        images = np.ascontiguousarray(images[..., 0])
    return _to_float32(images)


def _stream_folder(root: Path, classes: list[Path], files: list[tuple[int, Path]],
                   image_size: int, channels: int, colour_rule: str, threshold: int,
                   check: Callable[[], None], report: _Reporter) -> DatasetBundle:
    """A folder too large for memory: the same stratified split as _load_folder's, every
    file listed in a FolderStream, and only fixed subsets of each split read (see
    HELD_TEST_IMAGES)."""
    name = root.name
    labels = np.fromiter((label for label, _ in files), np.int64, len(files))
    train_rows, test_rows = stratified_split(labels)
    for split, rows in (("training", train_rows), ("test", test_rows)):
        if len(rows) == 0:
            raise _no_images(name, split)
    per_image = 4 * channels * image_size**2
    budget = min(HELD_BYTES, _dataset_byte_limit() // 2)
    k_test = max(1, min(HELD_TEST_IMAGES, budget * 3 // 4 // per_image))
    k_train = max(1, min(HELD_TRAIN_IMAGES, budget // 4 // per_image))
    held_test = _held_rows(len(test_rows), k_test, HELD_SEED)
    held_train = _held_rows(len(train_rows), k_train, HELD_SEED + 1)
    total = len(held_test) + len(held_train)
    done = [0]

    def on_read() -> None:
        done[0] += 1
        report("reading", done[0], total, final=done[0] == total)

    arrays = []
    for rows, held in ((train_rows, held_train), (test_rows, held_test)):
        arrays += [_read_images([files[r][1] for r in rows[held]], image_size, channels, check,
                                on_read), labels[rows[held]]]
    stream = FolderStream(
        root=str(root.resolve()),
        train_files=tuple(str(files[r][1]) for r in train_rows),
        train_labels=labels[train_rows],
        test_files=tuple(str(files[r][1]) for r in test_rows),
        test_labels=labels[test_rows],
        image_size=image_size, channels=channels, held_test=held_test, held_train=held_train,
        float32_bytes=channels * 4 * len(files) * image_size**2, threshold_bytes=threshold,
        colour_rule=colour_rule)
    for array in (stream.train_labels, stream.test_labels, held_test, held_train):
        array.setflags(write=False)
    bundle = _frozen(name, arrays, tuple(c.name for c in classes), str(root.resolve()))
    return dataclasses.replace(bundle, stream=stream)


def folder_files(root: Path, check: Callable[[], None] | None = None,
                 report: Callable[..., None] | None = None,
                 ) -> tuple[list[Path], list[tuple[int, Path]]]:
    """A class folder dataset's class folders, and its images as (label, file), sorted.
    `report("listing", files_so_far)` hears how the listing goes."""
    check = check or (lambda: None)
    report = report or (lambda *args, **kwargs: None)
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
            found = []
            for k, file in enumerate(folder.iterdir(), 1):
                if k % _LIST_CHECK_EVERY == 0:  # a class of a million files: cancellable
                    check()
                    report("listing", len(files) + len(found))
                if file.suffix.lower() in IMAGE_SUFFIXES and not file.name.startswith("."):
                    found.append(file)
            files += [(label, file) for file in sorted(found)]
            report("listing", len(files), final=label == len(classes) - 1)
    except OSError as exc:
        raise DatasetError(f"Could not list the images in {root}: {exc.strerror or exc}. "
                           "Check that the folder is readable.") from exc
    if len(files) < 2:
        raise DatasetError(f"{root} holds fewer than two readable images in its class folders.")
    return classes, files


def read_image(file: Path, image_size: int) -> np.ndarray:
    """One image file as uint8 RGB (image_size, image_size, 3), resized bilinearly; a grey
    file gives three equal channels. DatasetError, naming the file, where it cannot be read."""
    from PIL import Image

    try:
        stream = _open_regular(file, "remove it from the folder.")
    except OSError as exc:
        raise DatasetError(f"Could not read image {file} ({exc.strerror or exc}); remove "
                           "or replace it.") from exc
    with stream:
        try:
            with Image.open(stream) as im:
                im = im.convert("RGB").resize((image_size, image_size), Image.BILINEAR)
                return np.asarray(im, dtype=np.uint8)
        except Exception as exc:  # noqa: BLE001 - PIL raises many types for a damaged file
            raise DatasetError(f"Could not read image {file} ({exc}); remove or replace "
                               "it.") from exc


def grey_pixels(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB (H, W, 3) as grey (H, W): a grey picture's one channel, or the luma of a
    colour one, rounded as Pillow's convert("L") does (a colour file in a folder streamed as
    grey, whose sampled files had none)."""
    if not has_colour(rgb):
        return np.ascontiguousarray(rgb[..., 0])
    weights = np.array([19595, 38470, 7471], np.uint32)  # ITU-R 601-2 luma, in 1/65536
    return ((rgb.astype(np.uint32) @ weights + 0x8000) >> 16).astype(np.uint8)


def has_colour(rgb: np.ndarray) -> bool:
    """Whether an RGB image's channels differ anywhere (a grey picture saved as RGB has not)."""
    return bool((rgb[..., 0] != rgb[..., 1]).any() or (rgb[..., 0] != rgb[..., 2]).any())


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
