"""The one way vae-gui writes a file: atomically, so that it is either the old or the new one.

Checkpoints, the CLI's metrics.json and exported encodings all go through `atomic_write`:
the data goes to a hidden temporary file in the same folder (so the rename cannot cross file
systems), which gets the mode any new file of the user gets, is flushed and fsync'ed, and is
then renamed over the target; the folder is fsync'ed too, so that the rename itself survives a
crash. If anything fails, KeyboardInterrupt included, the temporary file is removed and the
file that was there is untouched.

A process killed outright (SIGKILL, power loss) cannot remove its temporary file. Each one is
therefore named `.<target>.vae-gui-<random>.tmp` and locked (flock) while it is written, and
every save removes the unlocked ones it finds in its folder: the leftovers of killed saves,
never the file of a save still running in another process.

`stage` and `commit` write several files that belong together (a checkpoint and its
metrics.json): each is written and synced first, and only then are they renamed into place,
one right after the other, so that a kill can only fall in the microseconds between renames.

This module imports neither torch nor numpy: the CLI's light path uses it.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

try:
    import fcntl
except ImportError:  # Windows: no flock; stale files are recognised by their age alone
    fcntl = None

TEMP_MARK = ".vae-gui-"
_TEMP_NAME = re.compile(r"\..+\.vae-gui-[A-Za-z0-9_]+\.tmp")
# A temporary file this recent may belong to a save that has just created it and not yet
# locked it; without flock, one this recent may belong to any save still running.
STALE_AFTER_S = 1.0 if fcntl is not None else 3600.0


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
    _refuse_special(path)
    remove_stale_temporaries(path.parent)
    fd, tmp = _temporary(path)
    try:
        with os.fdopen(fd, mode, encoding=encoding, newline=newline) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
            os.replace(tmp, path)  # while still locked: no cleaner may take it meanwhile
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def write_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Replaces `path` with `data` atomically (see atomic_write); returns the path."""
    with atomic_write(path, "wb") as f:
        f.write(data)
    return Path(path)


@dataclass
class Staged:
    """A file written and synced under a temporary name, waiting for `commit`."""

    path: Path
    tmp: str
    fd: int  # -1 once closed: a file descriptor is never closed twice (it may be reused)

    def close(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            with contextlib.suppress(OSError):
                os.close(fd)


def stage(path: str | os.PathLike, data: bytes) -> Staged:
    """Writes `data` to a locked temporary file beside `path` and syncs it; nothing replaces
    `path` until commit([...]). Raises OSError (and leaves nothing behind) when it cannot."""
    path = Path(path)
    _refuse_special(path)
    remove_stale_temporaries(path.parent)
    fd, tmp = _temporary(path)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        Path(tmp).unlink(missing_ok=True)
        raise
    return Staged(path, tmp, fd)


def commit(files: Sequence[Staged]) -> None:
    """Renames every staged file into place, in order and back to back, then syncs their
    folders. If a rename fails, the files not yet renamed are discarded and OSError raised.
    Callers hold interruptions back around it (the CLI's interrupt_after), so that a Ctrl-C
    cannot fall between the renames."""
    try:
        for k, f in enumerate(files):
            try:
                os.replace(f.tmp, f.path)
            except BaseException:
                discard(files[k:])
                raise
    finally:
        for f in files:
            f.close()
    for folder in {f.path.parent for f in files}:
        _fsync_folder(folder)


def discard(files: Sequence[Staged]) -> None:
    """Removes staged files that will not be committed."""
    for f in files:
        f.close()
        Path(f.tmp).unlink(missing_ok=True)


def _refuse_special(path: Path) -> None:
    """A pipe, device or socket at `path` is not replaced (and a pipe never blocks us)."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return
    except OSError:
        return  # the write itself will say why
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(21, "it is a folder", str(path))
    if not stat.S_ISREG(mode):
        raise OSError(f"{path} is not a regular file (a pipe, device or socket); choose "
                      "another name")


def _temporary(path: Path) -> tuple[int, str]:
    """A new temporary file beside `path`, locked, with the mode of any new file."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}{TEMP_MARK}", suffix=".tmp",
                               dir=path.parent)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        if hasattr(os, "fchmod"):
            os.fchmod(fd, new_file_mode())
    except BaseException:
        os.close(fd)
        Path(tmp).unlink(missing_ok=True)
        raise
    return fd, tmp


def remove_stale_temporaries(folder: str | os.PathLike) -> list[str]:
    """Removes the temporary files that killed saves left in `folder` (unlocked, and not
    brand new); returns their names. Never raises: cleaning up must not stop a save."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        if not _TEMP_NAME.fullmatch(entry.name):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(st.st_mode) or now - st.st_mtime < STALE_AFTER_S:
                continue
            fd = os.open(entry.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            continue
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # OSError: a live save
            os.unlink(entry.path)
            removed.append(entry.name)
        except OSError:
            pass
        finally:
            os.close(fd)
    return removed


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
