"""Latent-space maths for the views: 2-D projections, decoding points, the prior's density."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported only when decoding, so that plots can start without it
    from vae_gui.model.networks import Autoencoder, VariationalAutoencoder


@dataclass(frozen=True, eq=False)
class Projection:
    """Maps latent points to a plotting plane and back: xy = (z - origin) @ basis.

    Going back, z = origin + xy @ basis.T, so the coordinates not shown are those of `origin`.
    """

    origin: np.ndarray  # (d,)
    basis: np.ndarray  # (d, 2), orthonormal columns (the second is zero when d == 1)
    description: str

    @property
    def latent_dim(self) -> int:
        return len(self.origin)

    @classmethod
    def axes(cls, latent_dim: int, i: int = 0, j: int = 1) -> Projection:
        """Two chosen latent dimensions; the others are held at 0, the prior's mean."""
        basis = np.zeros((latent_dim, 2), dtype=np.float32)
        basis[i, 0] = 1.0
        if latent_dim > 1:
            basis[j, 1] = 1.0
        rest = "" if latent_dim <= 2 else "; the rest held at 0"
        label = f"z{i + 1}" if latent_dim == 1 else f"z{i + 1} and z{j + 1}"
        return cls(np.zeros(latent_dim, dtype=np.float32), basis, f"{label}{rest}")

    def to_plane(self, z: np.ndarray) -> np.ndarray:
        # A diverged run's inf times a zero of the basis is NaN: such points are not drawn.
        with np.errstate(invalid="ignore", over="ignore"):
            return ((np.asarray(z, dtype=np.float32) - self.origin) @ self.basis).astype(
                np.float32)

    def from_plane(self, xy: np.ndarray) -> np.ndarray:
        return (self.origin + np.asarray(xy, dtype=np.float32) @ self.basis.T).astype(np.float32)

    def prior_center(self) -> np.ndarray:
        """Where N(0, I) is centred in the plane; with orthonormal axes its spread stays I."""
        return self.to_plane(np.zeros(self.latent_dim, dtype=np.float32))


def decode_images(
    model: Autoencoder | VariationalAutoencoder, z: np.ndarray, image_shape: tuple[int, int]
) -> np.ndarray:
    """Decodes latent points (N, d) to images (N, H, W) in [0, 1]."""
    import torch

    with torch.inference_mode():
        # from_numpy of a copy: snapshot arrays are read-only, which torch warns about.
        z = np.array(np.atleast_2d(z), dtype=np.float32)
        logits = model.decode(torch.from_numpy(z))
        return torch.sigmoid(logits).reshape(-1, *image_shape).numpy()


def standard_normal_pdf(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * x * x) / np.sqrt(2.0 * np.pi)


def prior_density_image(extent: float, size: int = 128) -> np.ndarray:
    """The 2-D N(0, I) density on a size x size grid over [-extent, extent]^2, peak 1."""
    axis = np.linspace(-extent, extent, size, dtype=np.float32)
    r2 = axis[None, :] ** 2 + axis[:, None] ** 2
    return np.exp(-0.5 * r2)


def pca_projection(codes: np.ndarray) -> Projection:
    """The plane through the cloud's mean along its two directions of largest variance."""
    codes = np.asarray(codes, dtype=np.float64)
    codes = codes[np.isfinite(codes).all(axis=1)]
    d = codes.shape[1]
    if d < 2 or len(codes) < 3:
        return Projection.axes(d)
    mean = codes.mean(axis=0)
    _, _, vt = np.linalg.svd(codes - mean, full_matrices=False)
    basis = vt[:2].T
    # Deterministic signs, so the picture does not flip between snapshots.
    basis *= np.where(basis[np.abs(basis).argmax(axis=0), [0, 1]] < 0, -1.0, 1.0)
    rest = "" if d == 2 else "; the rest held at the cloud's mean"
    return Projection(mean.astype(np.float32), basis.astype(np.float32), f"PCA 1 and PCA 2{rest}")


