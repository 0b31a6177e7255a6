"""The loss terms against independent references: torch.distributions, Monte Carlo, F.*."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Bernoulli, Normal, kl_divergence
from vae_gui.model.losses import (
    MSE_VARIANCE,
    _BinaryCrossEntropyWithLogits,
    kl_per_dimension,
    reconstruction_loss,
    reconstruction_per_image,
    vae_loss,
)
from vae_gui.model.losses import kl_divergence as closed_form_kl


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


def _bce_inputs(seed: int, shape=(5, 9)) -> tuple[torch.Tensor, torch.Tensor]:
    """float64 logits spread over a wide range (both signs) and targets in [0, 1]."""
    gen = torch.Generator().manual_seed(seed)
    logits = (torch.randn(shape, generator=gen, dtype=torch.float64) * 4).requires_grad_()
    target = torch.rand(shape, generator=gen, dtype=torch.float64).requires_grad_()
    return logits, target


@pytest.mark.parametrize("wrt", ["both", "logits", "target"])
def test_the_custom_bce_backward_passes_gradcheck(wrt):
    # Finite differences in float64 against the hand-written backward: sigmoid(l) - x for the
    # logits and -l for the target, each times the incoming gradient.
    logits, target = _bce_inputs(4)
    logits.requires_grad_(wrt in ("both", "logits"))
    target.requires_grad_(wrt in ("both", "target"))
    assert torch.autograd.gradcheck(_BinaryCrossEntropyWithLogits.apply, (logits, target),
                                    eps=1e-6, atol=1e-6, rtol=1e-5)


def test_the_custom_bce_matches_torch_in_values_and_gradients():
    logits, target = _bce_inputs(5, shape=(4, 16))
    with torch.no_grad():  # extremes, where a naive log(sigmoid) would overflow or lose digits
        logits[0, :8] = torch.tensor([-700.0, -100.0, -30.0, -1e-8, 0.0, 1e-8, 30.0, 700.0],
                                     dtype=torch.float64)
        target[0, :4] = torch.tensor([0.0, 1.0, 0.0, 1.0], dtype=torch.float64)
    ref_logits = logits.detach().clone().requires_grad_()
    ref_target = target.detach().clone().requires_grad_()
    ours = _BinaryCrossEntropyWithLogits.apply(logits, target)
    reference = F.binary_cross_entropy_with_logits(ref_logits, ref_target, reduction="none")
    torch.testing.assert_close(ours, reference, rtol=1e-12, atol=1e-12)
    # An uneven incoming gradient, so that the backward must scale by it element by element.
    upstream = torch.randn(logits.shape, generator=torch.Generator().manual_seed(6),
                           dtype=torch.float64)
    (ours * upstream).sum().backward()
    (reference * upstream).sum().backward()
    torch.testing.assert_close(logits.grad, ref_logits.grad, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(target.grad, ref_target.grad, rtol=1e-12, atol=1e-12)


def test_bce_reconstruction_has_torchs_gradient_in_float32():
    # The path training takes: float32, summed over pixels and averaged over the batch.
    gen = torch.Generator().manual_seed(7)
    logits = (torch.randn(16, 784, generator=gen) * 3).requires_grad_()
    x = torch.rand(16, 28, 28, generator=gen)
    ref_logits = logits.detach().clone().requires_grad_()
    reconstruction_loss(logits, x, "bce").backward()
    reference = F.binary_cross_entropy_with_logits(ref_logits, x.flatten(1), reduction="sum")
    (reference / 16).backward()
    torch.testing.assert_close(logits.grad, ref_logits.grad)


def test_mse_reconstruction_compares_sigmoid_images():
    # The squared error of the sigmoid images, plus a constant: log(pi)/2 per pixel.
    gen = torch.Generator().manual_seed(2)
    logits = torch.randn(16, 784, generator=gen)
    x = torch.rand(16, 784, generator=gen)
    reference = F.mse_loss(torch.sigmoid(logits), x, reduction="sum") / 16
    torch.testing.assert_close(reconstruction_loss(logits, x, "mse"),
                               reference + 784 * 0.5 * math.log(math.pi))
    assert 784 * 0.5 * math.log(math.pi) == pytest.approx(448.7, abs=0.05)


def _images(seed: int, n: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """float64 logits and grey-level images (N, 28, 28) in [0, 1], as the trainer sees them."""
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, 784, generator=gen, dtype=torch.float64) * 3
    x = torch.rand(n, 28, 28, generator=gen, dtype=torch.float64)
    return logits, x


def test_mse_is_the_negative_log_likelihood_of_a_gaussian_with_variance_one_half():
    # It was the bare sum of squared errors, labelled nats: a density's nats need the
    # normalising constant of the stated variance.
    assert MSE_VARIANCE == 0.5
    logits, x = _images(8)
    decoder = Normal(torch.sigmoid(logits), math.sqrt(MSE_VARIANCE))
    reference = -decoder.log_prob(x.flatten(1)).sum(-1)
    torch.testing.assert_close(reconstruction_per_image(logits, x, "mse"), reference)
    torch.testing.assert_close(reconstruction_loss(logits, x, "mse"), reference.mean())


def test_bce_is_the_negative_log_likelihood_of_bernoulli_pixels():
    logits, x = _images(9)
    decoder = Bernoulli(logits=logits, validate_args=False)  # grey levels, not just 0 and 1
    reference = -decoder.log_prob(x.flatten(1)).sum(-1)
    torch.testing.assert_close(reconstruction_per_image(logits, x, "bce"), reference)
    torch.testing.assert_close(reconstruction_loss(logits, x, "bce"), reference.mean())


def test_the_mse_constant_leaves_the_gradient_of_the_squared_error():
    logits, x = _images(10, n=4)
    logits.requires_grad_()
    reconstruction_loss(logits, x, "mse").backward()
    plain = logits.detach().clone().requires_grad_()
    (((torch.sigmoid(plain) - x.flatten(1)) ** 2).sum(dim=1).mean()).backward()
    torch.testing.assert_close(logits.grad, plain.grad, rtol=0, atol=0)


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
