"""Opening a safetensors file that comes from outside, for checkpoints and judges alike.

The file is refused, with a sentence saying why, before safetensors reads it when it is not a
regular file of a plausible size, is empty, declares an absurd header, or is a pickle (never
unpickled); safetensors then reads and checks the header only, never the tensors.
"""

from __future__ import annotations

import stat
from pathlib import Path

import torch
from safetensors import safe_open
from vae_gui.model.errors import VaeGuiError

SUFFIX = ".safetensors"
SNIFF_BYTES = 8  # the header length of a safetensors file; a pickle's first opcodes

# What safetensors says when the header is valid JSON but the tensors it lists do not fit
# the file: offsets past its end (a truncated file), sizes that overflow, gaps or overlaps.
_TENSORS_DO_NOT_FIT = ("incomplete metadata", "not fully covered", "invalid offset",
                       "overflow", "invalid shape, data type, or offset", "misaligned")


def check_file(path: Path, error: type[VaeGuiError], noun: str, max_file_bytes: int) -> None:
    """Refuses what is not a regular file of a plausible size, without opening it; `noun`
    names what the file should be ("checkpoint", "judge")."""
    try:
        st = path.stat()
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise error(f"{path} does not exist; check the path or choose another {noun}.") from exc
    except PermissionError as exc:
        raise error(f"{path} cannot be read: permission denied. Check the permissions of the "
                    "file and its folders.") from exc
    except (OSError, ValueError) as exc:
        raise error(f"{path} cannot be opened: "
                    f"{getattr(exc, 'strerror', None) or exc}.") from exc
    if stat.S_ISDIR(st.st_mode):
        raise error(f"{path} is a folder, not a regular file; choose a {SUFFIX} {noun} file "
                    "inside it.")
    if not stat.S_ISREG(st.st_mode):
        # A pipe would block and a device could be endless: never open them.
        raise error(f"{path} is not a regular file (it is a device, pipe or socket); choose a "
                    f"{SUFFIX} {noun} file.")
    if st.st_size > max_file_bytes:
        raise error(f"{path} is {st.st_size / 1024**2:,.0f} MiB, far larger than any vae-gui "
                    f"{noun}; it is not one.")


def _read_start(path: Path, error: type[VaeGuiError]) -> bytes:
    """The first SNIFF_BYTES of the file: enough to tell an empty file, an absurd header
    length and a pickle apart, and proof that the file can be read at all."""
    try:
        with open(path, "rb") as f:
            return f.read(SNIFF_BYTES)
    except PermissionError as exc:
        raise error(f"{path} cannot be read: permission denied. Check the file's permissions "
                    "or copy it somewhere readable.") from exc
    except OSError as exc:
        raise error(f"{path} cannot be read: {exc.strerror or exc}.") from exc


def _looks_like_pickle(start: bytes) -> bool:
    """A pickle (protocol 2 or later) or a torch.save zip archive."""
    return (start[:1] == b"\x80" and start[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")) or (
        start[:4] == b"PK\x03\x04")


def _not_safetensors(path: Path, start: bytes, error: type[VaeGuiError],
                     noun: str) -> VaeGuiError:
    # Only a file that is not safetensors is checked for pickle: the first byte of a
    # safetensors file is the low byte of its header length, which may well be 0x80.
    if _looks_like_pickle(start):
        return error(f"{path} is a pickle or torch.save file. vae-gui never opens those, "
                     f"because loading them can run code hidden in the file; open a {SUFFIX} "
                     f"{noun} saved by vae-gui instead.")
    return error(f"{path} is not a vae-gui {noun}: it is not a safetensors file, or it is "
                 "truncated (an unfinished save, copy or download). Save or copy it again.")


def read_finite(f, path: Path, name: str, error: type[VaeGuiError],
                why_not_finite: str = "") -> torch.Tensor:
    """Tensor `name` of an opened file (open_header) as float32; `error` when it cannot be
    read or holds NaN or infinite values (`why_not_finite` ends that sentence)."""
    try:
        t = f.get_tensor(name)
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types
        raise error(f"{path} is damaged: its tensor {name} cannot be read ({exc}).") from exc
    if not torch.isfinite(t).all():
        raise error(f"{path}: {name} contains NaN or infinite weights{why_not_finite}.")
    return t.to(torch.float32)


def open_header(path: Path, error: type[VaeGuiError], noun: str, max_file_bytes: int,
                max_header_bytes: int):
    """check_file, then safe_open on `path` (which reads and checks its header, not its
    tensors); any problem raises `error` with a sentence that names `noun`."""
    check_file(path, error, noun, max_file_bytes)
    start = _read_start(path, error)
    if not start:
        raise error(f"{path} is empty; it may be a save that never finished. Choose another "
                    f"{noun}.")
    # safetensors itself reads headers of up to 100 MB; ours are kilobytes.
    if len(start) == SNIFF_BYTES and int.from_bytes(start, "little") > max_header_bytes:
        raise _not_safetensors(path, start, error, noun)
    try:
        return safe_open(str(path), framework="pt")
    except OSError as exc:
        raise error(f"{path} cannot be read: {exc.strerror or exc}.") from exc
    except Exception as exc:  # noqa: BLE001 - SafetensorError, and others for odd files
        detail = str(exc).removeprefix("Error while deserializing header: ")
        if any(words in detail for words in _TENSORS_DO_NOT_FIT):
            raise error(f"{path} is damaged: the tensors its header lists do not fit in the "
                        f"file ({detail}); it may be truncated (an unfinished save, copy or "
                        "download). Save or copy it again.") from exc
        raise _not_safetensors(path, start, error, noun) from exc
