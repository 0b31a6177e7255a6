"""Helpers that write dataset files as torchvision lays them out, and damage them, and .npz
files written by hand (no fixtures, no Qt). Test modules import these from here, never from one
another (test_data.py and test_gui_reliability.py both use them)."""

from __future__ import annotations

import functools
import io
import shutil
import struct
import zlib
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


def npy_bytes(array: np.ndarray) -> bytes:
    """The .npy file that np.save writes for `array`."""
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asanyarray(array), allow_pickle=False)
    return buffer.getvalue()


def npy_header(shape: tuple[int, ...], dtype: str = "u1") -> bytes:
    """The .npy header (format 1.0) that np.save writes for an array of `shape` and `dtype`;
    the data is to follow."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {
        "descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False,
        "shape": tuple(shape)})
    return buffer.getvalue()


_ZERO_BLOCK = 1 << 24  # zero bytes deflated once and repeated


def _deflated(data: bytes) -> bytes:
    """`data` as raw deflate blocks that end on a byte boundary and refer to nothing before
    them, so that such pieces can be laid one after another."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(zlib.Z_FULL_FLUSH)


@functools.lru_cache(maxsize=1)
def _zero_block() -> tuple[bytes, int]:
    """A block of _ZERO_BLOCK zero bytes, deflated, and the CRC-32 of those bytes."""
    return _deflated(bytes(_ZERO_BLOCK)), zlib.crc32(bytes(_ZERO_BLOCK))


def _member(head: bytes, n_zeros: int) -> tuple[bytes, int, int]:
    """(deflated body, CRC-32, size) of `head` followed by `n_zeros` zero bytes, made without
    compressing the zeros: gigabytes take a fraction of a second and about a megabyte each."""
    block, _ = _zero_block()
    whole, rest = divmod(n_zeros, _ZERO_BLOCK)
    crc = zlib.crc32(head)
    zeros = bytes(_ZERO_BLOCK)
    for _ in range(whole):
        crc = zlib.crc32(zeros, crc)
    crc = zlib.crc32(bytes(rest), crc)
    final = zlib.compressobj(9, zlib.DEFLATED, -15).flush()  # the last, empty block
    body = _deflated(head) + block * whole + _deflated(bytes(rest)) + final
    return body, crc, len(head) + n_zeros


def write_npz_by_hand(path: Path, members: dict[str, bytes | tuple[bytes, int]],
                      stated_sizes: dict[str, int] | None = None) -> Path:
    """An .npz (a zip of deflated .npy members) written byte by byte: each of `members` is
    named name + ".npy" and holds the given bytes, or (head, n) for `head` followed by n zero
    bytes, such as npy_header((10**9,)) and 10**9 for a gigabyte of zeros in a file of about a
    megabyte. `stated_sizes` replaces the uncompressed sizes the zip states, to make them lie.
    Every size must stay under 4 GiB (no zip64)."""
    stated_sizes = stated_sizes or {}
    local, central = io.BytesIO(), io.BytesIO()
    for name, content in members.items():
        head, n_zeros = (content, 0) if isinstance(content, bytes) else content
        body, crc, size = _member(head, n_zeros)
        size = stated_sizes.get(name, size)
        filename = f"{name}.npy".encode()
        offset = local.tell()
        # Deflated (8), dated 1980-01-01 (0x21), no extra fields.
        local.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(body),
                                size, len(filename), 0) + filename + body)
        central.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc,
                                  len(body), size, len(filename), 0, 0, 0, 0, 0, offset)
                      + filename)
    directory = central.getvalue()
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members),
                      len(directory), local.tell(), 0)
    path.write_bytes(local.getvalue() + directory + end)
    return path
