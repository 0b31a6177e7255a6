"""The files of a run folder: what `vae-gui train --out FOLDER` writes and the GUI follows.

    FOLDER/checkpoint.safetensors    the latest epoch's checkpoint, replaced after every epoch
    FOLDER/metrics.json              the run's settings and every epoch's metrics
    FOLDER/epoch-0001.safetensors    one per epoch, with --save-every-epoch
    FOLDER/.vae-gui.lock             held (flock) by the `vae-gui train` writing the folder,
                                     and removed when it ends; left only by a killed run

metrics.json is derived from the checkpoint's metadata (metrics_document): the two are staged
and renamed back to back, checkpoint first. A kill between the two renames would leave
metrics.json one epoch behind (or missing, after the first epoch); repair_metrics rewrites it
from the checkpoint whenever vae-gui trains into or opens the folder's checkpoint and finds
the lock file of a killed run (one that no process holds).

Light: neither torch nor Qt is imported here (repair_metrics imports the checkpoint reader).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no flock; every lock is granted
    fcntl = None

CHECKPOINT_NAME = "checkpoint.safetensors"
METRICS_NAME = "metrics.json"
LOCK_NAME = ".vae-gui.lock"
_EPOCH_NAME = re.compile(r"epoch-(\d+)\.safetensors")


def epoch_checkpoint_name(epoch: int) -> str:
    """The name of one epoch's checkpoint: epoch-0001.safetensors (more digits past 9999)."""
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise ValueError(f"an epoch is a whole number >= 0, not {epoch!r}")
    return f"epoch-{epoch:04d}.safetensors"


def epoch_of(name: str) -> int | None:
    """The epoch of a per-epoch checkpoint's file name, or None for any other name."""
    match = _EPOCH_NAME.fullmatch(name)
    return int(match.group(1)) if match else None


def latest_checkpoint(folder: str | os.PathLike) -> Path | None:
    """The run's checkpoint, or else its per-epoch checkpoint of the highest epoch, or None.

    Only regular files count (a folder of that name does not), and epochs are compared as
    numbers, so epoch-10000 is newer than epoch-9999. A folder that cannot be read has none.
    """
    folder = Path(folder)
    main = folder / CHECKPOINT_NAME
    if main.is_file():
        return main
    candidates = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                epoch = epoch_of(entry.name)
                try:
                    if epoch is not None and entry.is_file():
                        candidates.append((epoch, entry.name))
                except OSError:  # removed meanwhile, or unreadable: not a checkpoint to open
                    continue
    except OSError:
        return None
    return folder / max(candidates)[1] if candidates else None


def metrics_document(meta: dict) -> dict:
    """metrics.json's content, from a checkpoint's metadata: the same epoch, step, settings
    and history, so that the two files describe one moment of the run."""
    return {
        "checkpoint": CHECKPOINT_NAME,
        "epoch": meta["epoch"],
        "step": meta["step"],
        "dataset": meta["dataset"],
        "model": meta["model"],
        "training": meta["training"],
        "device": meta.get("device", ""),
        "precision": meta.get("precision", ""),  # what trained the models; "" if not known
        "epochs": meta.get("history", []),
    }


class RunLock:
    """An advisory lock on a run folder: `vae-gui train --out` holds it while it writes
    there, so a second run cannot write into the same folder and repairs wait for it."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.path = Path(folder) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self, create: bool = True) -> bool:
        """Takes the lock without waiting; False when another process holds it (or, unless
        `create`, when there is no lock file). Raises OSError when the lock file cannot be
        made (a folder that cannot be written)."""
        if fcntl is None:
            return True
        flags = os.O_RDWR | getattr(os, "O_NOFOLLOW", 0) | (os.O_CREAT if create else 0)
        while True:
            try:
                fd = os.open(self.path, flags, 0o644)
            except FileNotFoundError:
                if create:
                    raise
                return False
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                # The holder removes the file as it lets go: a lock on a removed file locks
                # nothing, so take the file that is there now.
                if os.fstat(fd).st_ino == os.stat(self.path).st_ino:
                    self._fd = fd
                    return True
            except OSError as exc:
                os.close(fd)
                if isinstance(exc, FileNotFoundError) and create:
                    continue
                return False
            os.close(fd)

    def release(self, remove: bool = False) -> None:
        """Lets go; with `remove`, removes the lock file first (a run that ended, killed
        or not, leaves the folder as it found it; only a killed run leaves the file)."""
        if self._fd is not None:
            if remove:
                with contextlib.suppress(OSError):
                    os.unlink(self.path)
            os.close(self._fd)  # closing drops the flock
            self._fd = None


def repair_metrics(folder: str | os.PathLike) -> bool:
    """Rewrites the folder's metrics.json from its checkpoint when it is missing or describes
    another epoch (a run killed between the two renames); True when it did. Does nothing
    while a run holds the folder, and never raises: it only ever improves the folder."""
    from vae_gui.model.atomic_write import write_atomic
    from vae_gui.model.errors import VaeGuiError

    folder = Path(folder)
    checkpoint, metrics = folder / CHECKPOINT_NAME, folder / METRICS_NAME
    # Only folders that `vae-gui train --out` wrote (they hold its lock file): never a
    # folder that merely holds a checkpoint, such as the package's own pretrained models.
    if not checkpoint.is_file() or not (folder / LOCK_NAME).is_file():
        return False
    lock = RunLock(folder)
    try:
        if not lock.acquire(create=False):
            return False
    except OSError:
        return False
    try:
        from vae_gui.model.checkpoint import read_metadata

        meta = read_metadata(checkpoint)
        old = None
        with contextlib.suppress(OSError, ValueError):
            if metrics.is_file() and metrics.stat().st_size < 256 * 1024**2:
                old = json.loads(metrics.read_text(encoding="utf-8"))
                if isinstance(old, dict) and (old.get("epoch"), old.get("step")) == (
                        meta["epoch"], meta["step"]):
                    return False
                if isinstance(old, dict) and not meta.get("device"):
                    meta = {**meta, "device": old.get("device", "")}
                if isinstance(old, dict) and not meta.get("precision"):
                    meta = {**meta, "precision": old.get("precision", "")}
        document = metrics_document(meta)
        # How the images were read and what the test figures cover: the run's own words,
        # which the checkpoint does not hold.
        if isinstance(old, dict):
            document.update({k: old[k] for k in ("data_path", "test_set") if k in old})
        write_atomic(metrics, json.dumps(document, indent=2).encode())
        return True
    except (OSError, VaeGuiError, KeyError, TypeError):
        return False
    finally:
        lock.release(remove=True)  # the folder is whole again
