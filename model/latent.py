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
        return ((np.asarray(z, dtype=np.float32) - self.origin) @ self.basis).astype(np.float32)

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
    """Tiles (rows * cols, H, W) images into one (rows * (H + gap), cols * (W + gap)) image."""
    n, h, w = images.shape
    out = np.ones((rows * (h + gap) - gap, cols * (w + gap) - gap), dtype=np.float32)
    for k in range(min(n, rows * cols)):
        r, c = divmod(k, cols)
        out[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = images[k]
    return out


def interpolate(z0: np.ndarray, z1: np.ndarray, steps: int, spherical: bool = False) -> np.ndarray:
    """`steps` points from z0 to z1: linear, or spherical (slerp, which keeps the norm of
    points drawn from N(0, I) typical, where linear paths pass closer to the origin)."""
    t = np.linspace(0.0, 1.0, steps, dtype=np.float64)[:, None]
    a, b = np.asarray(z0, dtype=np.float64), np.asarray(z1, dtype=np.float64)
    if spherical:
        na, nb = np.linalg.norm(a), np.linalg.norm(b)
        if na > 1e-8 and nb > 1e-8:
            omega = np.arccos(np.clip(np.dot(a / na, b / nb), -1.0, 1.0))
            if omega > 1e-6:
                s = np.sin(omega)
                return ((np.sin((1 - t) * omega) / s) * a
                        + (np.sin(t * omega) / s) * b).astype(np.float32)
    return ((1 - t) * a + t * b).astype(np.float32)


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
    return (mu + np.exp(0.5 * logvar) * eps).astype(np.float32)


def encode_images(model, images: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Encodes (N, H, W) images: (codes, None) for an AE, (mu, logvar) for a VAE."""
    import torch

    with torch.inference_mode():
        out = model.encode(torch.as_tensor(np.asarray(images, dtype=np.float32)).flatten(1))
    if isinstance(out, tuple):
        return out[0].numpy(), out[1].numpy()
    return out.numpy(), None


def kl_per_dimension(mu: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """KL(q(z|x) || N(0, 1)) of each latent dimension, averaged over the points, in numpy
    for the views (model.losses.kl_per_dimension is the torch one that training uses)."""
    mu, logvar = np.asarray(mu, dtype=np.float64), np.asarray(logvar, dtype=np.float64)
    with np.errstate(over="ignore"):  # a diverged run's huge log-variance: inf, drawn as such
        return (0.5 * (mu ** 2 + np.exp(logvar) - 1.0 - logvar)).mean(axis=0)


def certainty_opacity(logvar: np.ndarray, faintest: float = 0.12) -> np.ndarray:
    """Opacity per point from its posterior spread: the most certain point of the cloud (the
    smallest mean sigma) is opaque, the least certain `faintest`, linearly in between."""
    sigma = np.exp(0.5 * logvar).mean(axis=1)
    if len(sigma) == 0:
        return np.ones(0)
    lo, hi = float(sigma.min()), float(sigma.max())
    if not np.isfinite(hi - lo) or hi - lo < 1e-9:
        return np.ones(len(sigma))
    return 1.0 - (1.0 - faintest) * (sigma - lo) / (hi - lo)


def axis_names(projection: Projection) -> tuple[str, str]:
    """'PCA 1', 'PCA 2' or the names of the two latent dimensions shown."""
    if projection.description.startswith("PCA"):
        return "PCA 1", "PCA 2"
    i = int(np.argmax(projection.basis[:, 0]))
    j = int(np.argmax(projection.basis[:, 1])) if projection.latent_dim > 1 else i
    return f"z{i + 1}", (f"z{j + 1}" if projection.latent_dim > 1 else "")
