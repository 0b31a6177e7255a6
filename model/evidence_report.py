"""The figures of the evidence panel and of `vae-gui evaluate`, for a pair of models.

Three questions, each answered by measurement rather than asserted:
- How normal is each latent space? The encoded points' distance from N(0, I).
- Do decoded prior samples look like data, and all of it? A classifier judges them.
- How good is each VAE's bound? With a 2-D latent, the exact -log p(x) by quadrature next
  to the -ELBO, on training and test images.

The pair is any two models (AE | VAE, VAE | VAE, ...): each column is measured by what its
kind has, and named as the window names it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from vae_gui.model import evidence
from vae_gui.model.judge import Judge, Judgement, judge_prior_samples
from vae_gui.model.latent import decode_images, encode_images, sample_posterior
from vae_gui.model.pair import SLOTS, distinct_labels, one_of_kind

MMD_FLOOR_REPEATS = 20
SAMPLE_SEED = 7  # the one draw per point of q(z|x) that a VAE's figures use


@dataclass(frozen=True, eq=False)
class EncodedColumn:
    """One column's model and its encoding of the measured images (the fields of a
    snapshot's Column that measuring reads; a Column serves as one as it is)."""

    name: str  # "AE", "VAE", "VAE β=4"
    model: object
    mu: np.ndarray  # an AE's codes or a VAE's means, (N, latent_dim)
    logvar: np.ndarray | None  # a VAE's log-variances; None for an AE


def kind_of(column) -> str:
    """"vae" for a column with log-variances, "ae" for one without."""
    return "ae" if column.logvar is None else "vae"


def encode_column(model, images: np.ndarray, name: str) -> EncodedColumn:
    """`model`'s encoding of `images`, ready to measure."""
    mu, logvar = encode_images(model, images)
    return EncodedColumn(name, model, mu, logvar)


def first_points(column, n: int) -> EncodedColumn:
    """The column with its first `n` points only (a cloud's test images, say)."""
    logvar = None if column.logvar is None else column.logvar[:n]
    return EncodedColumn(column.name, column.model, column.mu[:n], logvar)


@dataclass(frozen=True)
class Normality:
    """How far one model's encoded points are from N(0, I)."""

    moment_kl: float  # KL(N(mean, cov) of the points || N(0, I)), nats
    mmd: float  # unbiased MMD² against N(0, I) draws, Gaussian kernel with h² = d
    outside_share: float  # share of points outside the ball that holds 98.9% of the prior


@dataclass(frozen=True)
class BoundFigures:
    """A VAE's -ELBO and exact -log p(x) (quadrature; 2-D latents only), nats per image."""

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
class ColumnEvidence:
    """One column's figures: an AE's codes, or one draw of q(z|x) per point of a VAE."""

    slot: str  # "left" or "right"
    name: str
    kind: str  # "ae" or "vae"
    normality: Normality
    samples: Judgement | None  # None without a classifier for this data
    bound: BoundFigures | None  # a VAE's, where the latent space is 2-D; else None


@dataclass(frozen=True)
class Evidence:
    """Every figure of the evidence panel at one moment of a run (or for loaded models)."""

    epoch: float
    n_points: int
    latent_dim: int
    ring_radius: float  # radius of the ball holding 1 - exp(-4.5) of the prior: 3 in 2-D
    prior_outside_share: float  # exp(-4.5) = 1.1%
    mmd_floor: float  # 95th percentile of the MMD² of n_points true N(0, I) draws
    columns: tuple[ColumnEvidence, ColumnEvidence]  # left first

    @property
    def names(self) -> tuple[str, str]:
        return tuple(c.name for c in self.columns)

    def of_kind(self, kind: str) -> ColumnEvidence:
        """The figures of the pair's one model of this kind (ValueError for two VAEs)."""
        return one_of_kind([c.kind for c in self.columns], self.columns, kind, "pair")

    # The default pair's figures by their names (a pair of two VAEs has no single one).
    @property
    def ae(self) -> Normality:
        return self.of_kind("ae").normality

    @property
    def vae(self) -> Normality:
        return self.of_kind("vae").normality

    @property
    def ae_samples(self) -> Judgement | None:
        return self.of_kind("ae").samples

    @property
    def vae_samples(self) -> Judgement | None:
        return self.of_kind("vae").samples

    @property
    def bound(self) -> BoundFigures | None:
        return self.of_kind("vae").bound

    def to_dict(self) -> dict:
        d = asdict(self)
        for column, out in zip(self.columns, d["columns"], strict=True):
            if column.bound is not None:
                out["bound"]["train_gap"] = column.bound.train_gap
                out["bound"]["test_gap"] = column.bound.test_gap
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


def measured_points(column) -> np.ndarray:
    """The points whose normality is measured: an AE's codes, or a VAE's `vae_points`."""
    return column.mu if column.logvar is None else vae_points(column.mu, column.logvar)


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
    columns: Sequence, image_shape: tuple[int, int], kind: str, judge: Judge | None,
    train_images: np.ndarray | None = None, test_images: np.ndarray | None = None,
    epoch: float = 0.0, n_judged: int = 1000, n_bound: int = 100, n_grid: int = 256,
    check: Callable[[], None] = lambda: None,
) -> Evidence:
    """All figures for the two columns (a snapshot's Columns, or EncodedColumns: each with
    name, model, mu and logvar, None for an AE), left first. `check` is called between the
    parts so that a caller can cancel (it raises)."""
    columns = tuple(columns)
    if len(columns) != len(SLOTS):
        raise ValueError(f"a pair is two columns, not {len(columns)}")
    n, d = columns[0].mu.shape
    _, prior_share, radius = evidence.beyond_ring_share(np.zeros((1, d)))
    normal = []
    for column in columns:
        normal.append(normality(measured_points(column)))
        check()
    judged: list[Judgement | None] = [None, None]
    if judge is not None:
        # The same seed for both: their samples decode the same latent points.
        judged = [judge_prior_samples(judge, lambda z, m=c.model: decode_images(
            m, z, image_shape), d, n=n_judged, seed=0) for c in columns]
        check()
    bounds: list[BoundFigures | None] = []
    for column in columns:
        bound = None
        if (kind_of(column) == "vae" and d == 2 and train_images is not None
                and test_images is not None):
            bound = bound_figures(column.model, train_images, test_images, kind, n_bound,
                                  n_grid=n_grid)
            check()
        bounds.append(bound)
    names = distinct_labels(c.name for c in columns)
    figures = tuple(ColumnEvidence(slot, name, kind_of(c), *parts) for slot, name, c, *parts
                    in zip(SLOTS, names, columns, normal, judged, bounds, strict=True))
    return Evidence(epoch, n, d, float(radius), float(prior_share), mmd_floor(n, d), figures)
