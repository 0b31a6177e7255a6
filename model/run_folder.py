"""The files of a run folder: what `vae-gui train --out FOLDER` writes and the GUI follows.

    FOLDER/checkpoint.safetensors    the latest epoch's checkpoint, replaced after every epoch
    FOLDER/metrics.json              the run's settings and every epoch's metrics
    FOLDER/epoch-0001.safetensors    one per epoch, with --save-every-epoch

Light: neither torch nor Qt is imported here.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

CHECKPOINT_NAME = "checkpoint.safetensors"
METRICS_NAME = "metrics.json"
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
