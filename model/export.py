"""Exporting the encoded test set: AE codes, VAE means and log-variances, and labels."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
from vae_gui.model.atomic_write import atomic_write

# A spreadsheet reads a cell that begins with one of these as a formula (or, with tab and
# carriage return, shifts it into one): a class name such as "=cmd|' /C calc'!A0", from a
# folder or a checkpoint, would run when the CSV is opened (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """`text` as a cell no spreadsheet takes for a formula: a leading apostrophe where it
    begins like one (the usual defence; spreadsheets show the rest as text)."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def class_name(class_names: tuple[str, ...], label: int) -> str:
    """The name of `label`, or a made-up one when the names do not reach it (a folder that
    gained a class since the models were trained)."""
    return class_names[label] if 0 <= label < len(class_names) else f"class {label}"


def export_encodings(
    path: str | os.PathLike,
    ae_codes: np.ndarray,
    vae_mu: np.ndarray,
    vae_logvar: np.ndarray,
    labels: np.ndarray,
    class_names: tuple[str, ...],
) -> Path:
    """`export_columns` for the default pair, an AE and a VAE."""
    return export_columns(path, [("ae", ae_codes, None), ("vae", vae_mu, vae_logvar)], labels,
                          class_names)


def export_columns(
    path: str | os.PathLike,
    columns,
    labels: np.ndarray,
    class_names: tuple[str, ...],
) -> Path:
    """Writes a .npz (arrays as they are) or a .csv (one row per test point), atomically.

    `columns` holds (prefix, codes or means, log-variances or None) for each model: an AE's
    codes are written as PREFIX_codes (CSV: PREFIX_z1, ...), a VAE's as PREFIX_mu and
    PREFIX_logvar. Raises OSError when the file cannot be written; the file that was at
    `path` then stays.
    """
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    for prefix, mu, logvar in columns:
        if logvar is None:
            arrays[f"{prefix}_codes"] = mu
        else:
            arrays[f"{prefix}_mu"] = mu
            arrays[f"{prefix}_logvar"] = logvar
    if path.suffix == ".npz":
        with atomic_write(path, "wb") as f:
            np.savez(f, **arrays, labels=labels, class_names=np.array(class_names))
    else:
        def csv_name(key: str, i: int) -> str:  # ae_codes -> ae_z1, vae_mu -> vae_mu1
            return f"{key[:-len('_codes')]}_z{i + 1}" if key.endswith("_codes") else f"{key}{i + 1}"

        header = ["index", "label", "class"] + [csv_name(key, i) for key, a in arrays.items()
                                                for i in range(a.shape[1])]
        with atomic_write(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            for i, label in enumerate(labels):
                # Only the class is text from outside; the numbers are written by us.
                writer.writerow([i, int(label),
                                 spreadsheet_safe(class_name(class_names, int(label))),
                                 *(f"{v:.6g}" for a in arrays.values() for v in a[i])])
    return path
