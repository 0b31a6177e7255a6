"""A run folder's timeline: the moments its per-epoch checkpoints hold, encoded again.

`vae-gui train --out FOLDER --save-every-epoch` keeps one checkpoint per epoch; each becomes
one moment (its models and the encoded test split), in epoch order, with the folder's
latest checkpoint last when it is newer than every per-epoch one.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vae_gui.model.checkpoint import Checkpoint, load_checkpoint
from vae_gui.model.data import DatasetBundle, load_dataset
from vae_gui.model.errors import DatasetError, VaeGuiError
from vae_gui.model.run_folder import CHECKPOINT_NAME, epoch_of
from vae_gui.model.training import Snapshot, snapshot_of


class RunTimelineError(VaeGuiError):
    """A folder whose timeline cannot be read, with the reason."""


@dataclass(frozen=True)
class RunTimeline:
    moments: tuple[Snapshot, ...]
    last: Checkpoint  # the newest checkpoint: its dataset, classes and settings
    data: DatasetBundle


def timeline_files(folder: str | os.PathLike) -> list[Path]:
    """The folder's per-epoch checkpoints by epoch, then its latest checkpoint (the two may
    hold the same epoch: the caller keeps one)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RunTimelineError(f"{folder} is not a folder; give the folder that 'vae-gui "
                               "train --out FOLDER --save-every-epoch' wrote")
    epochs = sorted((epoch_of(p.name), p) for p in folder.iterdir()
                    if epoch_of(p.name) is not None and p.is_file())
    files = [p for _, p in epochs]
    if (folder / CHECKPOINT_NAME).is_file():
        files.append(folder / CHECKPOINT_NAME)
    return files


def load_run_timeline(folder: str | os.PathLike, data_root: str | None = None,
                      progress: Callable[[int, int], None] | None = None) -> RunTimeline:
    """Loads and encodes every moment of a run folder; `progress(done, total)` after each."""
    files = timeline_files(folder)
    if len(files) < 2:
        raise RunTimelineError(
            f"{folder} holds {len(files)} checkpoint{'s' if len(files) != 1 else ''}: a "
            "timeline needs one per epoch; train with 'vae-gui train --out FOLDER "
            "--save-every-epoch'")
    moments: list[Snapshot] = []
    data = first = None
    for i, path in enumerate(files):
        ckpt = load_checkpoint(path)
        if first is None:
            first = ckpt
            try:
                data = load_dataset(ckpt.dataset, data_root, ckpt.model_config.image_shape[0])
            except DatasetError as exc:
                raise DatasetError(f"The models in {path} were trained on {ckpt.dataset!r}, "
                                   f"which cannot be loaded: {exc}") from exc
        elif ckpt.model_config != first.model_config or ckpt.dataset != first.dataset:
            raise RunTimelineError(f"{path.name} belongs to another run than {files[0].name} "
                                   "(other models or another dataset)")
        if not moments or ckpt.step > moments[-1].step:
            moments.append(snapshot_of(ckpt.ae, ckpt.vae, data, ckpt.history, ckpt.step,
                                       epoch=ckpt.epoch))
        if progress is not None:
            progress(i + 1, len(files))
    return RunTimeline(tuple(moments), ckpt, data)
