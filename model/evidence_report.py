"""The figures of the evidence panel and of `vae-gui evaluate`, for one AE and VAE pair.

Three questions, each answered by measurement rather than asserted:
- How normal is each latent space? The encoded points' distance from N(0, I).
- Do decoded prior samples look like data, and all of it? A classifier judges them.
- How good is the VAE's bound? With a 2-D latent, the exact -log p(x) by quadrature next
  to the -ELBO, on training and test images.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
from vae_gui.model import evidence
from vae_gui.model.judge import Judge, Judgement, judge_prior_samples
from vae_gui.model.latent import decode_images, sample_posterior

MMD_FLOOR_REPEATS = 20
SAMPLE_SEED = 7  # the one draw per point of q(z|x) that the VAE's figures use


@dataclass(frozen=True)
class Normality:
    """How far one model's encoded points are from N(0, I)."""

    moment_kl: float  # KL(N(mean, cov) of the points || N(0, I)), nats
    mmd: float  # unbiased MMD² against N(0, I) draws, Gaussian kernel with h² = d
    outside_share: float  # share of points outside the ball that holds 98.9% of the prior


@dataclass(frozen=True)
class BoundFigures:
    """The VAE's -ELBO and exact -log p(x) (quadrature; 2-D latents only), nats per image."""

    n_images: int  # per split, the first images of each
    n_samples: int  # samples of q(z|x) per image in the -ELBO
    train_nelbo: float
    train_nll: float
    test_nelbo: float
    test_nll: float

    @property
    def train_gap(self) -> float:
        return self.train_nelbo - self.train_nll

    @property
    def test_gap(self) -> float:
        return self.test_nelbo - self.test_nll


@dataclass(frozen=True)
class Evidence:
    """Every figure of the evidence panel at one moment of a run (or for loaded models)."""

    epoch: float
    n_points: int
    latent_dim: int
    ring_radius: float  # radius of the ball holding 1 - exp(-4.5) of the prior: 3 in 2-D
    prior_outside_share: float  # exp(-4.5) = 1.1%
    mmd_floor: float  # 95th percentile of the MMD² of n_points true N(0, I) draws
    ae: Normality
    vae: Normality
    ae_samples: Judgement | None  # None without a classifier for this data
    vae_samples: Judgement | None
    bound: BoundFigures | None  # None unless the latent space is 2-D

    def to_dict(self) -> dict:
        d = asdict(self)
        if self.bound is not None:
            d["bound"]["train_gap"] = self.bound.train_gap
            d["bound"]["test_gap"] = self.bound.test_gap
        return d


def mmd_floor(n: int, d: int) -> float:
    """The 95th percentile of the MMD² estimate when the points are true N(0, I) draws."""
    return evidence.mmd_noise_floor(n, d, repeats=MMD_FLOOR_REPEATS, seed=1)[1]


def normality(z: np.ndarray, seed: int = 0) -> Normality:
    z = np.asarray(z, dtype=np.float64)
    return Normality(moment_kl=float(evidence.moment_matched_kl(z)),
                     mmd=float(evidence.mmd_to_prior(z, seed=seed)),
                     outside_share=float(evidence.beyond_ring_share(z)[0]))


def vae_points(mu: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """One draw of q(z|x) per point: together a sample of the aggregate posterior, which is
    what the prior should match (the means alone have a smaller spread)."""
    return sample_posterior(mu, logvar, seed=SAMPLE_SEED)


def bound_figures(vae, train_images: np.ndarray, test_images: np.ndarray, kind: str,
                  n_images: int, n_samples: int = 10, n_grid: int = 256) -> BoundFigures:
    """-ELBO and exact -log p(x) on the first `n_images` of each split (2-D latents)."""
    n = min(n_images, len(train_images), len(test_images))
    x = np.concatenate([np.asarray(train_images[:n], dtype=np.float32).reshape(n, -1),
                        np.asarray(test_images[:n], dtype=np.float32).reshape(n, -1)])
    nelbo = evidence.negative_elbo(vae, x, kind, n_samples=n_samples, seed=0)
    # Both splits in one call: the quadrature decodes its grid once for all the images.
    nll = evidence.exact_nll_2d(vae, x, kind, n_grid=n_grid)
    return BoundFigures(n, n_samples, float(nelbo[:n].mean()), float(nll[:n].mean()),
                        float(nelbo[n:].mean()), float(nll[n:].mean()))


def measure_evidence(
    ae, vae, ae_codes: np.ndarray, vae_mu: np.ndarray, vae_logvar: np.ndarray,
    image_shape: tuple[int, int], kind: str, judge: Judge | None,
    train_images: np.ndarray | None = None, test_images: np.ndarray | None = None,
    epoch: float = 0.0, n_judged: int = 1000, n_bound: int = 100, n_grid: int = 256,
    check: Callable[[], None] = lambda: None,
) -> Evidence:
    """All figures for the models and their encoded points. `check` is called between the
    parts so that a caller can cancel (it raises)."""
    d = ae_codes.shape[1]
    _, prior_share, radius = evidence.beyond_ring_share(np.zeros((1, d)))
    ae_fig = normality(ae_codes)
    check()
    vae_fig = normality(vae_points(vae_mu, vae_logvar))
    check()
    ae_judged = vae_judged = None
    if judge is not None:
        ae_judged = judge_prior_samples(judge, lambda z: decode_images(ae, z, image_shape),
                                        d, n=n_judged, seed=0)
        vae_judged = judge_prior_samples(judge, lambda z: decode_images(vae, z, image_shape),
                                         d, n=n_judged, seed=0)
        check()
    bound = None
    if d == 2 and train_images is not None and test_images is not None:
        bound = bound_figures(vae, train_images, test_images, kind, n_bound, n_grid=n_grid)
    return Evidence(epoch, len(ae_codes), d, float(radius), float(prior_share),
                    mmd_floor(len(ae_codes), d),
                    ae_fig, vae_fig, ae_judged, vae_judged, bound)
