"""The maths behind the evidence panel: how normal a latent cloud is, and how tight the VAE's bound.

Two families of measures:

- distances between a cloud of latent points (an AE's codes, a VAE's means or samples) and the
  prior N(0, I): a moment-matched Gaussian KL, a kernel MMD with its noise floor, the share of
  points beyond a prior-mass ball, and the aggregate posterior of a VAE;
- likelihoods of images under a VAE: -ELBO, the importance-weighted bound (IWAE) and, for a 2-D
  latent space, the exact -log p(x) and p(z|x) by quadrature over the plane.

Log-likelihoods are in nats per image (summed over pixels), matching model/losses.py: "bce" is
a Bernoulli per pixel with grey-level targets, log p(x|z) = sum x*l - softplus(l) for pixel
logits l; "mse" is a Gaussian per pixel with mean sigmoid(l) and fixed variance 1/2, log p(x|z)
= sum -(x - sigmoid(l))^2 - 0.5*log(pi). Everything that is summed or differenced is done in
float64, and the functions return numpy values.

torch is imported inside the functions that need it (as in latent.py), so that a view can import
this module without paying for torch at start-up.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from vae_gui.model.latent import even_grid

if TYPE_CHECKING:
    import torch
    from vae_gui.model.networks import VariationalAutoencoder

# The MMD estimator uses at most this many points (and as many prior draws): its kernel
# matrices are then 2,000 x 2,000 (done in cached blocks of 128 rows, ~50 ms on one busy core),
# and its noise floor (95th percentile ~6e-4 at this size in 2-D) is far below the distances
# that separate an AE's codes from a VAE's.
MMD_MAX_POINTS = 2000

# The aggregate posterior's density is a mixture of this many of the N Gaussians q(z|x_i) at
# most (a random subset): a 4,000 x 512 grid evaluation is a few milliseconds, and the density
# of the mixture of a random subset differs from the full one by ~1/sqrt(4000) relative noise.
AGGREGATE_MAX_POINTS = 4000

# The prior mass held by the ball that beyond_ring_share uses: the mass of N(0, I) inside the
# 3-sigma ring in 2-D, 1 - exp(-9/2) = 98.89%, so that in 2-D the ball is the radius-3 ring drawn
# on the plot, and in every dimension the prior itself leaves exp(-4.5) = 1.11% outside it.
RING_MASS = -math.expm1(-4.5)

# Elements (images x samples x pixels, or images x grid points) in one chunk of the likelihood
# computations: 2^22 float64 values are 32 MB, so peak memory stays near 200 MB however many
# images or samples are asked for.
_CHUNK_ELEMENTS = 1 << 22

_LOG_2PI = math.log(2.0 * math.pi)
_LOG_PI = math.log(math.pi)


# ---------------------------------------------------------------- distances to N(0, I)


def _points(z: np.ndarray) -> np.ndarray:
    """z as float64 (N, d), without the rows that hold a NaN or an infinity (a diverged
    model's points carry no information about the shape of the rest of the cloud)."""
    z = np.asarray(z, dtype=np.float64)
    if z.ndim == 1:
        z = z[:, None]
    return z[np.isfinite(z).all(axis=1)]


def moment_matched_kl(z: np.ndarray) -> float:
    """KL(N(m, S) || N(0, I)) in nats, where m and S are the mean and covariance of the points.

    z: (N, d) latent points. S is the maximum-likelihood covariance (divided by N, not N - 1).
    Closed form: 0.5 * (tr S + m.m - d - log det S), with log det from slogdet so that large d
    does not overflow. A singular S (fewer than d + 1 distinct points, or a collapsed
    direction) gives inf: no Gaussian with that covariance has a density. Rows with non-finite
    values are dropped; with fewer than 2 points left the answer is nan.

    This measures only the first two moments: a cloud with the prior's mean and covariance
    but any other shape (a ring, clusters) scores 0; mmd_to_prior sees those.
    """
    z = _points(z)
    n, d = z.shape
    if n < 2:
        return float("nan")
    m = z.mean(axis=0)
    s = np.atleast_2d(np.cov(z, rowvar=False, bias=True))
    sign, logdet = np.linalg.slogdet(s)
    # slogdet of an exactly singular matrix often comes back as a tiny positive determinant
    # after rounding, so the rank is checked too (SVD with numpy's default tolerance).
    if sign <= 0 or np.linalg.matrix_rank(s, hermitian=True) < d:
        return float("inf")
    return float(0.5 * (np.trace(s) + m @ m - d - logdet))


def _kernel_mean(a: np.ndarray, b: np.ndarray, h2: float, exclude_diagonal: bool) -> float:
    """The mean of exp(-|a_i - b_j|^2 / (2 h2)) over pairs, over i != j if exclude_diagonal
    (then a and b are the same sample), computed in the dtype of a and b, summed in float64.

    Rows are taken 128 at a time, so that each pass over a block (product, shifts, clamp,
    exp, sum) stays in the cache: three times faster than the same passes over the whole
    2,000 x 2,000 matrix.
    """
    # -|a - b|^2 / (2 h2) = a.b / h2 - |a|^2 / (2 h2) - |b|^2 / (2 h2)
    half_a = (a * a).sum(axis=1) * (0.5 / h2)
    half_b = (b * b).sum(axis=1) * (0.5 / h2)
    scaled = a * (1.0 / h2)
    block = np.empty((min(128, len(a)), len(b)), dtype=a.dtype)
    total = 0.0
    for i in range(0, len(a), len(block)):
        arg = np.matmul(scaled[i:i + len(block)], b.T, out=block[:len(scaled[i:i + len(block)])])
        arg -= half_a[i:i + len(block), None]
        arg -= half_b[None, :]
        np.minimum(arg, 0.0, out=arg)  # rounding can make |a - a|^2 slightly negative
        # Pairs more than sqrt(160 h2) apart count as e^-80 instead of less: < 1e-34 on a
        # mean, and exp stays off its slow underflow path for far-off clouds.
        np.maximum(arg, -80.0, out=arg)
        np.exp(arg, out=arg)
        total += float(arg.sum(dtype=np.float64))
        if exclude_diagonal:
            # The computed diagonal is 1 up to rounding; subtracting it as computed removes
            # i == j exactly, which is what makes the estimator unbiased.
            total -= float(np.trace(arg, offset=i, dtype=np.float64))
    n, m = len(a), len(b)
    return total / (n * (n - 1)) if exclude_diagonal else total / (n * m)


def mmd_to_prior(z: np.ndarray, seed: int = 0, n_ref: int | None = None) -> float:
    """The unbiased estimate of MMD^2 between the distribution of the points and N(0, I).

    z: (N, d) latent points; rows with non-finite values are dropped. The reference sample is
    n_ref (default: as many as the points used) fresh N(0, I) draws from
    numpy.random.default_rng(seed). Both samples are capped at MMD_MAX_POINTS = 2,000; above
    that a random subset of the points (from the same generator) is used.

    Kernel: k(x, y) = exp(-|x - y|^2 / (2 h^2)) with the fixed bandwidth h^2 = d. It does not
    depend on the data, so values are comparable between models and between epochs (a
    median-distance bandwidth would widen with a spread-out AE cloud and hide how spread out
    it is); d is the prior's mean squared distance to its centre, the natural scale.

    Returns (1/(n(n-1))) sum_{i!=j} k(x_i, x_j) + (1/(m(m-1))) sum_{i!=j} k(y_i, y_j)
    - (2/(nm)) sum_{i,j} k(x_i, y_j): dimensionless, 0 in expectation when the points are
    N(0, I) (so it can come out slightly negative), and at most about
    E k(X, X') + E k(Y, Y') < 2 when the cloud is far from the prior. Compare it with
    mmd_noise_floor(n, d), the spread of this estimator on true prior draws of the same size.
    nan with fewer than 2 points.
    """
    x = _points(z)
    n, d = x.shape
    rng = np.random.default_rng(seed)
    if n > MMD_MAX_POINTS:
        x = x[rng.choice(n, MMD_MAX_POINTS, replace=False)]
        n = MMD_MAX_POINTS
    m = n if n_ref is None else min(int(n_ref), MMD_MAX_POINTS)
    if n < 2 or m < 2:
        return float("nan")
    y = rng.standard_normal((m, d))
    # The kernel matrices are float32, which halves the time: their rounding (~1e-8 on the
    # result) is far below the estimator's noise floor (~1e-3). Both samples are first
    # moved by the points' mean (distances do not change), so that a cloud far from the
    # origin does not lose its small distances to the rounding of its large norms.
    centre = x.mean(axis=0)
    x32, y32 = (x - centre).astype(np.float32), (y - centre).astype(np.float32)
    h2 = float(d)
    return (_kernel_mean(x32, x32, h2, True) + _kernel_mean(y32, y32, h2, True)
            - 2.0 * _kernel_mean(x32, y32, h2, False))


@lru_cache(maxsize=64)
def mmd_noise_floor(n: int, d: int, repeats: int = 20, seed: int = 0) -> tuple[float, float]:
    """(median, 95th percentile) of mmd_to_prior over `repeats` clouds of n true N(0, I) draws.

    The MMD^2 that a cloud of n points would show even if it were the prior: a measured value
    below the 95th percentile is indistinguishable from N(0, I) at this sample size. (With R
    repeats the percentile is itself an estimate: a fresh null value falls below it with
    probability about (0.95 (R - 1) + 1) / (R + 1), 0.91 for R = 20, 0.94 for R = 100.) n is
    capped at MMD_MAX_POINTS like the estimator itself. Each repeat draws its points and its
    reference seed from its own child of numpy.random.SeedSequence(seed), independent of the
    reference draws. Cached, as the panel asks for the same (n, d) at every epoch.
    """
    n = min(int(n), MMD_MAX_POINTS)
    values = []
    for child in np.random.SeedSequence(seed).spawn(repeats):
        rng = np.random.default_rng(child)
        points = rng.standard_normal((n, d))
        values.append(mmd_to_prior(points, seed=int(rng.integers(2**32))))
    return float(np.median(values)), float(np.percentile(values, 95))


def _chi2_upper_quantile(tail: float, d: int) -> float:
    """The x with P(chi-square(d) > x) = tail, by bisection on gammaincc(d/2, x/2) in float64.

    scipy is not a dependency; torch's regularised upper incomplete gamma is. The function
    decreases monotonically in x, so bisection converges to the last bit (about 60 halvings).
    """
    import torch

    a = torch.tensor(d / 2.0, dtype=torch.float64)

    def upper(x: float) -> float:
        return float(torch.special.gammaincc(a, torch.tensor(x / 2.0, dtype=torch.float64)))

    lo, hi = 0.0, float(d) + 10.0 * math.sqrt(2.0 * d) + 50.0
    while upper(hi) > tail:
        lo, hi = hi, 2.0 * hi
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):  # the interval is down to adjacent floats
            break
        if upper(mid) > tail:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


