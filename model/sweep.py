"""A β sweep: one VAE per β, trained side by side on the same batches from the same start, so
that β is the only difference between them ("what does β do?"). No Qt: the window calls it
from a background thread, `vae-gui sweep` from the command line.

Each VAE is measured on the test split after every epoch by its rate R (the KL term) and its
distortion D (the reconstruction term), both in nats per image: a larger β buys a smaller
rate with a larger distortion, and D + R is each model's -ELBO.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from vae_gui.model.config import MAX_DATASET_MB_VARIABLE, ModelConfig, TrainConfig
from vae_gui.model.data import STREAM_ABOVE_MB_VARIABLE, DatasetBundle
from vae_gui.model.device import resolve_device
from vae_gui.model.errors import DatasetError, TooLarge, TrainingDiverged
from vae_gui.model.losses import kl_per_dimension, reconstruction_loss
from vae_gui.model.memory_needs import available_bytes, gigabytes, training_bytes
from vae_gui.model.networks import VariationalAutoencoder, build_models
from vae_gui.model.training import (
    EVAL_BATCH,
    EVAL_NOISE_SEED,
    adam_optimizer,
    frozen_copy,
    read_only,
)

MAX_BETAS = 12


@dataclass(frozen=True)
class EpochFigures:
    """One VAE's test figures after an epoch, in nats per image."""

    epoch: int
    rate: float  # KL(q(z|x) || p(z)), the mean over the test images
    distortion: float  # -log p(x|z), the mean over the test images, z ~ q(z|x) once each


@dataclass(frozen=True, eq=False)
class SweepResult:
    """The VAEs of a sweep, one per β in the order given, and their test figures.

    `models` are frozen CPU copies (eval mode, no gradients); `rate` and `distortion` are
    those of the last epoch; `mu` holds each VAE's test means (N, latent_dim), read-only.
    """

    betas: tuple[float, ...]
    models: tuple[VariationalAutoencoder, ...]
    rate: tuple[float, ...]
    distortion: tuple[float, ...]
    history: tuple[tuple[EpochFigures, ...], ...]
    mu: tuple[np.ndarray, ...]
    labels: np.ndarray
    class_names: tuple[str, ...]
    dataset: str
    seconds: float


def check_betas(betas: Sequence[float], train_config: TrainConfig) -> tuple[float, ...]:
    """The βs as floats; ValueError with a sentence when there are too few or too many, or
    one is out of BOUNDS (checked by TrainConfig itself, so the bounds are the project's)."""
    betas = tuple(betas)
    if not 1 <= len(betas) <= MAX_BETAS:
        raise ValueError(f"A sweep takes 1 to {MAX_BETAS} values of beta, not {len(betas)}.")
    for b in betas:
        try:
            dataclasses.replace(train_config, beta=b)
        except ValueError as exc:
            raise ValueError(f"The sweep's {exc}.") from None
    return tuple(float(b) for b in betas)


def _check_fits(model_config: ModelConfig, train_config: TrainConfig, n_vaes: int,
                n_images: int) -> None:
    """Refuses, before anything is allocated, a sweep that would not fit in memory.

    training_bytes is for an AE and a VAE, which are about two VAEs: a rough but safe bound.
    """
    available = available_bytes()
    if available is None:
        return
    need = training_bytes(model_config, train_config.batch_size, n_images) * math.ceil(
        n_vaes / 2)
    if need > available:
        raise TooLarge(f"A sweep of {n_vaes} VAEs would need about {gigabytes(need)} of "
                       f"memory, but only {gigabytes(available)} is available. Sweep fewer "
                       "values of beta, or choose smaller hidden layers or a smaller batch.")


@torch.no_grad()
def evaluate_vae(vae: VariationalAutoencoder, test_x: torch.Tensor,
                 loss: str) -> tuple[float, float]:
    """(rate, distortion) of `vae` on `test_x`, in nats per image, in eval mode.

    The estimator of Trainer.evaluate's VAE test loss, exactly: the KL in closed form, and
    the reconstruction of one sample z ~ q(z|x) per image, drawn with the fixed noise of
    EVAL_NOISE_SEED (not the posterior mean).
    """
    was_training = vae.training
    vae.eval()
    gen = torch.Generator(test_x.device).manual_seed(EVAL_NOISE_SEED)
    rate = distortion = 0.0
    n = len(test_x)
    for start in range(0, n, EVAL_BATCH):
        x = test_x[start:start + EVAL_BATCH]
        logits, mu, logvar = vae(x, gen)
        rate += len(x) * kl_per_dimension(mu, logvar).sum().item()
        distortion += len(x) * reconstruction_loss(logits, x, loss).item()
    vae.train(was_training)
    return rate / n, distortion / n


@torch.no_grad()
def _test_means(vae: VariationalAutoencoder, test_x: torch.Tensor) -> np.ndarray:
    mus = [vae.encode(x)[0] for x in test_x.split(EVAL_BATCH)]
    return read_only(torch.cat(mus).cpu().numpy().astype(np.float32, copy=False))


