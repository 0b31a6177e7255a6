"""Exporting the encoded test set: AE codes, VAE means and log-variances, and labels."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
from vae_gui.model.atomic_write import atomic_write


def export_encodings(
    path: str | os.PathLike,
    ae_codes: np.ndarray,
    vae_mu: np.ndarray,
    vae_logvar: np.ndarray,
    labels: np.ndarray,
    class_names: tuple[str, ...],
) -> Path:
    """Writes a .npz (arrays as they are) or a .csv (one row per test point), atomically.

    Raises OSError when the file cannot be written; the file that was at `path` then stays.
    """
    path = Path(path)
    if path.suffix == ".npz":
        with atomic_write(path, "wb") as f:
            np.savez(f, ae_codes=ae_codes, vae_mu=vae_mu, vae_logvar=vae_logvar,
                     labels=labels, class_names=np.array(class_names))
    else:
        d = ae_codes.shape[1]
        header = (["index", "label", "class"] + [f"ae_z{i + 1}" for i in range(d)]
                  + [f"vae_mu{i + 1}" for i in range(d)]
                  + [f"vae_logvar{i + 1}" for i in range(d)])
        with atomic_write(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            for i, label in enumerate(labels):
                writer.writerow([i, int(label), class_names[int(label)],
                                 *(f"{v:.6g}" for v in ae_codes[i]),
                                 *(f"{v:.6g}" for v in vae_mu[i]),
                                 *(f"{v:.6g}" for v in vae_logvar[i])])
    return path