@lru_cache(maxsize=256)
def prior_radius(mass: float, d: int) -> float:
    """The radius of the ball around 0 that holds `mass` of N(0, I) in d dimensions:
    sqrt of the chi-square(d) quantile at `mass` (in 2-D, sqrt(-2 log(1 - mass)))."""
    return math.sqrt(_chi2_upper_quantile(1.0 - mass, d))


def ring_mass(k: float, d: int = 2) -> float:
    """The mass of N(0, I) in d dimensions inside radius k: P(chi-square(d) <= k^2).

    In 2-D this is 1 - exp(-k^2 / 2): 39.3%, 86.5% and 98.9% for k = 1, 2, 3 (in 1-D it is
    the familiar 68.3%, 95.4%, 99.7%). Computed as the regularised lower incomplete gamma
    P(d/2, k^2/2) in float64.
    """
    import torch

    return float(torch.special.gammainc(torch.tensor(d / 2.0, dtype=torch.float64),
                                        torch.tensor(k * k / 2.0, dtype=torch.float64)))


def beyond_ring_share(z: np.ndarray) -> tuple[float, float, float]:
    """(share of the points outside the ball, the prior's share outside it, the ball's radius).

    The ball is centred at 0 and holds RING_MASS = 1 - exp(-4.5) of N(0, I), the mass inside
    the 3-sigma ring in 2-D: in 2-D its radius is exactly 3, in d dimensions it is
    prior_radius(RING_MASS, d) (1-D: 2.54, 8-D: 4.45, 20-D: 6.10). The prior's own share
    outside is therefore exp(-4.5) = 1.11% in every dimension, which makes the points' share
    comparable across latent sizes. Shares are fractions in [0, 1]. Rows with a NaN are
    dropped; a point at infinity is outside. nan share when no point is left.
    """
    z = np.asarray(z, dtype=np.float64)
    if z.ndim == 1:
        z = z[:, None]
    d = z.shape[1]
    radius = prior_radius(RING_MASS, d)
    z = z[~np.isnan(z).any(axis=1)]
    share = float((np.linalg.norm(z, axis=1) > radius).mean()) if len(z) else float("nan")
    return share, math.exp(-4.5), radius


