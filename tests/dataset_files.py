"""Helpers that write dataset files as torchvision lays them out, and damage them (no
fixtures, no Qt). Test modules import these from here, never from one another (test_data.py
and test_gui_reliability.py both use them)."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import numpy as np


def write_idx(path: Path, array: np.ndarray) -> None:
    """An uncompressed IDX file (big-endian), as MNIST ships them: magic 0x0803 or 0x0801."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    magic = 0x0800 + array.ndim  # 0x08: unsigned byte, then the number of dimensions
    head = struct.pack(">I", magic) + b"".join(struct.pack(">I", s) for s in array.shape)
    path.write_bytes(head + array.tobytes())


def write_torchvision_layout(root: Path, folder: str, n_train=30, n_test=10, seed=0):
    """The four uncompressed IDX files, where torchvision's MNIST-like classes read them."""
    rng = np.random.default_rng(seed)
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    arrays = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        write_idx(raw / f"{split}-images-idx3-ubyte", images)
        write_idx(raw / f"{split}-labels-idx1-ubyte", labels)
        arrays[split] = images, labels
    return raw, arrays


def damage(raw: Path, how: str) -> None:
    """Damages the IDX files in `raw` as `how` says (the ids test_data.py parametrizes)."""
    images = raw / "train-images-idx3-ubyte"
    blob = images.read_bytes()
    if how == "truncated-images":
        images.write_bytes(blob[: len(blob) // 2])
    elif how == "truncated-header":
        images.write_bytes(blob[:6])
    elif how == "empty-images":
        images.write_bytes(b"")
    elif how == "bad-magic":
        images.write_bytes(b"\x00\x00\x00\x00" + blob[4:])
    elif how == "labels-are-images":
        shutil.copy(images, raw / "train-labels-idx1-ubyte")
    elif how == "fewer-labels":
        write_idx(raw / "train-labels-idx1-ubyte", np.zeros(5, dtype=np.uint8))
    elif how == "label-out-of-range":
        write_idx(raw / "t10k-labels-idx1-ubyte", np.full(10, 77, dtype=np.uint8))
    else:
        raise ValueError(f"unknown damage {how!r}")
