"""Reconstruction and KL terms, in nats per image (summed over pixels, mean over the batch)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def reconstruction_loss(logits: torch.Tensor, x: torch.Tensor, kind: str = "bce") -> torch.Tensor:
    """-log p(x|z) for BCE (Bernoulli pixels) or the summed squared error for MSE."""
    x = x.flatten(1)
    if kind == "bce":
        per_pixel = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    elif kind == "mse":
        per_pixel = (torch.sigmoid(logits) - x) ** 2
    else:
        raise ValueError(f"unknown reconstruction loss {kind!r}; use 'bce' or 'mse'")
    return per_pixel.sum(dim=1).mean()


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
    """Returns (loss, reconstruction, kl); with beta = 1 and BCE the loss is the negative ELBO."""
    recon = reconstruction_loss(logits, x, kind)
    kl = kl_divergence(mu, logvar)
    return recon + beta * kl, recon, kl
