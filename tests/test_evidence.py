"""The evidence panel's maths against independent references: torch.distributions, closed
forms for Gaussians, Monte Carlo, and the likelihood bounds against each other."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.distributions import Bernoulli, MultivariateNormal, Normal, kl_divergence
from vae_gui.model import evidence as ev
from vae_gui.model.config import ModelConfig
from vae_gui.model.networks import VariationalAutoencoder, build_models

# numpy >= 2 calls it trapezoid; numpy 1.x (which the project allows) only has trapz.
trapezoid = getattr(np, "trapezoid", None) or np.trapz


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


# ---------------------------------------------------------------- moment-matched KL


def test_moment_matched_kl_matches_torch_distributions():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 4))
    z = rng.standard_normal((3000, 4)) @ a + np.array([0.5, -1.0, 2.0, 0.0])
    m, s = z.mean(axis=0), np.cov(z, rowvar=False, bias=True)
    reference = kl_divergence(MultivariateNormal(torch.tensor(m), torch.tensor(s)),
                              MultivariateNormal(torch.zeros(4, dtype=torch.float64),
                                                 torch.eye(4, dtype=torch.float64)))
    assert ev.moment_matched_kl(z) == pytest.approx(float(reference), rel=1e-10)


def test_moment_matched_kl_of_prior_draws_is_near_zero_and_of_a_shift_is_half_its_square():
    z = np.random.default_rng(1).standard_normal((100_000, 3))
    base = ev.moment_matched_kl(z)
    assert 0 <= base < 1e-3
    # A shift s keeps S and moves m to m + s: the KL grows by (|m + s|^2 - |m|^2) / 2, which
    # is |s|^2 / 2 = 2 for the prior's m = 0.
    s, m = np.array([2.0, 0.0, 0.0]), z.mean(axis=0)
    shifted = ev.moment_matched_kl(z + s)
    assert shifted == pytest.approx(base + 0.5 * (s @ (2 * m + s)), rel=1e-10)
    assert shifted == pytest.approx(2.0, abs=0.02)


def test_moment_matched_kl_of_a_singular_cloud_is_infinite_and_of_too_few_points_nan():
    t = np.random.default_rng(2).standard_normal(500)
    assert ev.moment_matched_kl(np.column_stack([t, 2 * t])) == math.inf  # on a line
    assert ev.moment_matched_kl(np.column_stack([t, np.zeros(500)])) == math.inf
    assert ev.moment_matched_kl(np.ones((100, 2))) == math.inf  # one point repeated
    assert math.isnan(ev.moment_matched_kl(np.zeros((1, 2))))
    # 1-D input is one latent dimension; non-finite rows are dropped, not propagated.
    z = np.random.default_rng(3).standard_normal(1000)
    assert ev.moment_matched_kl(z) == pytest.approx(ev.moment_matched_kl(z[:, None]))
    assert ev.moment_matched_kl(np.append(z, [np.nan, np.inf])) == ev.moment_matched_kl(z)


# ---------------------------------------------------------------- MMD


def population_mmd2(m1: np.ndarray, s1: np.ndarray, m2: np.ndarray, s2: np.ndarray,
                    h2: float) -> float:
    """MMD^2 between N(m1, S1) and N(m2, S2) with kernel exp(-|x - y|^2 / (2 h2)):
    E k(X, Y) = det(I + (S1 + S2)/h2)^(-1/2) exp(-0.5 dm^T (h2 I + S1 + S2)^(-1) dm)."""
    eye = np.eye(len(m1))

    def expected_k(ma, sa, mb, sb):
        dm = ma - mb
        return (np.linalg.det(eye + (sa + sb) / h2) ** -0.5
                * np.exp(-0.5 * dm @ np.linalg.solve(h2 * eye + sa + sb, dm)))

    return (expected_k(m1, s1, m1, s1) + expected_k(m2, s2, m2, s2)
            - 2 * expected_k(m1, s1, m2, s2))


def test_mmd_of_prior_draws_stays_under_the_noise_floor():
    n, d = 200, 3
    median, p95 = ev.mmd_noise_floor(n, d, repeats=200)
    # The null distribution of the unbiased estimator has mean 0 but is skewed to the right
    # (a weighted sum of centred chi-squares), so its median sits a little below 0.
    assert -p95 < median < 0.25 * p95
    # A fresh null value lies below the 95th percentile of 200 others with probability
    # ~0.945: 51 of 60 leaves room for the binomial spread (P(fewer) ~1%).
    below = [ev.mmd_to_prior(np.random.default_rng(100 + s).standard_normal((n, d)), seed=s)
             < p95 for s in range(60)]
    assert sum(below) >= 51
    assert ev.mmd_noise_floor(n, d, repeats=200) == (median, p95)  # deterministic


@pytest.mark.parametrize(("d", "shift", "scale"), [(2, 0.5, 1.0), (2, 0.0, 1.6), (5, 0.3, 0.7)])
def test_mmd_matches_the_population_value_between_gaussians(d, shift, scale):
    mu = np.full(d, shift)
    expected = population_mmd2(mu, scale**2 * np.eye(d), np.zeros(d), np.eye(d), h2=d)
    estimates = [ev.mmd_to_prior(mu + scale * np.random.default_rng(s).standard_normal((600, d)),
                                 seed=1000 + s) for s in range(10)]
    # The estimator is unbiased; away from the prior its spread is O(1/sqrt(n)) (~0.01 here),
    # far above the null's noise floor, so the tolerance is the estimates' own standard error.
    standard_error = np.std(estimates, ddof=1) / math.sqrt(len(estimates))
    assert np.mean(estimates) == pytest.approx(expected, abs=4 * standard_error)
    assert expected > 10 * standard_error  # far enough from the prior to mean something


def test_mmd_is_the_unbiased_estimator_with_the_stated_reference_draws():
    # Below 2,000 points nothing is subsampled and the reference is the first draw of
    # default_rng(seed), as documented: the float64 brute force gives the same number.
    rng = np.random.default_rng(11)
    for n, d, n_ref in [(300, 2, None), (150, 4, 260)]:
        x = 0.3 + 1.2 * rng.standard_normal((n, d))
        m = n if n_ref is None else n_ref
        y = np.random.default_rng(3).standard_normal((m, d))

        kxx, kyy, kxy = (np.exp(-((a[:, None] - b[None]) ** 2).sum(-1) / (2 * d))
                         for a, b in [(x, x), (y, y), (x, y)])
        expected = ((kxx.sum() - np.trace(kxx)) / (n * (n - 1))
                    + (kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean())
        assert ev.mmd_to_prior(x, seed=3, n_ref=n_ref) == pytest.approx(expected, abs=1e-6)


def test_mmd_subsamples_large_clouds_and_fixes_its_bandwidth():
    z = 0.5 + np.random.default_rng(4).standard_normal((10_000, 2))
    value = ev.mmd_to_prior(z)
    assert value == ev.mmd_to_prior(z)  # deterministic for a seed
    expected = population_mmd2(np.full(2, 0.5), np.eye(2), np.zeros(2), np.eye(2), h2=2.0)
    assert value == pytest.approx(expected, abs=0.01)
    # A cloud far away saturates at E k(X, X') + E k(Y, Y') instead of growing with distance.
    far = ev.mmd_to_prior(100 + np.random.default_rng(5).standard_normal((1000, 2)))
    assert far == pytest.approx(2 * (1 + 2 / 2) ** -1, abs=0.02)
    assert math.isnan(ev.mmd_to_prior(np.zeros((1, 2))))


# ---------------------------------------------------------------- the 3-sigma ball


def test_ring_ball_is_radius_three_in_two_dimensions():
    share, prior_share, radius = ev.beyond_ring_share(np.zeros((10, 2)))
    assert radius == pytest.approx(3.0, abs=1e-9)
    assert prior_share == pytest.approx(math.exp(-4.5), rel=1e-12)
    assert share == 0.0
    assert ev.prior_radius(ev.RING_MASS, 1) == pytest.approx(2.539, abs=1e-3)


@pytest.mark.parametrize("d", [1, 2, 8, 20])
def test_prior_share_beyond_the_ball_matches_monte_carlo(d):
    n = 200_000
    share, prior_share, _ = ev.beyond_ring_share(
        np.random.default_rng(d).standard_normal((n, d)))
    assert share == pytest.approx(prior_share, abs=4 * math.sqrt(prior_share / n))


def test_beyond_ring_share_counts_far_points_and_drops_nan():
    z = np.array([[0.0, 0.0], [3.1, 0.0], [np.inf, 0.0], [np.nan, 0.0]])
    assert ev.beyond_ring_share(z)[0] == pytest.approx(2 / 3)


def test_ring_mass_matches_the_textbook_numbers_and_monte_carlo():
    for k, percent in [(1, 39.3), (2, 86.5), (3, 98.9)]:
        assert ev.ring_mass(k) == pytest.approx(1 - math.exp(-k * k / 2), abs=1e-12)
        assert 100 * ev.ring_mass(k) == pytest.approx(percent, abs=0.05)
    assert ev.ring_mass(2.0, d=1) == pytest.approx(math.erf(2 / math.sqrt(2)), abs=1e-12)
    z = np.random.default_rng(6).standard_normal((200_000, 5))
    inside = (np.linalg.norm(z, axis=1) < 2.5).mean()
    assert ev.ring_mass(2.5, d=5) == pytest.approx(inside, abs=4e-3)


# ---------------------------------------------------------------- aggregate posterior


@pytest.fixture(scope="module")
def posterior_params():
    rng = np.random.default_rng(7)
    mu = np.column_stack([rng.normal(1.0, 0.8, 3000), rng.normal(-0.5, 0.3, 3000)])
    logvar = rng.uniform(-2.0, 0.5, (3000, 2))
    return mu, logvar


def test_aggregate_variance_is_the_law_of_total_variance(posterior_params):
    mu, logvar = posterior_params
    expected = mu.var(axis=0) + np.exp(logvar).mean(axis=0)
    np.testing.assert_allclose(ev.aggregate_variance(mu, logvar), expected, rtol=1e-12)
    # ... and the variance of one sample per point from q.
    z = mu + np.exp(0.5 * logvar) * np.random.default_rng(8).standard_normal(mu.shape)
    np.testing.assert_allclose(z.var(axis=0), expected, rtol=0.08)


@pytest.mark.parametrize("dim", [0, 1])
def test_aggregate_density_integrates_to_one_with_the_aggregate_variance(posterior_params, dim):
    mu, logvar = posterior_params
    grid = np.linspace(-8, 10, 4001)
    p = ev.aggregate_marginal_density(mu, logvar, dim, grid)
    assert trapezoid(p, grid) == pytest.approx(1.0, abs=1e-6)
    mean = trapezoid(grid * p, grid)
    assert mean == pytest.approx(mu[:, dim].mean(), abs=1e-6)
    variance = trapezoid((grid - mean) ** 2 * p, grid)
    assert variance == pytest.approx(ev.aggregate_variance(mu, logvar)[dim], rel=1e-6)


def test_aggregate_density_matches_a_histogram_of_samples_from_q(posterior_params):
    mu, logvar = posterior_params
    z = mu[:, 0] + np.exp(0.5 * logvar[:, 0]) * np.random.default_rng(9).standard_normal(len(mu))
    edges = np.linspace(-2, 4, 31)
    counts, _ = np.histogram(z, edges)
    fine = np.linspace(-2, 4, 3001)
    p = ev.aggregate_marginal_density(mu, logvar, 0, fine)
    cumulative = np.concatenate([[0], np.cumsum((p[1:] + p[:-1]) / 2 * np.diff(fine))])
    expected = len(z) * np.diff(np.interp(edges, fine, cumulative))
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected) + 1)


def test_aggregate_density_subsamples_and_skips_non_finite_points():
    rng = np.random.default_rng(10)
    mu, logvar = rng.standard_normal((10_000, 1)), np.zeros((10_000, 1))
    mu[0] = np.nan
    grid = np.linspace(-3, 3, 7)
    p = ev.aggregate_marginal_density(mu, logvar, 0, grid)
    expected = np.exp(-grid**2 / 4) / np.sqrt(4 * np.pi)  # N(0, 1) * N(0, 1) = N(0, 2)
    np.testing.assert_allclose(p, expected, atol=0.01)
    assert ev.aggregate_marginal_density(mu, logvar, 0, grid.reshape(7, 1)).shape == (7, 1)


# ---------------------------------------------------------------- likelihoods


@pytest.mark.parametrize("kind", ["bce", "mse"])
def test_log_likelihood_given_z_matches_torch_distributions(kind):
    gen = torch.Generator().manual_seed(0)
    logits = 8 * torch.randn(6, 50, generator=gen, dtype=torch.float64)
    logits[0, 0] = 60.0  # past F.softplus's linear threshold
    x = torch.rand(6, 50, generator=gen, dtype=torch.float64)
    if kind == "bce":
        reference = Bernoulli(logits=logits, validate_args=False).log_prob(x).sum(-1)
    else:
        reference = Normal(torch.sigmoid(logits), math.sqrt(0.5)).log_prob(x).sum(-1)
    torch.testing.assert_close(ev.log_likelihood_given_z(logits, x, kind), reference,
                               rtol=1e-12, atol=1e-10)


def test_log_likelihood_agrees_with_the_training_loss_where_it_exists():
    losses = pytest.importorskip("vae_gui.model.losses")
    if not hasattr(losses, "reconstruction_per_image"):
        pytest.skip("model/losses.py has no reconstruction_per_image yet")
    gen = torch.Generator().manual_seed(1)
    logits = 4 * torch.randn(5, 30, generator=gen, dtype=torch.float64)
    x = torch.rand(5, 30, generator=gen, dtype=torch.float64)
    for kind in ("bce", "mse"):
        torch.testing.assert_close(-losses.reconstruction_per_image(logits, x, kind),
                                   ev.log_likelihood_given_z(logits, x, kind))


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown reconstruction loss"):
        ev.log_likelihood_given_z(torch.zeros(1, 2), torch.zeros(1, 2), "l1")


@pytest.fixture(scope="module")
def digits(mnist5k) -> np.ndarray:
    """1,000 mnist5k digits averaged down to 14 x 14 (2 x 2 blocks): grey levels in [0, 1]."""
    images = mnist5k.train_images[:1000]
    return images.reshape(-1, 14, 2, 14, 2).mean(axis=(2, 4)).astype(np.float32)


@pytest.fixture(scope="module", params=["bce", "mse"])
def trained(request, digits) -> tuple[VariationalAutoencoder, str]:
    """A VAE with a 2-D latent space trained for a few hundred steps on the 14 x 14 digits with
    the likelihood `kind`, so that its posteriors are informative (sigma ~0.2 to 0.6, much
    narrower than the prior) and the encoder's gap is visible, yet smooth enough for the
    default grid. Returns (vae, kind)."""
    kind = request.param
    _, vae = build_models(ModelConfig(image_shape=(14, 14), hidden=(48,), latent_dim=2), seed=0)
    optimiser = torch.optim.Adam(vae.parameters(), lr=5e-3)
    gen = torch.Generator().manual_seed(0)
    data = torch.as_tensor(digits).flatten(1)
    for step in range(400):
        x = data[(step * 100) % len(data):][:100]
        logits, mu, logvar = vae(x, gen)
        kl = 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum(1)
        loss = (kl - ev.log_likelihood_given_z(logits, x, kind)).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    vae.eval()
    return vae, kind


def test_quadrature_converges_with_the_grid(trained, digits):
    vae, kind = trained
    x = digits[:50]
    coarse = ev.exact_nll_2d(vae, x, kind, n_grid=256)
    fine = ev.exact_nll_2d(vae, x, kind, n_grid=384, batch=1000)
    assert coarse.shape == (50,) and coarse.dtype == np.float64
    np.testing.assert_allclose(coarse, fine, atol=1e-3, rtol=0)


def test_bounds_are_ordered_around_the_exact_likelihood(trained, digits):
    vae, kind = trained
    x = digits[:20]
    exact = ev.exact_nll_2d(vae, x, kind)
    elbo = ev.negative_elbo(vae, x, kind, n_samples=100)
    iwae_100 = ev.iwae_nll(vae, x, kind, k=100)
    iwae_5000 = ev.iwae_nll(vae, x, kind, k=5000)
    # IWAE is an upper bound only in expectation: a heavy-tailed weight can push one estimate
    # a little below -log p(x), so individual images get a tolerance and the mean a tight one.
    gap = iwae_5000 - exact
    assert np.all(gap > -0.15) and np.all(gap < 0.2)
    assert np.median(np.abs(gap)) < 0.02
    assert abs(gap.mean()) < 0.02
    assert elbo.mean() > iwae_100.mean() > exact.mean() - 0.02
    if kind == "bce":  # the encoder's gap is there to be measured (MSE's posteriors are broad)
        assert elbo.mean() - exact.mean() > 0.1


def test_negative_elbo_matches_its_definition(trained, digits):
    vae, kind = trained
    x = digits[:10]
    # -ELBO = -E_q[log p(x|z) + log p(z) - log q(z|x)]: the mean negative log weight, which
    # iwae_nll(k=1) is for one draw, so the two agree over many draws.
    elbo = ev.negative_elbo(vae, x, kind, n_samples=4000)
    iwae_1 = np.array([ev.iwae_nll(vae, x, kind, k=1, seed=s) for s in range(200)])
    standard_error = iwae_1.std(axis=0, ddof=1) / math.sqrt(len(iwae_1))
    assert np.all(np.abs(elbo - iwae_1.mean(axis=0)) < 5 * standard_error + 0.02)
    # The same images as (N, H, W), (N, H*W), numpy or torch: the same numbers.
    flat = torch.as_tensor(x).flatten(1)
    np.testing.assert_array_equal(ev.negative_elbo(vae, flat, kind, n_samples=3),
                                  ev.negative_elbo(vae, x, kind, n_samples=3))


def test_exact_posterior_is_normalised_and_agrees_with_importance_sampling(trained, digits):
    trained_vae, kind = trained
    x = digits[3]
    lo, hi = np.array([-6.0, -6.0]), np.array([6.0, 6.0])
    density = ev.exact_posterior_2d(trained_vae, x, kind, lo, hi, n_grid=200)
    assert density.shape == (200, 200)
    cell = (12 / 200) ** 2
    assert density.sum() * cell == pytest.approx(1.0, abs=1e-3)

    from vae_gui.model.latent import even_grid

    z = even_grid((-6, -6), (6, 6), 200).astype(np.float64)
    w = density.ravel() * cell
    post_mean = w @ z
    post_cov = (z - post_mean).T @ ((z - post_mean) * w[:, None])

    # Self-normalised importance sampling with q(z|x) as proposal: an independent estimate of
    # the posterior mean.
    with torch.inference_mode():
        mu, logvar = trained_vae.encode(torch.as_tensor(x).reshape(1, -1))
        mu, sigma = mu[0].double(), torch.exp(0.5 * logvar[0]).double()
        eps = torch.randn(20_000, 2, generator=torch.Generator().manual_seed(0),
                          dtype=torch.float64)
        zs = mu + sigma * eps
        logits = trained_vae.decode(zs.float()).double()
        log_w = (ev.log_likelihood_given_z(logits, torch.as_tensor(x).reshape(1, -1).double(),
                                           kind)
                 - 0.5 * (zs**2).sum(1) + 0.5 * (eps**2).sum(1))
        weights = torch.softmax(log_w, 0)
        snis_mean = (weights[:, None] * zs).sum(0).numpy()
    post_sd = np.sqrt(np.diag(post_cov))
    np.testing.assert_allclose(post_mean, snis_mean, atol=0.05 * post_sd.max() + 1e-3)
    # The encoder's Gaussian sits on the exact posterior: mean within a posterior standard
    # deviation, widths within a factor of two.
    assert np.all(np.abs(post_mean - mu.numpy()) < post_sd)
    assert np.all((sigma.numpy() / post_sd > 0.5) & (sigma.numpy() / post_sd < 2))
    # A window right of the posterior's mean holds about half its mass, and its cells are laid
    # out as even_grid's: rows top to bottom (z2 decreasing), columns left to right.
    lo2, hi2 = np.array([post_mean[0], -4.0]), np.array([4.0, 3.0])
    half = ev.exact_posterior_2d(trained_vae, x, kind, lo2, hi2, 50)
    assert 0.3 < half.sum() * (4 - post_mean[0]) * 7 / 50**2 < 0.7
    log_px = -ev.exact_nll_2d(trained_vae, x[None], kind)[0]
    for row, col in [(0, 0), (0, 49), (49, 0), (20, 7)]:
        z_cell = np.array([lo2[0] + (col + 0.5) * (hi2[0] - lo2[0]) / 50,
                           hi2[1] - (row + 0.5) * (hi2[1] - lo2[1]) / 50])
        with torch.inference_mode():
            logits = trained_vae.decode(torch.as_tensor(z_cell[None], dtype=torch.float32))
        log_joint = (float(ev.log_likelihood_given_z(
            logits.double(), torch.as_tensor(x, dtype=torch.float64).reshape(1, -1), kind)[0])
            - 0.5 * z_cell @ z_cell - math.log(2 * math.pi))
        assert half[row, col] == pytest.approx(math.exp(log_joint - log_px), rel=1e-4, abs=1e-30)


def test_quadrature_refuses_other_latent_sizes():
    _, vae = build_models(ModelConfig(image_shape=(4, 4), hidden=(8,), latent_dim=3), seed=0)
    x = np.zeros((2, 4, 4), dtype=np.float32)
    with pytest.raises(ValueError, match="2-D latent"):
        ev.exact_nll_2d(vae, x, "bce")
    with pytest.raises(ValueError, match="2-D latent"):
        ev.exact_posterior_2d(vae, x[0], "bce", np.array([-1, -1]), np.array([1, 1]), 8)
    # The sampled bounds work in any dimension.
    assert ev.iwae_nll(vae, x, "bce", k=4).shape == (2,)


def test_a_float64_model_and_an_empty_batch_go_through_the_same_code(trained, digits):
    # The model's dtype (like its device) is read from its parameters; a float64 copy must
    # give the same numbers as the float32 model up to float32 rounding.
    import copy

    vae, kind = trained
    x = digits[:5]
    wide = copy.deepcopy(vae).double()
    np.testing.assert_allclose(ev.exact_nll_2d(wide, x, kind, n_grid=64),
                               ev.exact_nll_2d(vae, x, kind, n_grid=64), atol=1e-3)
    np.testing.assert_allclose(ev.iwae_nll(wide, x, kind, k=8), ev.iwae_nll(vae, x, kind, k=8),
                               atol=1e-3)
    assert ev.exact_nll_2d(vae, x[:0], kind, n_grid=16).shape == (0,)
    assert ev.negative_elbo(vae, x[:0], kind).shape == (0,)
    with pytest.raises(ValueError, match="pixels"):
        ev.negative_elbo(vae, np.zeros((2, 7, 7)), kind)
