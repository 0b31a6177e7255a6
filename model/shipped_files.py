"""Where the files that ship with vae-gui are: the embedded dataset and the pretrained models.

They are package data of `vae_gui.resources` (the repository's resources/ folder), found with
importlib.resources so that a source checkout and an installed wheel behave the same.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

RESOURCES_PACKAGE = "vae_gui.resources"


def shipped_file(*parts: str) -> Path:
    """The path of a file shipped in vae_gui.resources (a plain folder in every install)."""
    return Path(str(resources.files(RESOURCES_PACKAGE).joinpath(*parts)))


def embedded_dataset() -> Path:
    """mnist5k: 5,000 MNIST digits, 400 train and 100 test per class."""
    return shipped_file("mnist5k.npz")


def pretrained_checkpoint() -> Path:
    """The AE and VAE that the window shows at start-up (see README, 'The pretrained models')."""
    return shipped_file("pretrained", "checkpoint.safetensors")


def shipped_judge() -> Path:
    """The digit classifier that grades prior samples on mnist5k (see model/judge.py);
    rebuilt by resources/build_judge.py."""
    return shipped_file("pretrained", "judge.safetensors")
