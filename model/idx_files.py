"""A held-out image set in MNIST's IDX format: one images file and one labels file, plain
or gzipped (for example MNIST's t10k files), for `vae-gui evaluate --held-out DIR`."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
from vae_gui.model.errors import DatasetError

IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension
MAX_IMAGES = 1_000_000


def _find(folder: Path, kind: str) -> Path:
    """The one file in `folder` whose name holds `-<kind>-idx` (e.g. t10k-images-idx3-ubyte.gz)."""
    found = sorted(p for p in folder.iterdir() if f"-{kind}-idx" in p.name and p.is_file())
    if len(found) != 1:
        raise DatasetError(
            f"{folder} must hold exactly one IDX {kind} file (such as t10k-{kind}-idx"
            f"{3 if kind == 'images' else 1}-ubyte or the same name with .gz); found "
            f"{len(found)}.")
    return found[0]


def _read(path: Path, magic: int, dims: int) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            header = f.read(4 + 4 * dims)
            if len(header) < 4 + 4 * dims or int.from_bytes(header[:4], "big") != magic:
                raise DatasetError(f"{path} is not an IDX file of unsigned bytes with "
                                   f"{dims} dimension{'s' if dims > 1 else ''}.")
            shape = tuple(int.from_bytes(header[4 + 4 * i:8 + 4 * i], "big")
                          for i in range(dims))
            if shape[0] > MAX_IMAGES or any(s > 512 for s in shape[1:]):
                raise DatasetError(f"{path} declares {shape}: more than this program reads "
                                   f"(at most {MAX_IMAGES:,} items of at most 512 x 512).")
            count = int(np.prod(shape))
            data = f.read(count + 1)
    except (OSError, EOFError) as e:
        raise DatasetError(f"Cannot read {path}: {e}") from e
    if len(data) != count:
        raise DatasetError(f"{path} holds {len(data)} bytes of data where its header "
                           f"declares {count}.")
    return np.frombuffer(data, dtype=np.uint8).reshape(shape)


def load_idx_folder(folder: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(images as float32 (N, H, W) in [0, 1], labels as int64 (N,)) from `folder`."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DatasetError(f"{folder} is not a folder.")
    images = _read(_find(folder, "images"), IMAGES_MAGIC, 3)
    labels = _read(_find(folder, "labels"), LABELS_MAGIC, 1)
    if len(images) != len(labels):
        raise DatasetError(f"{folder}: {len(images)} images but {len(labels)} labels.")
    return images.astype(np.float32) / 255.0, labels.astype(np.int64)
