"""A run's timeline read from files: the moments of a run folder's per-epoch checkpoints, or
those a checkpoint carries, encoded again.

`vae-gui train --out FOLDER --save-every-epoch` keeps one checkpoint per epoch; each becomes
one moment (its models and the encoded test split), in epoch order, with the folder's
latest checkpoint last when it is newer than every per-epoch one. A checkpoint saved with its
run's timeline (File > Save with the run's timeline) carries earlier moments itself.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vae_gui.model.checkpoint import Checkpoint, load_checkpoint
from vae_gui.model.cloud_points import CloudPoints
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


def checkpoint_moments(ckpt: Checkpoint, data: DatasetBundle, cloud: CloudPoints | None = None,
                       progress: Callable[[int, int], None] | None = None,
                       ) -> tuple[Snapshot, ...]:
    """The earlier moments a checkpoint carries, encoded (the checkpoint's own models are
    not among them); each with the history up to its epoch."""
    out = []
    for i, m in enumerate(ckpt.timeline):
        history = tuple(h for h in ckpt.history if h.epoch <= m.epoch)
        out.append(snapshot_of(m.models, data, history, m.step, cloud, epoch=m.epoch,
                               train_config=ckpt.train_config))
        if progress is not None:
            progress(i + 1, len(ckpt.timeline))
    return tuple(out)


def load_timeline(path: str | os.PathLike, data_root: str | None = None,
                  progress: Callable[[int, int], None] | None = None) -> RunTimeline:
    """A run folder's moments, or a checkpoint's (its timeline, then its own models)."""
    path = Path(path)
    if path.is_dir():
        return load_run_timeline(path, data_root, progress)
    if not path.is_file():
        raise RunTimelineError(f"{path} is neither a run folder nor a checkpoint")
    ckpt = load_checkpoint(path)
    if not ckpt.timeline:
        raise RunTimelineError(
            f"{path.name} carries no timeline: save one with File > Save with the run's "
            "timeline, or give the run folder that 'vae-gui train --out FOLDER "
            "--save-every-epoch' wrote")
    data = _dataset(ckpt, path, data_root)
    moments = checkpoint_moments(ckpt, data, progress=progress)
    own = snapshot_of(ckpt.models, data, ckpt.history, ckpt.step, epoch=ckpt.epoch,
                      train_config=ckpt.train_config)
    return RunTimeline((*moments, own), ckpt, data)


def _dataset(ckpt: Checkpoint, path: Path, data_root: str | None) -> DatasetBundle:
    try:
        return load_dataset(ckpt.dataset, data_root, ckpt.model_config.image_shape[0])
    except DatasetError as exc:
        raise DatasetError(f"The models in {path} were trained on {ckpt.dataset!r}, which "
                           f"cannot be loaded: {exc}") from exc


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
            data = _dataset(ckpt, path, data_root)
        elif ckpt.model_config != first.model_config or ckpt.dataset != first.dataset:
            raise RunTimelineError(f"{path.name} belongs to another run than {files[0].name} "
                                   "(other models or another dataset)")
        if not moments or ckpt.step > moments[-1].step:
            moments.append(snapshot_of(ckpt.models, data, ckpt.history, ckpt.step,
                                       epoch=ckpt.epoch, train_config=ckpt.train_config))
        if progress is not None:
            progress(i + 1, len(files))
    return RunTimeline(tuple(moments), ckpt, data)
