"""Round trip as a law (issue 15, item 3): whatever configuration and data vae-gui accepts, it
trains on, saves, and opens again, as the CLI writes run folders and as the window saves and
opens checkpoints. Hypothesis draws the configurations from the one set of BOUNDS."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from vae_gui.model.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from vae_gui.model.cli import save_run
from vae_gui.model.config import (
    BOUNDS,
    MAX_CLASS_NAME_CHARS,
    MAX_CLASSES,
    RECONSTRUCTION_LOSSES,
    ModelConfig,
    TrainConfig,
)
from vae_gui.model.data import load_dataset
from vae_gui.model.errors import TrainingDiverged
from vae_gui.model.run_folder import CHECKPOINT_NAME
from vae_gui.model.training import Trainer

from vae_gui.workers.loading import load_for_display


def bounded(key: str, top: float | None = None) -> st.SearchStrategy:
    """Values within BOUNDS[key] (up to `top`, where training the largest would take
    minutes; the bounds themselves are tested at their edges in test_training_bounds)."""
    bound = BOUNDS[key]
    high = bound.max if top is None else min(top, bound.max)
    if bound.whole:
        return st.integers(int(bound.min), int(high))
    return st.floats(bound.min, high, allow_nan=False, allow_infinity=False)


# Any text a folder name or a .npz can hold: surrogates (undecodable file-name bytes)
# included; NUL excluded (no file name holds one, and numpy drops it from the end of a string).
NAME = st.text(st.characters(exclude_categories=(), exclude_characters="\x00"),
               max_size=MAX_CLASS_NAME_CHARS)


@st.composite
def runs(draw):
    side = (draw(st.integers(1, 9)), draw(st.integers(1, 9)))
    model = ModelConfig(side, tuple(draw(st.lists(bounded("hidden", 24),
                                                  min_size=1, max_size=8))),
                        draw(bounded("latent_dim")), draw(bounded("encoder_dropout")))
    train = TrainConfig(1, draw(bounded("batch_size")), draw(bounded("lr")),
                        draw(bounded("beta")), draw(st.sampled_from(RECONSTRUCTION_LOSSES)),
                        draw(bounded("seed")), "cpu")
    names = draw(st.lists(NAME, min_size=1, max_size=12))
    return model, train, names


def _npz(folder: Path, model: ModelConfig, names: list[str], seed: int) -> Path:
    """A dataset as a user would give it: uint8 images, labels, and the class names."""
    rng = np.random.default_rng(seed % 2**32)
    n = 5 * len(names)
    path = folder / "data.npz"
    np.savez(path, images=rng.integers(0, 256, (n, *model.image_shape), dtype=np.uint8),
             labels=np.arange(n) % len(names), class_names=np.array(names, dtype=str))
    return path


def _same_models(a: Checkpoint, b: Checkpoint) -> None:
    for x, y in ((a.ae, b.ae), (a.vae, b.vae)):
        for (name, t), (name2, u) in zip(x.state_dict().items(), y.state_dict().items(),
                                         strict=True):
            assert name == name2 and torch.equal(t.float(), u.float())


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(runs())
@example((ModelConfig((3, 3), (1,) * 8, 512, 0.9),
          TrainConfig(1, 8192, 10.0, 1000.0, "mse", 2**32 - 1, "cpu"),
          ["\udcff" + "x" * (MAX_CLASS_NAME_CHARS - 1)] * 3))
def test_what_is_accepted_and_saved_opens_again(run):
    model, train, names = run
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = load_dataset(str(_npz(folder, model, names, train.seed)))
        assert data.class_names == tuple(names)
        trainer = Trainer(data, model, train)
        # A learning rate of 10 may diverge: the last good models are saved, as on screen.
        with contextlib.suppress(TrainingDiverged):
            trainer.run()  # one epoch of at most 60 images
        saved = Checkpoint(trainer.ae, trainer.vae, model, train, data.source,
                           data.class_names, trainer.epoch, trainer.step,
                           tuple(trainer.history), "cpu")
        # As `vae-gui train --out` writes a run folder, and as the window saves.
        save_run(folder, saved, every_epoch=False)
        for path in (folder / CHECKPOINT_NAME, save_checkpoint(saved, folder / "w.safetensors")):
            loaded = load_checkpoint(path)
            assert loaded.metadata() == saved.metadata()
            assert (loaded.model_config, loaded.train_config) == (model, train)
            _same_models(loaded, saved)
        # And as the window opens it: the checkpoint, its data set, the encoded points.
        shown = load_for_display(folder / CHECKPOINT_NAME)
        assert shown.checkpoint.class_names == tuple(names)
        assert np.isfinite(shown.snapshot.vae_mu).all()


def test_the_largest_class_name_list_round_trips(tmp_path):
    names = [f"{k:04d}" + "\u00e9" * (MAX_CLASS_NAME_CHARS - 4) for k in range(MAX_CLASSES)]
    model = ModelConfig((2, 2), (2,), 1)
    data = load_dataset(str(_npz(tmp_path, model, names, 0)))
    trainer = Trainer(data, model, TrainConfig(1, 1, seed=3, device="cpu"))
    trainer.train_step()
    ckpt = Checkpoint(trainer.ae, trainer.vae, model, trainer.config, data.source,
                      data.class_names, 0, 1)
    assert load_checkpoint(save_checkpoint(ckpt, tmp_path / "c.safetensors")).class_names == (
        tuple(names))


@pytest.mark.parametrize("names", [[f"c{k}" for k in range(MAX_CLASSES + 1)],
                                   ["x" * (MAX_CLASS_NAME_CHARS + 1)]],
                         ids=["1001-names", "a-256-character-name"])
def test_what_could_not_be_opened_again_is_refused_when_the_data_loads(tmp_path, names):
    # Before: own data with 1,001 class names trained and saved, then its checkpoint was
    # refused. Now the data set is refused up front, with the bound.
    from vae_gui.model.errors import DatasetError

    with pytest.raises(DatasetError, match="at most"):
        load_dataset(str(_npz(tmp_path, ModelConfig((2, 2), (2,), 1), names, 0)))