def even_grid(lo: tuple[float, float], hi: tuple[float, float], n: int) -> np.ndarray:
    """n x n plane points at the centres of an even grid over [lo, hi], rows top to bottom."""
    xs = lo[0] + (np.arange(n) + 0.5) * (hi[0] - lo[0]) / n
    ys = hi[1] - (np.arange(n) + 0.5) * (hi[1] - lo[1]) / n
    gx, gy = np.meshgrid(xs, ys)
    return np.column_stack([gx.ravel(), gy.ravel()]).astype(np.float32)


def prior_quantile_grid(n: int) -> np.ndarray:
    """n x n points at the inverse Gaussian CDF of an even grid in (0, 1), as in Kingma and
    Welling (2014), figure 4: the grid covers the prior's mass, not a square of z."""
    from statistics import NormalDist

    q = [NormalDist().inv_cdf((i + 0.5) / n) for i in range(n)]
    gx, gy = np.meshgrid(q, q[::-1])
    return np.column_stack([gx.ravel(), gy.ravel()]).astype(np.float32)


def mosaic(images: np.ndarray, rows: int, cols: int, gap: int = 0) -> np.ndarray:
    """Tiles (rows * cols, H, W) images into one (rows * (H + gap), cols * (W + gap)) image;
    colour images (rows * cols, H, W, 3) into a colour one. Gaps are white."""
    n, h, w = images.shape[:3]
    out = np.ones((rows * (h + gap) - gap, cols * (w + gap) - gap, *images.shape[3:]),
                  dtype=np.float32)
    for k in range(min(n, rows * cols)):
        r, c = divmod(k, cols)
        out[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = images[k]
    return out


ANTIPODAL_TOLERANCE = 1e-6  # radians from pi within which two directions count as opposite


def interpolate(z0: np.ndarray, z1: np.ndarray, steps: int, spherical: bool = False) -> np.ndarray:
    """`steps` points from z0 to z1, both ends exact.

    Linear: a straight line. Spherical: the direction turns along the great circle between
    the ends' directions while the length goes in a straight line from |z0| to |z1|, so no
    point is longer than the longer end or shorter than the shorter one (plain slerp of
    vectors of unequal length overshoots, without bound near opposite directions). Where
    no great circle is defined (an end at the origin, or opposite ends in one dimension) it
    is the linear path."""
    t = np.linspace(0.0, 1.0, steps, dtype=np.float64)[:, None]
    a, b = np.asarray(z0, dtype=np.float64), np.asarray(z1, dtype=np.float64)
    directions = _great_circle(a, b, t[:, 0]) if spherical else None
    if directions is None:
        path = (1 - t) * a + t * b
    else:
        path = ((1 - t) * np.linalg.norm(a) + t * np.linalg.norm(b)) * directions
    if steps > 1:  # exact ends, whatever the rounding in between
        path[0], path[-1] = a, b
    return path.astype(np.float32)


def _great_circle(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray | None:
    """Unit vectors (len(t), d) from a's direction to b's along a great circle, or None
    where there is none to follow."""
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na < 1e-8 or nb < 1e-8:
        return None
    ua, ub = a / na, b / nb
    omega = float(np.arccos(np.clip(np.dot(ua, ub), -1.0, 1.0)))
    t = t[:, None]
    if omega < 1e-6:  # one direction: nothing to turn through
        return np.broadcast_to(ua, (len(t), len(ua))).copy()
    if np.pi - omega < ANTIPODAL_TOLERANCE:
        if len(a) == 1:
            return None
        # Every great circle through a joins opposite points: take a fixed one, so that the
        # path does not jump between circles as an end moves by a rounding error.
        p = _perpendicular(ua)
        return np.cos(t * np.pi) * ua + np.sin(t * np.pi) * p
    u = (np.sin((1 - t) * omega) * ua + np.sin(t * omega) * ub) / np.sin(omega)
    return u / np.linalg.norm(u, axis=1, keepdims=True)


def _perpendicular(u: np.ndarray) -> np.ndarray:
    """A unit vector perpendicular to the unit vector u: the standard basis vector least
    aligned with u, with its component along u removed (Gram-Schmidt)."""
    e = np.zeros_like(u)
    e[int(np.argmin(np.abs(u)))] = 1.0
    p = e - np.dot(e, u) * u
    return p / np.linalg.norm(p)


def ellipse(center: np.ndarray, radii: np.ndarray, n: int = 64) -> np.ndarray:
    """(n, 2) points of an axis-aligned ellipse, e.g. mean +/- 2 standard deviations."""
    t = np.linspace(0, 2 * np.pi, n)
    return np.column_stack([center[0] + radii[0] * np.cos(t), center[1] + radii[1] * np.sin(t)])


def sample_prior(n: int, latent_dim: int, seed: int | None = None) -> np.ndarray:
    """n draws of z ~ N(0, I)."""
    return np.random.default_rng(seed).standard_normal((n, latent_dim)).astype(np.float32)


def sample_posterior(mu: np.ndarray, logvar: np.ndarray, seed: int = 0) -> np.ndarray:
    """One z ~ q(z|x) = N(mu, exp(logvar)) per point, with fixed noise so the cloud is steady."""
    eps = np.random.default_rng(seed).standard_normal(mu.shape).astype(np.float32)
    # A diverged run's huge spread gives inf, and an inf mean with it NaN: views skip both.
    with np.errstate(over="ignore", invalid="ignore"):
        return (mu + np.exp(0.5 * logvar) * eps).astype(np.float32)


def encode_images(model, images: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Encodes (N, H, W) images: (codes, None) for an AE, (mu, logvar) for a VAE."""
    import torch

    with torch.inference_mode():
        # A copy: snapshot and dataset arrays are read-only, which torch warns about.
        out = model.encode(torch.from_numpy(np.array(images, dtype=np.float32)).flatten(1))
    if isinstance(out, tuple):
        return out[0].numpy(), out[1].numpy()
    return out.numpy(), None


def kl_per_dimension(mu: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """KL(q(z|x) || N(0, 1)) of each latent dimension, averaged over the points, in numpy
    for the views (model.losses.kl_per_dimension is the torch one that training uses)."""
    mu, logvar = np.asarray(mu, dtype=np.float64), np.asarray(logvar, dtype=np.float64)
    # In float64 a float32 log-variance up to about 700 still gives a finite KL; beyond, and
    # for +inf (where exp(lv) - lv would be inf - inf), the KL is +inf, drawn as such.
    with np.errstate(over="ignore", invalid="ignore"):
        spread = np.where(np.isposinf(logvar), np.inf, np.exp(logvar) - 1.0 - logvar)
        return (0.5 * (mu ** 2 + spread)).mean(axis=0)


def certainty_opacity(logvar: np.ndarray, faintest: float = 0.12) -> np.ndarray:
    """Opacity per point from its posterior spread: the most certain point of the cloud (the
    smallest mean sigma) is opaque, the least certain `faintest`, linearly in between.
    A point whose sigma is not finite (a diverged run) is the least certain: `faintest`."""
    with np.errstate(over="ignore", invalid="ignore"):
        sigma = np.exp(0.5 * np.asarray(logvar, dtype=np.float64)).mean(axis=1)
    finite = np.isfinite(sigma)
    opacity = np.full(len(sigma), faintest)
    if not finite.any():
        return opacity
    lo, hi = float(sigma[finite].min()), float(sigma[finite].max())
    if hi - lo < 1e-9 or not np.isfinite(hi - lo):
        opacity[finite] = 1.0
    else:
        opacity[finite] = 1.0 - (1.0 - faintest) * (sigma[finite] - lo) / (hi - lo)
    return opacity


def axis_names(projection: Projection) -> tuple[str, str]:
    """'PCA 1', 'PCA 2' or the names of the two latent dimensions shown."""
    if projection.description.startswith("PCA"):
        return "PCA 1", "PCA 2"
    i = int(np.argmax(projection.basis[:, 0]))
    j = int(np.argmax(projection.basis[:, 1])) if projection.latent_dim > 1 else i
    return f"z{i + 1}", (f"z{j + 1}" if projection.latent_dim > 1 else "")
