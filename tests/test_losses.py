"""The loss terms against independent references: torch.distributions, Monte Carlo, F.*."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence
from vae_gui.model.losses import kl_divergence as closed_form_kl
from vae_gui.model.losses import kl_per_dimension, reconstruction_loss, vae_loss


@pytest.fixture
def gaussian_batch():
    gen = torch.Generator().manual_seed(0)
    mu = torch.randn(64, 5, generator=gen, dtype=torch.float64) * 1.5
    logvar = torch.randn(64, 5, generator=gen, dtype=torch.float64)
    return mu, logvar


def test_kl_matches_torch_distributions(gaussian_batch):
    mu, logvar = gaussian_batch
    reference = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0))
    torch.testing.assert_close(kl_per_dimension(mu, logvar), reference.mean(dim=0))
    torch.testing.assert_close(closed_form_kl(mu, logvar), reference.sum(dim=1).mean())


def test_kl_matches_monte_carlo_estimate():
    # KL(q || p) = E_q[log q(z) - log p(z)], estimated with 400k samples per dimension.
    mu = torch.tensor([[0.5, -1.0, 2.0]], dtype=torch.float64)
    logvar = torch.tensor([[0.0, -1.0, 0.7]], dtype=torch.float64)
    q = Normal(mu, torch.exp(0.5 * logvar))
    z = q.sample(torch.Size([400_000]))
    estimate = (q.log_prob(z) - Normal(0.0, 1.0).log_prob(z)).mean(dim=0).squeeze(0)
    exact = kl_per_dimension(mu, logvar)
    # The per-sample log-ratio has a standard deviation below 3 here, so the standard error
    # of a 400k-sample mean is below 0.005: a tolerance of 0.02 is four standard errors.
    torch.testing.assert_close(estimate, exact, atol=0.02, rtol=0)


def test_kl_is_zero_at_the_prior_and_positive_elsewhere(gaussian_batch):
    zeros = torch.zeros(8, 3)
    assert closed_form_kl(zeros, zeros).item() == 0.0
    mu, logvar = gaussian_batch
    assert (kl_per_dimension(mu, logvar) > 0).all()


def test_bce_reconstruction_is_summed_over_pixels_and_averaged_over_batch():
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(16, 784, generator=gen) * 3
    x = torch.rand(16, 28, 28, generator=gen)
    reference = F.binary_cross_entropy(torch.sigmoid(logits), x.flatten(1), reduction="sum") / 16
    torch.testing.assert_close(reconstruction_loss(logits, x, "bce"), reference,
                               rtol=1e-5, atol=1e-3)


def test_mse_reconstruction_compares_sigmoid_images():
    gen = torch.Generator().manual_seed(2)
    logits = torch.randn(16, 784, generator=gen)
    x = torch.rand(16, 784, generator=gen)
    reference = F.mse_loss(torch.sigmoid(logits), x, reduction="sum") / 16
    torch.testing.assert_close(reconstruction_loss(logits, x, "mse"), reference)


def test_unknown_reconstruction_loss_is_rejected():
    with pytest.raises(ValueError, match="bce"):
        reconstruction_loss(torch.zeros(1, 4), torch.zeros(1, 4), "l1")


@pytest.mark.parametrize("kind", ["bce", "mse"])
@pytest.mark.parametrize("beta", [0.0, 1.0, 4.0])
def test_vae_loss_is_reconstruction_plus_beta_kl(kind, beta, gaussian_batch):
    mu, logvar = (t.float() for t in gaussian_batch)
    gen = torch.Generator().manual_seed(3)
    logits = torch.randn(64, 784, generator=gen)
    x = torch.rand(64, 784, generator=gen)
    loss, recon, kl = vae_loss(logits, x, mu, logvar, beta=beta, kind=kind)
    torch.testing.assert_close(recon, reconstruction_loss(logits, x, kind))
    torch.testing.assert_close(kl, closed_form_kl(mu, logvar))
    torch.testing.assert_close(loss, recon + beta * kl)
