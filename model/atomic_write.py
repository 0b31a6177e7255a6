"""The one way vae-gui writes a file: atomically, so that it is either the old or the new one.

Checkpoints, the CLI's metrics.json and exported encodings all go through `atomic_write`:
the data goes to a hidden temporary file in the same folder (so the rename cannot cross file
systems), which gets the mode any new file of the user gets, is flushed and fsync'ed, and is
then renamed over the target; the folder is fsync'ed too, so that the rename itself survives a
crash. If anything fails, KeyboardInterrupt included, the temporary file is removed and the
file that was there is untouched.

This module imports neither torch nor numpy: the CLI's light path uses it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


def new_file_mode() -> int:
    """The mode a newly created file gets here (0o666 less the umask), e.g. 0o644.

    tempfile.mkstemp makes files private (0600); files renamed into place get this mode
    instead, so that a saved file is as readable as any other file the user saves.
    """
    mask = None
    try:  # read the umask without changing it, where the system allows
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    mask = int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    if mask is None:  # elsewhere: read it by setting it, and put it straight back
        mask = os.umask(0o022)
        os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", *, encoding: str | None = None,
                 newline: str | None = None) -> Iterator[IO[Any]]:
    """Yields a file opened with `mode` ("wb" or "w") that replaces `path` when the block ends.

    Raises OSError when the file cannot be written (the old file stays as it was); an
    exception raised inside the block is re-raised after the temporary file is removed.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write writes a whole new file: mode 'wb' or 'w', not {mode!r}")
    path = Path(path)
    if "b" in mode and (encoding is not None or newline is not None):
        raise ValueError("encoding and newline are for text mode ('w') only")
    if "b" not in mode and encoding is None:
        encoding = "utf-8"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, encoding=encoding, newline=newline) as f:
            if hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), new_file_mode())
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def write_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Replaces `path` with `data` atomically (see atomic_write); returns the path."""
    with atomic_write(path, "wb") as f:
        f.write(data)
    return Path(path)


def _fsync_folder(folder: Path) -> None:
    """Makes the rename itself durable, where the system allows opening a folder."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
