"""The run's timeline: what it keeps of a run within its memory budget. No Qt."""

from __future__ import annotations

import dataclasses
import json
import time
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from checkpoint_files import checkpoint_with_timeline, join_safetensors, split_safetensors
from vae_gui.model.checkpoint import (
    load_checkpoint,
    read_metadata,
    save_checkpoint,
)
from vae_gui.model.config import TrainConfig
from vae_gui.model.errors import CheckpointError
from vae_gui.model.networks import build_models
from vae_gui.model.run_timeline import checkpoint_moments
from vae_gui.model.timeline import Timeline, snapshot_bytes
from vae_gui.model.training import Trainer, snapshot_of


@pytest.fixture
def moment(tiny_data, small_config):
    """A snapshot at any step and epoch (the same small models: only the cost matters)."""
    ae, vae = build_models(small_config, seed=0)
    base = snapshot_of((ae, vae), tiny_data)

    def at(step: int, epoch: float):
        return dataclasses.replace(base, step=step, epoch=float(epoch))

    return at


def test_a_snapshot_costs_its_weights_and_arrays(moment, small_config):
    s = moment(0, 0)
    weights = sum(p.numel() * 4 for m in (s.ae, s.vae) for p in m.state_dict().values())
    arrays = sum(a.nbytes for a in (s.ae_codes, s.vae_mu, s.vae_logvar, s.labels,
                                    s.train_curve))
    assert snapshot_bytes(s) == weights + arrays
    # 784-32-2 twice per model: the weights are most of it.
    assert weights > 4 * (784 * 32 + 32 * 2) * 2


def test_within_the_budget_every_moment_is_kept_in_order(moment):
    timeline = Timeline()
    for step in range(0, 50, 5):
        timeline.add(moment(step, step / 10))
    assert timeline.steps == list(range(0, 50, 5))
    assert timeline.dropped == 0
    assert timeline.nbytes == sum(snapshot_bytes(s) for s in timeline)


def test_over_the_budget_intermediate_moments_go_first_evenly_and_epochs_stay(moment):
    cost = snapshot_bytes(moment(0, 0))
    timeline = Timeline(max_bytes=12 * cost)
    # 10 epochs of 10 steps, a snapshot every 2 steps: 6 per epoch, 51 in all.
    for step in range(0, 101, 2):
        timeline.add(moment(step, step / 10))
    assert len(timeline) == 12 and timeline.nbytes <= 12 * cost
    assert timeline.dropped == 51 - 12
    steps = timeline.steps
    assert steps[0] == 0 and steps[-1] == 100  # the first and the newest always stay
    assert len(set(steps)) == len(steps) and steps == sorted(steps)
    # the 12 kept are all 11 epoch ends and one intermediate moment
    assert set(range(0, 101, 10)) <= set(steps)
    assert len([s for s in steps if s % 10]) == 1


def test_when_only_epochs_remain_they_are_thinned_evenly(moment):
    cost = snapshot_bytes(moment(0, 0))
    timeline = Timeline(max_bytes=9 * cost)
    for epoch in range(0, 65):
        timeline.add(moment(epoch * 10, epoch))
    steps = np.array(timeline.steps)
    assert len(steps) == 9 and steps[0] == 0 and steps[-1] == 640
    gaps = np.diff(steps)
    assert gaps.max() <= 2 * gaps.min() + 10  # no hole much wider than the others


def test_a_run_that_goes_back_in_steps_replaces_the_moments_after_it(moment):
    timeline = Timeline()
    for step in (0, 10, 20, 30):
        timeline.add(moment(step, step / 10))
    assert timeline.add(moment(20, 2.0)) is True  # the same step again: replaced
    assert timeline.steps == [0, 10, 20]
    assert timeline.index_at_or_before(25) == 2
    assert timeline.index_at_or_before(9) == 0


