"""What the window loads off the GUI thread: torch, a checkpoint, its dataset, the encodings."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vae_gui.model.shipped_files import pretrained_checkpoint
from vae_gui.workers.background import check_cancelled

if TYPE_CHECKING:
    from collections.abc import Callable

    from vae_gui.model.checkpoint import Checkpoint
    from vae_gui.model.cloud_points import CloudImages, CloudPoints
    from vae_gui.model.data import DatasetBundle, LoadProgress
    from vae_gui.model.training import Snapshot

PRETRAINED = pretrained_checkpoint()


@dataclass(frozen=True, eq=False)
class LoadedModels:
    """A checkpoint ready to show: its models, its dataset and the encoded test set."""

    path: Path
    checkpoint: Checkpoint
    data: DatasetBundle
    snapshot: Snapshot
    moments: tuple[Snapshot, ...] = ()  # the earlier moments the checkpoint carries


def cloud_images_of(data: DatasetBundle, cloud: CloudPoints | None = None) -> CloudImages:
    """The images behind the plotted points, in the order the snapshots list them (by
    default the whole test split)."""
    from vae_gui.model.cloud_points import CloudImages, CloudPoints

    return CloudImages(cloud or CloudPoints.of(data), data.test_images, data.train_images)


def prepare_torch() -> None:
    """Imports torch and leaves one core to the GUI thread, which a training thread using
    every core would starve."""
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 2) - 1))


def load_for_display(path: str | os.PathLike, data_root: str | None = None,
                     include_train: bool = False,
                     progress: Callable[[LoadProgress], None] | None = None) -> LoadedModels:
    """Runs in a background thread; raises CheckpointError or DatasetError with the reason.
    The clouds show the test split (a fixed subset of it for a folder too large for memory),
    and with `include_train` the training split too. `progress` hears how the listing and
    reading of a folder dataset go.

    Between its stages it lets a closing window cancel it (see check_cancelled), so that
    closing during the load of a large checkpoint waits for one stage, not for all of them.
    """
    prepare_torch()
    check_cancelled()
    from vae_gui.model.checkpoint import load_checkpoint
    from vae_gui.model.cloud_points import CloudPoints
    from vae_gui.model.data import load_dataset
    from vae_gui.model.errors import DatasetError
    from vae_gui.model.run_folder import CHECKPOINT_NAME, repair_metrics
    from vae_gui.model.training import snapshot_of

    checkpoint = load_checkpoint(path)
    if Path(path).name == CHECKPOINT_NAME:  # a run folder: its metrics.json agrees with it
        repair_metrics(Path(path).parent)
    check_cancelled()
    try:
        data = load_dataset(checkpoint.dataset, data_root, checkpoint.model_config.image_shape[0],
                            check=check_cancelled,  # a download stops at its next chunk
                            progress=progress)
    except DatasetError as exc:
        raise DatasetError(f"The models in {path} were trained on {checkpoint.dataset!r}, which "
                           f"cannot be loaded: {exc}") from exc
    if data.image_shape != tuple(checkpoint.model_config.image_shape):
        raise DatasetError(f"The models in {path} expect {checkpoint.model_config.image_shape} "
                           f"images but {checkpoint.dataset} has {data.image_shape}.")
    check_cancelled()
    cloud = CloudPoints.of(data, include_train)
    snapshot = snapshot_of(checkpoint.models, data, checkpoint.history,
                           checkpoint.step, cloud, epoch=checkpoint.epoch,
                           train_config=checkpoint.train_config)
    from vae_gui.model.run_timeline import checkpoint_moments

    moments = checkpoint_moments(checkpoint, data, cloud, lambda _d, _t: check_cancelled())
    return LoadedModels(Path(path), checkpoint, data, snapshot, moments)


def warm_up_training() -> None:
    """Asks model/ to import what the first training step needs (run it in the background)."""
    from vae_gui.model.training import warm_up

    warm_up()


@dataclass(frozen=True, eq=False)
class LoadedBeside:
    """One model of each of two checkpoints, ready to show side by side."""

    paths: tuple[Path, Path]
    loaded: LoadedModels  # the pair as one checkpoint (vae_gui.model.beside)
    names: tuple[str, str]
    savable: bool  # one architecture: the pair can be saved as one checkpoint
    slots: tuple[int, int] = (1, 1)  # which model of A and of B (0: its left column's)


def load_beside(path_a: str | os.PathLike, path_b: str | os.PathLike,
                include_train: bool = False, slots: tuple[int, int] = (1, 1),
                progress: Callable[[LoadProgress], None] | None = None) -> LoadedBeside:
    """Runs in a background thread: both checkpoints, A's dataset, the encodings of A's model
    `slots[0]` and B's `slots[1]` (0: a checkpoint's left column, 1: its right);
    CheckpointError, DatasetError or VaeGuiError with the reason."""
    prepare_torch()
    from vae_gui.model.beside import beside_checkpoint, beside_names, same_networks
    from vae_gui.model.checkpoint import load_checkpoint
    from vae_gui.model.cloud_points import CloudPoints
    from vae_gui.model.data import load_dataset
    from vae_gui.model.training import snapshot_of

    a = load_checkpoint(path_a)
    check_cancelled()
    b = load_checkpoint(path_b)
    check_cancelled()
    pair = beside_checkpoint(a, b, slots)
    data = load_dataset(a.dataset, None, a.model_config.image_shape[0], check=check_cancelled,
                        progress=progress)
    check_cancelled()
    names = beside_names(a, b, slots)
    snapshot = snapshot_of(pair.models, data, pair.history, 0,
                           CloudPoints.of(data, include_train), epoch=pair.epoch,
                           train_config=pair.train_config, names=names)
    loaded = LoadedModels(Path(path_a), pair, data, snapshot)
    return LoadedBeside((Path(path_a), Path(path_b)), loaded, names, same_networks(a, b), slots)
