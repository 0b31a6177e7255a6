"""Helpers that take checkpoint files apart and make hostile ones (no fixtures, no Qt).

Test modules import these from here, never from one another (test_checkpoint.py and
test_gui_reliability.py both use them)."""

from __future__ import annotations

import json
import struct
from pathlib import Path


def split_safetensors(blob: bytes) -> tuple[dict, bytes]:
    """The JSON header and the tensor bytes of a safetensors file."""
    (n,) = struct.unpack("<Q", blob[:8])
    return json.loads(blob[8:8 + n]), blob[8 + n:]


def join_safetensors(header: dict, data: bytes) -> bytes:
    """A safetensors file from a header and tensor bytes (header padded to 8 bytes)."""
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


class Payload:
    """Unpickling this creates `marker`: proof that code in the file ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def write_run(folder: Path, make_checkpoint, epochs: int = 3) -> Path:
    """A run folder as `vae-gui train --out --save-every-epoch` leaves it: one checkpoint per
    epoch (seeded by its epoch, `step` 32 per epoch), and the last one as
    checkpoint.safetensors. `make_checkpoint` is conftest's fixture."""
    from vae_gui.model.checkpoint import save_checkpoint
    from vae_gui.model.run_folder import CHECKPOINT_NAME, epoch_checkpoint_name

    folder.mkdir()
    for epoch in range(1, epochs + 1):
        ckpt = make_checkpoint(seed=epoch, epoch=epoch, step=32 * epoch)
        save_checkpoint(ckpt, folder / epoch_checkpoint_name(epoch))
    save_checkpoint(ckpt, folder / CHECKPOINT_NAME)
    return folder


def checkpoint_with_timeline(make_checkpoint, moments: int = 2):
    """A checkpoint at epoch `moments` + 1 (step 32 per epoch) carrying `moments` earlier ones,
    one per epoch (models of other seeds). `make_checkpoint` is conftest's fixture."""
    from vae_gui.model.checkpoint import TimelineModels

    earlier = []
    for i in range(moments):
        other = make_checkpoint(seed=10 + i)
        earlier.append(TimelineModels(32 * (i + 1), float(i + 1), other.ae, other.vae))
    return make_checkpoint(seed=1, epoch=moments + 1, step=32 * (moments + 1),
                           timeline=tuple(earlier))