def test_the_trainer_publishes_a_snapshot_at_epoch_ends(tiny_data, small_config,
                                                        monkeypatch):
    import vae_gui.model.training as training

    # A clock that moves 1/8 s per training step (snapshots take no time): 8 steps an
    # epoch, a snapshot every 3/8 s, and at an epoch's end unless the last is 3/16 s old.
    clock = [0.0]
    monkeypatch.setattr(training, "time", SimpleNamespace(perf_counter=lambda: clock[0],
                                                          monotonic=time.monotonic))
    trainer = Trainer(tiny_data, small_config, TrainConfig(epochs=3, batch_size=50, seed=0))
    step = trainer.train_step

    def timed_step():
        clock[0] += 0.125
        return step()

    monkeypatch.setattr(trainer, "train_step", timed_step)
    seen = []
    trainer.run(on_snapshot=seen.append, snapshot_interval=0.375)
    steps = [s.step for s in seen]
    assert steps[:-1] == [3, 6, 8, 11, 14, 16, 19, 22, 24] and steps[-1] == 24
    assert [s.epoch for s in seen if s.step % 8 == 0] == [1.0, 2.0, 3.0, 3.0]


def test_a_budget_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        Timeline(max_bytes=0)


# --- a checkpoint that carries its run's timeline ----------------------------------------

def test_a_checkpoint_carries_its_timeline_and_opens_it_again(make_checkpoint, tmp_path):
    ckpt = checkpoint_with_timeline(make_checkpoint)
    path = save_checkpoint(ckpt, tmp_path / "run.safetensors")
    back = load_checkpoint(path)
    assert [(m.step, m.epoch) for m in back.timeline] == [(32, 1.0), (64, 2.0)]
    for saved, loaded in zip(ckpt.timeline, back.timeline, strict=True):
        for a, b in ((saved.ae, loaded.ae), (saved.vae, loaded.vae)):
            for (name, t), u in zip(a.state_dict().items(), b.state_dict().values(),
                                    strict=True):
                assert torch.equal(t, u), name
    # Without a timeline the metadata is what it always was: older readers open it.
    assert "timeline" not in make_checkpoint().metadata()
    assert read_metadata(path)["timeline"] == [{"step": 32, "epoch": 1.0},
                                               {"step": 64, "epoch": 2.0}]


@pytest.mark.parametrize("edit, reason", [
    (lambda meta: meta.update(timeline=[{"step": 64, "epoch": 2}, {"step": 32, "epoch": 1}]),
     "steps must increase"),
    (lambda meta: meta.update(timeline=[{"step": 500, "epoch": 1}]), "steps must increase"),
    (lambda meta: meta.update(timeline=[{"step": 32, "epoch": -1}]), "epoch must be"),
    (lambda meta: meta.update(timeline="all of it"), "timeline must be a list"),
    # a moment named in the metadata whose weights are not in the file
    (lambda meta: meta["timeline"].append({"step": 80, "epoch": 2.5}), "does not match"),
])
def test_a_damaged_timeline_says_why(make_checkpoint, tmp_path, edit, reason):
    path = save_checkpoint(checkpoint_with_timeline(make_checkpoint), tmp_path / "run.safetensors")
    header, data = split_safetensors(path.read_bytes())
    meta = json.loads(header["__metadata__"]["vae_gui"])
    edit(meta)
    header["__metadata__"]["vae_gui"] = json.dumps(meta)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(join_safetensors(header, data))
    with pytest.raises(CheckpointError, match=reason):
        load_checkpoint(bad)


def test_the_moments_of_a_checkpoint_are_its_models_encoded(make_checkpoint, tiny_data):
    ckpt = checkpoint_with_timeline(make_checkpoint)
    moments = checkpoint_moments(ckpt, tiny_data)
    assert [(s.step, s.epoch) for s in moments] == [(32, 1.0), (64, 2.0)]
    x = torch.tensor(tiny_data.test_images).flatten(1)
    for s, m in zip(moments, ckpt.timeline, strict=True):
        with torch.no_grad():
            np.testing.assert_allclose(s.ae_codes, m.ae.encode(x).numpy(), atol=1e-5)
            np.testing.assert_allclose(s.vae_mu, m.vae.encode(x)[0].numpy(), atol=1e-5)
        assert all(h.epoch <= s.epoch for h in s.history)