# ---------------------------------------------------------------- the aggregate posterior


def aggregate_variance(mu: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """Per latent dimension, the variance of the aggregate posterior q(z) = (1/N) sum_i q(z|x_i).

    mu, logvar: (N, d) encoder outputs. By the law of total variance it is Var_i(mu_i) +
    mean_i(exp(logvar_i)), both over the N points (Var with 1/N, the mixture's exact variance),
    in squared latent units, float64 (d,). The prior's is 1 in every dimension; a
    dimension at 1 with Var(mu) ~ 0 is a collapsed (unused) one.
    """
    mu, logvar = np.asarray(mu, dtype=np.float64), np.asarray(logvar, dtype=np.float64)
    with np.errstate(over="ignore"):  # a diverged run's huge log-variance: inf, shown as such
        return mu.var(axis=0) + np.exp(logvar).mean(axis=0)


def aggregate_marginal_density(
    mu: np.ndarray, logvar: np.ndarray, dim: int, grid: np.ndarray, seed: int = 0
) -> np.ndarray:
    """The density of the aggregate posterior along one latent dimension, on `grid`.

    (1/N) sum_i N(grid; mu_i[dim], exp(logvar_i[dim])), per latent unit, float64 with the
    shape of grid: the marginal of q(z) = (1/N) sum_i q(z|x_i), to be drawn against the
    prior's N(0, 1). Above AGGREGATE_MAX_POINTS = 4,000 points the mixture is over a random
    subset of them (numpy.random.default_rng(seed)). Points with non-finite values in `dim`
    are left out.
    """
    m = np.asarray(mu, dtype=np.float64)[:, dim]
    lv = np.asarray(logvar, dtype=np.float64)[:, dim]
    keep = np.isfinite(m) & np.isfinite(lv)
    m, lv = m[keep], lv[keep]
    if len(m) > AGGREGATE_MAX_POINTS:
        pick = np.random.default_rng(seed).choice(len(m), AGGREGATE_MAX_POINTS, replace=False)
        m, lv = m[pick], lv[pick]
    g = np.asarray(grid, dtype=np.float64)
    flat = g.ravel()
    out = np.zeros_like(flat)
    if len(m) == 0:
        return np.full_like(g, np.nan)
    inv_sd = np.exp(-0.5 * lv)[:, None]
    norm = inv_sd / math.sqrt(2.0 * math.pi)
    step = max(1, _CHUNK_ELEMENTS // 4 // len(m))  # grid chunk: an (n, step) block at a time
    for g0 in range(0, len(flat), step):
        t = (flat[None, g0:g0 + step] - m[:, None]) * inv_sd
        out[g0:g0 + step] = (norm * np.exp(-0.5 * t * t)).mean(axis=0)
    return out.reshape(g.shape)


# ---------------------------------------------------------------- likelihoods of images


def _check_kind(kind: str) -> None:
    if kind not in ("bce", "mse"):
        raise ValueError(f"unknown reconstruction loss {kind!r}; use 'bce' or 'mse'")


def log_likelihood_given_z(logits: torch.Tensor, x: torch.Tensor, kind: str) -> torch.Tensor:
    """log p(x|z) in nats, summed over the last axis (pixels); logits and x broadcast.

    "bce": Bernoulli pixels with logits l and grey-level targets x in [0, 1],
    sum x*l - softplus(l) (F.softplus with its linear tail moved from l > 20 to l > 50,
    where it is exact to exp(-50)).
    "mse": Gaussian pixels with mean sigmoid(l) and fixed variance 1/2,
    sum -(x - sigmoid(l))^2 - 0.5*log(pi), so that -log p(x|z) is the summed squared error
    plus a constant. Computed in the inputs' dtype; callers pass float64.
    """
    import torch
    import torch.nn.functional as F

    _check_kind(kind)
    if kind == "bce":
        return (x * logits - F.softplus(logits, threshold=50.0)).sum(dim=-1)
    return -((x - torch.sigmoid(logits)) ** 2).sum(dim=-1) - 0.5 * _LOG_PI * logits.shape[-1]


def _where(vae: VariationalAutoencoder) -> tuple[torch.device, torch.dtype]:
    p = next(vae.parameters())
    return p.device, p.dtype


def _images(vae: VariationalAutoencoder, x: np.ndarray | torch.Tensor,
            one: bool = False) -> torch.Tensor:
    """Images (N, H, W) or (N, H*W), numpy or torch, as a float64 CPU tensor (N, n_pixels);
    with `one`, any shape holding one image's pixels, as (1, n_pixels)."""
    import torch

    # np.array copies: dataset and snapshot arrays are read-only, which torch warns about.
    x = x if isinstance(x, torch.Tensor) else torch.from_numpy(np.array(x))
    x = x.detach().to("cpu", torch.float64)
    if not one and x.ndim < 2:
        raise ValueError(f"expected a batch of images (N, H, W) or (N, H*W), not {tuple(x.shape)}")
    x = x.reshape(1, -1) if one else x.flatten(1)
    if x.shape[1] != vae.config.n_pixels:
        raise ValueError(f"images have {x.shape[1]} pixels; the model expects "
                         f"{vae.config.n_pixels}")
    return x


def _decode64(vae: VariationalAutoencoder, z: torch.Tensor) -> torch.Tensor:
    """Pixel logits of latent points z (float64, CPU), decoded in the model's own dtype and
    device and returned as float64 on the CPU."""
    import torch

    device, dtype = _where(vae)
    return vae.decode(z.to(device, dtype)).to("cpu", torch.float64)


def _sampled_log_terms(
    vae: VariationalAutoencoder, x: np.ndarray | torch.Tensor, kind: str, n_samples: int,
    seed: int,
) -> Iterator[tuple[int, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Yields (first image, mu, logvar, log p(x|z), log p(z) - log q(z|x)) per chunk, with
    z_s = mu + sigma * eps_s, eps from torch.Generator().manual_seed(seed) drawn in float64:
    the last two are (images, samples) float64. Chunks hold <= _CHUNK_ELEMENTS image-sample-
    pixel triples, so any number of images and samples fits in memory."""
    import torch

    _check_kind(kind)
    if n_samples < 1:
        raise ValueError(f"the number of samples must be at least 1, not {n_samples}")
    images = _images(vae, x)
    n, p = images.shape
    d = vae.config.latent_dim
    device, dtype = _where(vae)
    gen = torch.Generator().manual_seed(seed)
    per_image = min(n_samples, max(1, _CHUNK_ELEMENTS // p))
    step = max(1, _CHUNK_ELEMENTS // (per_image * p))
    with torch.inference_mode():
        for i0 in range(0, n, step):
            xb = images[i0:i0 + step]
            mu, logvar = vae.encode(xb.to(device, dtype))
            mu, logvar = mu.to("cpu", torch.float64), logvar.to("cpu", torch.float64)
            sigma = torch.exp(0.5 * logvar)
            log_q_const = -0.5 * logvar.sum(dim=1, keepdim=True) - 0.5 * d * _LOG_2PI
            for s0 in range(0, n_samples, per_image):
                s = min(per_image, n_samples - s0)
                eps = torch.randn((len(xb), s, d), generator=gen, dtype=torch.float64)
                z = mu[:, None, :] + sigma[:, None, :] * eps
                logits = _decode64(vae, z.reshape(-1, d)).reshape(len(xb), s, p)
                log_px_z = log_likelihood_given_z(logits, xb[:, None, :], kind)
                log_pz = -0.5 * (z * z).sum(dim=-1) - 0.5 * d * _LOG_2PI
                log_q = -0.5 * (eps * eps).sum(dim=-1) + log_q_const
                yield i0, mu, logvar, log_px_z, log_pz - log_q


def negative_elbo(vae: VariationalAutoencoder, x: np.ndarray | torch.Tensor, kind: str,
                  n_samples: int = 10, seed: int = 0) -> np.ndarray:
    """-ELBO per image in nats, float64 (N,): -E_q[log p(x|z)] + KL(q(z|x) || N(0, I)).

    The expectation is the mean over n_samples reparameterised draws z = mu + sigma * eps
    (eps from torch.Generator().manual_seed(seed)); the KL is in closed form,
    0.5 * sum(mu^2 + sigma^2 - 1 - log sigma^2). x: images (N, H, W) or (N, H*W) in [0, 1].
    An upper bound on -log p(x) (in expectation over the draws).
    """
    import torch

    images_n = len(_images(vae, x))
    recon = torch.zeros(images_n, dtype=torch.float64)
    kl = torch.zeros(images_n, dtype=torch.float64)
    for i0, mu, logvar, log_px_z, _ in _sampled_log_terms(vae, x, kind, n_samples, seed):
        rows = slice(i0, i0 + len(mu))
        recon[rows] += log_px_z.sum(dim=1)
        kl[rows] = 0.5 * (mu * mu + logvar.exp() - 1.0 - logvar).sum(dim=1)
    return (kl - recon / n_samples).numpy()


def iwae_nll(vae: VariationalAutoencoder, x: np.ndarray | torch.Tensor, kind: str,
             k: int = 100, seed: int = 0) -> np.ndarray:
    """The importance-weighted bound per image in nats, float64 (N,) (Burda et al., 2016):
    -log (1/k sum_j p(x|z_j) p(z_j) / q(z_j|x)), z_j ~ q(z|x) i.i.d.

    An upper bound on -log p(x) in expectation, which tightens as k grows (k = 1 is a
    one-sample -ELBO) and reaches -log p(x) as k -> infinity; draws from
    torch.Generator().manual_seed(seed). Log weights are combined by a running logsumexp in
    float64, so k can be large without underflow or memory growth.
    """
    import torch

    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}")
    acc = torch.full((len(_images(vae, x)),), -math.inf, dtype=torch.float64)
    for i0, mu, _, log_px_z, log_ratio in _sampled_log_terms(vae, x, kind, k, seed):
        rows = slice(i0, i0 + len(mu))
        acc[rows] = torch.logaddexp(acc[rows], torch.logsumexp(log_px_z + log_ratio, dim=1))
    return (math.log(k) - acc).numpy()


def _check_2d(vae: VariationalAutoencoder) -> None:
    if vae.config.latent_dim != 2:
        raise ValueError("exact likelihoods by quadrature need a 2-D latent space, not "
                         f"{vae.config.latent_dim}-D; use iwae_nll instead")


def _log_marginal_on_grid(vae: VariationalAutoencoder, images: torch.Tensor, kind: str,
                          grid: np.ndarray, log_cell: float, batch: int) -> torch.Tensor:
    """log sum_g p(x|z_g) p(z_g) * cell area for each image (N,), float64 on the CPU.

    Each grid chunk of `batch` points is decoded once; log p(x|z_g) of every image against it
    is one matrix product (images x pixels @ pixels x grid points): for BCE, x.l - sum
    softplus(l); for MSE, 2 x.m - |m|^2 - |x|^2 - P/2 log(pi). Images are taken in chunks of
    _CHUNK_ELEMENTS // batch, so the (images, grid) block stays near 32 MB, and the chunks'
    logsumexps are folded into one running logsumexp per image.

    The product runs in the decoder's float32 (half the time of float64) and everything after
    it in float64: on the shipped MNIST model that moves -log p(x) by < 1e-5 nats, against
    the quadrature's own error of ~1e-2 nats at 256^2 points.
    """
    import torch
    import torch.nn.functional as F

    device, dtype = _where(vae)
    n, p = images.shape
    x = images.to(device, dtype)
    step = max(1, _CHUNK_ELEMENTS // batch)
    acc = torch.full((n,), -math.inf, dtype=torch.float64, device=device)
    z_all = torch.as_tensor(grid, dtype=torch.float64, device=device)
    with torch.inference_mode():
        for g0 in range(0, len(z_all), batch):
            z = z_all[g0:g0 + batch]
            logits = vae.decode(z.to(dtype))
            if kind == "bce":
                weights = logits
                # F.softplus is four times faster than the composite stable form; with its
                # threshold at 50 its linear tail is exact to exp(-50) per pixel.
                const = -F.softplus(logits, threshold=50.0).sum(dim=1, dtype=torch.float64)
            else:
                mean = torch.sigmoid(logits)
                weights = 2.0 * mean
                const = -(mean * mean).sum(dim=1, dtype=torch.float64) - 0.5 * p * _LOG_PI
            const += -0.5 * (z * z).sum(dim=1) - _LOG_2PI + log_cell
            for i0 in range(0, n, step):
                block = (x[i0:i0 + step] @ weights.T).to(torch.float64)
                block += const
                top = block.amax(dim=1, keepdim=True)
                # logsumexp by hand, with the terms more than e^100 below the largest raised to
                # e^-100: that changes the sum by < 1e-39 relative, and keeps exp off its slow
                # underflow path (most of the plane is thousands of nats below the peak),
                # which made torch.logsumexp four times slower.
                block -= top
                chunk = block.clamp_min_(-100.0).exp_().sum(dim=1).log_() + top[:, 0]
                acc[i0:i0 + step] = torch.logaddexp(acc[i0:i0 + step], chunk)
    acc = acc.cpu()
    if kind == "mse":
        acc -= (images * images).sum(dim=1)  # the -|x|^2 that is the same at every z
    return acc


def exact_nll_2d(vae: VariationalAutoencoder, x: np.ndarray | torch.Tensor, kind: str,
                 extent: float = 6.0, n_grid: int = 256, batch: int = 4096) -> np.ndarray:
    """-log p(x) per image in nats, float64 (N,), by quadrature over a 2-D latent plane.

    p(x) = integral p(x|z) N(z; 0, I) dz, by the midpoint rule on the n_grid x n_grid cell
    centres of [-extent, extent]^2: logsumexp_g(log p(x|z_g) + log N(z_g; 0, I)) + log(cell
    area). The square holds all but ~exp(-18) of the prior's mass. The grid must be finer
    than the posteriors: the default spacing, 12/256 = 0.047, is exact to ~1e-4 nats for the
    broad posteriors of small or briefly trained models, but the shipped MNIST model's are
    ~0.05 wide and there 256^2 is off by up to 0.04 nats an image (384^2: 0.01; 768^2:
    1e-3), measured against 2048^2; its ReLU decoder's kinks make the error fall only as
    about h^2. The grid is decoded once, `batch` points at a time; peak memory stays near
    200 MB for any number of images (which are held at 12 bytes a pixel). ValueError unless
    the model's latent space is 2-D.
    """
    _check_2d(vae)
    _check_kind(kind)
    images = _images(vae, x)
    h = 2.0 * extent / n_grid
    axis = -extent + (np.arange(n_grid) + 0.5) * h
    gx, gy = np.meshgrid(axis, axis)
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    return (-_log_marginal_on_grid(vae, images, kind, grid, 2.0 * math.log(h), batch)).numpy()


def exact_posterior_2d(vae: VariationalAutoencoder, x_one_image: np.ndarray | torch.Tensor,
                       kind: str, lo: np.ndarray, hi: np.ndarray, n_grid: int,
                       extent: float = 6.0, n_grid_normaliser: int = 256) -> np.ndarray:
    """The exact posterior density p(z|x) of one image on an even grid over [lo, hi].

    Returns (n_grid, n_grid) float64, per unit latent area, at the cell centres of
    model.latent.even_grid(lo, hi, n_grid): rows top to bottom (z2 decreasing), columns left
    to right (z1 increasing), ready to draw as a heat map under the encoder's Gaussian. It is
    p(x|z) N(z; 0, I) / p(x), with p(x) from exact_nll_2d(extent, n_grid_normaliser), so
    sum * cell area is the posterior mass inside the rectangle (~1 when it holds the
    posterior), not forced to 1; the normaliser is as accurate as exact_nll_2d at that grid
    (a 0.04-nat error there scales the whole map by 4%). ValueError unless the latent space
    is 2-D.
    """
    import torch

    _check_2d(vae)
    _check_kind(kind)
    image = _images(vae, x_one_image, one=True)
    log_px = -exact_nll_2d(vae, image, kind, extent=extent, n_grid=n_grid_normaliser)[0]
    lo2, hi2 = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    z_all = torch.as_tensor(even_grid((lo2[0], lo2[1]), (hi2[0], hi2[1]), n_grid),
                            dtype=torch.float64)
    out = torch.empty(len(z_all), dtype=torch.float64)
    step = max(1, _CHUNK_ELEMENTS // image.shape[1])
    with torch.inference_mode():
        for g0 in range(0, len(z_all), step):
            z = z_all[g0:g0 + step]
            log_joint = (log_likelihood_given_z(_decode64(vae, z), image, kind)
                         - 0.5 * (z * z).sum(dim=1) - _LOG_2PI)
            out[g0:g0 + step] = torch.exp(log_joint - log_px)
    return out.reshape(n_grid, n_grid).numpy()