def sweep(
    data: DatasetBundle,
    model_config: ModelConfig,
    train_config: TrainConfig,
    betas: Sequence[float],
    progress: Callable[[int, int], None] | None = None,
    check: Callable[[], None] | None = None,
) -> SweepResult:
    """Trains one VAE per β (train_config.beta is ignored) and measures each on the test
    split after every epoch.

    Every VAE starts from the same weights (the VAE of build_models(model_config, seed)),
    sees the same shuffled batches in the same order and draws the same noise, so two equal
    βs give identical models. `progress(done, total)` follows each step (one batch for every
    VAE); `check()` runs before each step and may raise to stop the sweep (the exception
    propagates). A non-finite loss raises TrainingDiverged naming the β.
    """
    betas = check_betas(betas, train_config)
    if getattr(data, "stream", None) is not None:
        # The sweep slices its batches from one tensor of the whole training split.
        raise DatasetError(
            f"{data.name} is too large to hold in memory ({data.stream.reason()}), and the "
            "beta sweep trains only on data held in memory. Sweep a smaller folder, or, if "
            f"this one fits in memory, set {STREAM_ABOVE_MB_VARIABLE} and "
            f"{MAX_DATASET_MB_VARIABLE} above its size in megabytes.")
    if tuple(model_config.image_shape) != data.image_shape:
        raise ValueError(f"the models expect images of {model_config.image_shape} but "
                         f"{data.name} has {data.image_shape}")
    if not len(data.train_images) or not len(data.test_images):
        raise ValueError(f"{data.name} needs both training and test images for a sweep")
    _check_fits(model_config, train_config, len(betas),
                len(data.train_images) + len(data.test_images))
    started = time.perf_counter()
    seed, lr, loss = train_config.seed, train_config.lr, train_config.loss
    device = resolve_device(train_config.device)
    train_x = torch.tensor(data.train_images).flatten(1).to(device)
    test_x = torch.tensor(data.test_images).flatten(1).to(device)

    # train_config.precision is ignored: a sweep trains in float32 always, so that its
    # figures never depend on the CPU's or GPU's native float types.
    _, first = build_models(model_config, seed)
    vaes = [copy.deepcopy(first).to(device).train() for _ in betas]
    optimizers = [adam_optimizer(vae.parameters(), lr) for vae in vaes]
    # The seeds the Trainer gives its VAE's noise and dropout, so that the VAE of β here is
    # the Trainer's VAE of β; one set per VAE, seeded alike, so equal βs stay equal.
    noise = [torch.Generator(device).manual_seed(seed + 1) for _ in betas]
    for vae in vaes:
        vae.encoder.generator = torch.Generator(device).manual_seed(seed + 3)
    shuffle_gen = torch.Generator().manual_seed(seed)

    batch = train_config.batch_size
    steps_per_epoch = math.ceil(len(train_x) / batch)
    total = train_config.epochs * steps_per_epoch
    history: list[list[EpochFigures]] = [[] for _ in betas]
    done = 0
    for epoch in range(1, train_config.epochs + 1):
        order = torch.randperm(len(train_x), generator=shuffle_gen).to(device)
        for start in range(0, len(train_x), batch):
            if check is not None:
                check()
            x = train_x[order[start:start + batch]]
            for vae, opt, gen, beta in zip(vaes, optimizers, noise, betas, strict=True):
                _train_step(vae, opt, gen, x, beta, loss, done + 1)
            done += 1
            if progress is not None:
                progress(done, total)
        for k, vae in enumerate(vaes):
            rate, distortion = evaluate_vae(vae, test_x, loss)
            if not (math.isfinite(rate) and math.isfinite(distortion)):
                raise TrainingDiverged(
                    f"The VAE with beta {betas[k]:g} diverged in epoch {epoch}: its test "
                    f"rate is {rate:g} and its distortion {distortion:g} nats. Lower the "
                    f"learning rate (now {lr:g}) and sweep again.")
            history[k].append(EpochFigures(epoch, rate, distortion))

    models = tuple(frozen_copy(vae) for vae in vaes)
    return SweepResult(
        betas=betas,
        models=models,
        rate=tuple(h[-1].rate for h in history),
        distortion=tuple(h[-1].distortion for h in history),
        history=tuple(tuple(h) for h in history),
        mu=tuple(_test_means(m, test_x.cpu()) for m in models),
        labels=read_only(np.array(data.test_labels)),
        class_names=tuple(data.class_names),
        dataset=data.name,
        seconds=time.perf_counter() - started,
    )


def _train_step(vae: VariationalAutoencoder, optimizer: torch.optim.Optimizer,
                generator: torch.Generator, x: torch.Tensor, beta: float, loss: str,
                step: int) -> None:
    """One Adam step of reconstruction + β * KL; TrainingDiverged on a non-finite loss."""
    logits, mu, logvar = vae(x, generator)
    recon = reconstruction_loss(logits, x, loss)
    kl = kl_per_dimension(mu, logvar).sum()
    total = recon + beta * kl
    value = total.item()
    if not math.isfinite(value):
        raise TrainingDiverged(
            f"The VAE with beta {beta:g} diverged at step {step}: its loss became "
            f"{value} (reconstruction {recon.item():g}, KL {kl.item():g}). Lower the "
            f"learning rate (now {optimizer.param_groups[0]['lr']:g}) and sweep again.")
    optimizer.zero_grad(set_to_none=True)
    total.backward()
    optimizer.step()
