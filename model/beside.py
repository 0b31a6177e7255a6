"""Two checkpoints side by side: one model of each (by default its right column's, the VAE of
an AE | VAE checkpoint) as one pair, so that the window's columns, cursors and tools compare
them.

The pair is an ordinary Checkpoint: its settings are A's with the pair set to the two models,
each VAE with its own β written out (so that Train from scratch trains the same pair again),
and its history is the epochs both runs reached, each column's losses its own run's.
"""

from __future__ import annotations

import dataclasses

from vae_gui.model.checkpoint import Checkpoint
from vae_gui.model.errors import VaeGuiError
from vae_gui.model.pair import ModelSpec, pair_labels, parse_pair
from vae_gui.model.training import EpochMetrics, Losses

RIGHT = 1  # the model of each checkpoint put beside the other's unless told otherwise
Slots = tuple[int, int]  # which model of A and which of B: 0 its left column's, 1 its right's


def model_names(train_config) -> tuple[str, str]:
    """A checkpoint's two models as Open beside lists them: each VAE with its β."""
    specs = parse_pair(train_config.pair)
    names = pair_labels(specs, train_config.beta)
    return tuple(s.label(train_config.beta) if s.variational and "\u03b2" not in n else n
                 for s, n in zip(specs, names, strict=True))


def chosen_spec(ckpt: Checkpoint, slot: int = RIGHT) -> ModelSpec:
    """The spec of one of a checkpoint's models, a VAE's β written out."""
    spec = parse_pair(ckpt.train_config.pair)[slot]
    beta = spec.beta_in(ckpt.train_config.beta) if spec.variational else None
    return ModelSpec(spec.kind, beta)


def beside_names(a: Checkpoint, b: Checkpoint, slots: Slots = (RIGHT, RIGHT)) -> tuple[str, str]:
    """"A: VAE β=1" and "B: VAE β=4": each model's name in its own run, and its checkpoint."""
    return tuple(f"{letter}: {model_names(ckpt.train_config)[slot]}"
                 for letter, ckpt, slot in zip("AB", (a, b), slots, strict=True))


def _merged_history(a: Checkpoint, b: Checkpoint, slots: Slots) -> tuple[EpochMetrics, ...]:
    """The epochs both runs recorded: each column's losses and KLs from its own run."""
    by_epoch = {m.epoch: m for m in b.history}
    sa, sb = slots
    out = []
    for m in a.history:
        other = by_epoch.get(m.epoch)
        if other is None:
            continue
        out.append(EpochMetrics(
            m.epoch, max(m.seconds, other.seconds),
            Losses(m.train.columns[sa], other.train.columns[sb]),
            Losses(m.test.columns[sa], other.test.columns[sb]),
            (m.kl_per_dim[sa], other.kl_per_dim[sb])))
    return tuple(out)


def beside_checkpoint(a: Checkpoint, b: Checkpoint, slots: Slots = (RIGHT, RIGHT)) -> Checkpoint:
    """A's chosen model (by default its right column's) on the left and B's on the right, as
    one checkpoint on A's dataset; VaeGuiError when their images or latent spaces differ."""
    shape_a, shape_b = (tuple(c.model_config.image_shape) for c in (a, b))
    if shape_a != shape_b:
        raise VaeGuiError(f"The two checkpoints' images differ ({'x'.join(map(str, shape_a))} "
                          f"and {'x'.join(map(str, shape_b))}); open models of one image size "
                          "side by side.")
    dims = a.model_config.latent_dim, b.model_config.latent_dim
    if dims[0] != dims[1]:
        raise VaeGuiError(f"The two checkpoints' latent spaces differ ({dims[0]} and {dims[1]} "
                          "dimensions); a linked cursor needs one space, so open models of "
                          "one latent dimension side by side.")
    specs = (chosen_spec(a, slots[0]), chosen_spec(b, slots[1]))
    train_config = dataclasses.replace(a.train_config, pair=tuple(s.text() for s in specs))
    history = _merged_history(a, b, slots)
    return Checkpoint(a.models[slots[0]], b.models[slots[1]], a.model_config, train_config,
                      a.dataset, a.class_names, history[-1].epoch if history else 0, 0,
                      history, a.device, a.precision)


def same_networks(a: Checkpoint, b: Checkpoint) -> bool:
    """Whether the two models have one architecture (then the pair saves as a checkpoint)."""
    return a.model_config == b.model_config
