"""The exact posterior p(z|x) of one image next to the encoder's q(z|x), for a 2-D latent:
where q is right and where it is wrong, in a picture and in two numbers."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from vae_gui.model import evidence
from vae_gui.model.latent import even_grid

COARSE_EXTENT = 5.0  # the prior holds all but e^-12.5 of its mass inside this radius
N_ELBO_SAMPLES = 50
ELLIPSE_MASS_IF_EXACT = -math.expm1(-2.0)  # a 2-D Gaussian's mass within 2 sigma: 86.5%


@dataclass(frozen=True)
class PosteriorPicture:
    """p(z|x) on an even grid over [lo, hi] (rows top to bottom), and what it tells."""

    lo: tuple[float, float]
    hi: tuple[float, float]
    density: np.ndarray  # (n, n), per unit area
    mu: np.ndarray  # q(z|x)'s mean and standard deviations
    sigma: np.ndarray
    nll: float  # exact -log p(x), nats
    nelbo: float  # -ELBO of this image, nats (N_ELBO_SAMPLES samples)
    mass_in_ellipse: float  # the exact posterior's mass inside q's mu +/- 2 sigma ellipse
    mass_shown: float  # the exact posterior's mass inside [lo, hi]

    @property
    def gap(self) -> float:
        """-ELBO - (-log p(x)) = KL(q(z|x) || p(z|x)) for this image, nats."""
        return self.nelbo - self.nll


def _logsumexp(a: np.ndarray) -> float:
    if len(a) == 0:
        return -math.inf
    m = float(a.max())
    return m + math.log(float(np.exp(a - m).sum()))


def _log_joint(vae, image, kind: str, z: np.ndarray) -> np.ndarray:
    """log p(x|z) + log N(z; 0, I) at each point z (G, 2), float64."""
    import torch

    zt = torch.as_tensor(z, dtype=torch.float64)
    p = next(vae.parameters())
    with torch.inference_mode():
        logits = vae.decode(zt.to(p.device, p.dtype)).to("cpu", torch.float64)
        x = torch.as_tensor(np.asarray(image, dtype=np.float64).reshape(1, -1))
        out = (evidence.log_likelihood_given_z(logits, x, kind)
               - 0.5 * (zt * zt).sum(dim=1) - math.log(2 * math.pi))
    return out.numpy()


def posterior_picture(vae, image: np.ndarray, kind: str, n_grid: int = 80) -> PosteriorPicture:
    """Finds where the posterior's mass lies (a coarse look over the prior's range, together
    with q's own 3-sigma box) and draws it there. ValueError unless the latent is 2-D."""
    import torch

    x = np.array(image, dtype=np.float32).reshape(1, -1)  # a writable copy for torch
    with torch.inference_mode():
        mu_t, logvar_t = vae.encode(torch.from_numpy(x).to(next(vae.parameters()).device))
    mu = mu_t[0].double().cpu().numpy()
    sigma = np.exp(0.5 * logvar_t[0].double().cpu().numpy())
    if len(mu) != 2:
        raise ValueError("the exact posterior is drawn for 2-D latent spaces only")
    coarse_n = 64
    coarse = even_grid((-COARSE_EXTENT, -COARSE_EXTENT), (COARSE_EXTENT, COARSE_EXTENT),
                       coarse_n).astype(np.float64)
    lj = _log_joint(vae, x, kind, coarse)
    keep = coarse[lj > lj.max() - 12.0]  # e^-12: nothing visible is left out
    cell = 2 * COARSE_EXTENT / coarse_n
    lo = np.minimum(keep.min(axis=0) - cell, mu - 3 * sigma)
    hi = np.maximum(keep.max(axis=0) + cell, mu + 3 * sigma)
    center, half = (lo + hi) / 2, max(float((hi - lo).max()) / 2, 0.05)
    lo, hi = center - half, center + half  # square, so the ellipse keeps its shape
    grid = even_grid((lo[0], lo[1]), (hi[0], hi[1]), n_grid).astype(np.float64)
    fine = _log_joint(vae, x, kind, grid)
    area = (2 * half / n_grid) ** 2
    # p(x) by a composite midpoint rule: the fine grid inside the box, the coarse cells
    # whose centres lie outside it elsewhere (their mass is what the box leaves out).
    outside = ((coarse < lo) | (coarse > hi)).any(axis=1)
    log_px = np.logaddexp(_logsumexp(fine) + math.log(area),
                          _logsumexp(lj[outside]) + 2 * math.log(cell))
    # Zoom to where the mass is (the coarse look can only bound it to its own cells), and
    # draw there: the normaliser p(x) above does not change.
    fine_keep = grid[fine > fine.max() - 12.0]
    lo = np.minimum(fine_keep.min(axis=0), mu - 3 * sigma)
    hi = np.maximum(fine_keep.max(axis=0), mu + 3 * sigma)
    center, half = (lo + hi) / 2, max(float((hi - lo).max()) / 2 * 1.1, 0.02)
    lo, hi = center - half, center + half
    grid = even_grid((lo[0], lo[1]), (hi[0], hi[1]), n_grid).astype(np.float64)
    area = (2 * half / n_grid) ** 2
    density = np.exp(_log_joint(vae, x, kind, grid) - log_px)
    inside = (((grid - mu) / sigma) ** 2).sum(axis=1) <= 4.0
    nelbo = float(evidence.negative_elbo(vae, x, kind, n_samples=N_ELBO_SAMPLES, seed=0)[0])
    nll = float(-log_px)
    return PosteriorPicture(
        lo=(float(lo[0]), float(lo[1])), hi=(float(hi[0]), float(hi[1])),
        density=density.reshape(n_grid, n_grid), mu=mu, sigma=sigma, nll=nll, nelbo=nelbo,
        mass_in_ellipse=float(density[inside].sum() * area),
        mass_shown=float(density.sum() * area))
