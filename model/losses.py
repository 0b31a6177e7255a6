"""Reconstruction and KL terms, in nats per image (summed over pixels, mean over the batch):
negative log-likelihoods, of a probability for BCE and of a density for MSE."""

from __future__ import annotations

import math

import torch
from vae_gui.model.config import MSE_VARIANCE


class _BinaryCrossEntropyWithLogits(torch.autograd.Function):
    """BCE with logits per pixel, in the stable form max(l, 0) - l*x + log(1 + exp(-|l|)).

    Same values as F.binary_cross_entropy_with_logits, about twice as fast forward and
    backward on the CPU (its log_sigmoid kernel dominates a training step there; see
    docs/benchmarks.md). The gradient with respect to the logits is sigmoid(l) - x.
    """

    @staticmethod
    def forward(ctx, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(logits, target)
        return logits.clamp_min(0) - logits * target + torch.log1p(torch.exp(-logits.abs()))

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        logits, target = ctx.saved_tensors
        grad_target = None
        if ctx.needs_input_grad[1]:
            grad_target = -grad * logits
        return grad * (torch.sigmoid(logits) - target), grad_target


_MSE_CONSTANT = 0.5 * math.log(2.0 * math.pi * MSE_VARIANCE)  # log(pi)/2 nats per pixel


def reconstruction_per_image(logits: torch.Tensor, x: torch.Tensor,
                             kind: str = "bce") -> torch.Tensor:
    """-log p(x|z) of each image (N,), in nats: Bernoulli pixels with probability
    sigmoid(logits) for "bce", Gaussian pixels N(sigmoid(logits), MSE_VARIANCE) for "mse"."""
    x = x.flatten(1)
    if kind == "bce":
        return _BinaryCrossEntropyWithLogits.apply(logits, x).sum(dim=1)
    if kind == "mse":
        # The constant once per image rather than per pixel: the same value, one add fewer
        # per pixel on the training path.
        squared = ((torch.sigmoid(logits) - x) ** 2).sum(dim=1)
        return squared / (2.0 * MSE_VARIANCE) + x.shape[1] * _MSE_CONSTANT
    raise ValueError(f"unknown reconstruction loss {kind!r}; use 'bce' or 'mse'")


def reconstruction_loss(logits: torch.Tensor, x: torch.Tensor, kind: str = "bce") -> torch.Tensor:
    """-log p(x|z) in nats per image, averaged over the batch (see reconstruction_per_image)."""
    return reconstruction_per_image(logits, x, kind).mean()


def kl_per_dimension(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, 1)) for each latent dimension, averaged over the batch.

    Closed form from Kingma and Welling (2014), appendix B:
    -KL = 1/2 * sum(1 + log sigma^2 - mu^2 - sigma^2).
    """
    return (0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)).mean(dim=0)


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Total KL(q(z|x) || N(0, I)) in nats per image."""
    return kl_per_dimension(mu, logvar).sum()


def vae_loss(
    logits: torch.Tensor,
    x: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    beta: float = 1.0,
    kind: str = "bce",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Returns (loss, reconstruction, kl); with beta = 1 the loss is the negative ELBO (of
    the Bernoulli decoder for BCE, of the Gaussian one with variance MSE_VARIANCE for MSE)."""
    recon = reconstruction_loss(logits, x, kind)
    kl = kl_divergence(mu, logvar)
    return recon + beta * kl, recon, kl
