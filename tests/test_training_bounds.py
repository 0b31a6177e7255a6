"""The trainer never publishes a snapshot whose numbers the views cannot draw: a log-variance
whose exp overflows float32 is refused like a non-finite loss, and the last good models
come back."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from vae_gui.model.config import ModelConfig, TrainConfig
from vae_gui.model.errors import TrainingDiverged
from vae_gui.model.training import MAX_LOGVAR, Trainer

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def _trainer(tiny_data) -> Trainer:
    return Trainer(tiny_data, ModelConfig(hidden=(32,), latent_dim=2),
                   TrainConfig(epochs=2, batch_size=64, device="cpu"))


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def _force_logvar(trainer: Trainer, value: float) -> None:
    """Every test point's VAE log-variance becomes `value` (finite), as after a run that
    diverged without a non-finite loss yet."""
    last = trainer.vae.encoder.net[-1]
    d = trainer.model_config.latent_dim
    with torch.no_grad():
        last.weight[d:] = 0.0
        last.bias[d:] = value


def test_a_log_variance_of_100_is_refused_and_the_last_good_models_restored(tiny_data):
    trainer = _trainer(tiny_data)
    trainer.train_step()
    good = trainer.snapshot()
    trainer.train_step()
    _force_logvar(trainer, 100.0)
    assert torch.isinf(torch.tensor(100.0).exp())  # finite, but exp overflows float32
    with pytest.raises(TrainingDiverged) as info:
        trainer.snapshot()
    message = str(info.value)
    assert "log-variance reached 100" in message and f"{MAX_LOGVAR:g}" in message
    assert "The last good weights were kept" in message
    assert _same_weights(trainer.ae, good.ae) and _same_weights(trainer.vae, good.vae)
    # Training carries on from the restored models.
    assert math.isfinite(trainer.train_step().vae_loss)
    assert trainer.snapshot().vae_logvar.max() <= MAX_LOGVAR


def test_a_large_but_drawable_log_variance_is_published(tiny_data):
    trainer = _trainer(tiny_data)
    _force_logvar(trainer, 20.0)
    snapshot = trainer.snapshot()
    np.testing.assert_allclose(snapshot.vae_logvar, 20.0)


def test_a_run_never_hands_on_a_snapshot_with_an_overflowing_log_variance(tiny_data):
    trainer = _trainer(tiny_data)
    published = []

    def publish(snapshot) -> None:
        published.append(snapshot)
        if len(published) == 2:  # the next snapshot comes from a diverged model
            _force_logvar(trainer, 100.0)

    # Snapshots after every batch; the forced weights are trained on first, and whether that
    # batch's loss or the snapshot catches it, the run stops with the last good models.
    with pytest.raises(TrainingDiverged):
        trainer.run(on_snapshot=publish, snapshot_interval=0.0, snapshot_budget=1e9)
    assert len(published) == 2
    assert all(s.vae_logvar.max() <= MAX_LOGVAR for s in published)
    assert _same_weights(trainer.vae, published[-1].vae)
