"""Two decoded-image views side by side, AE then VAE: the tools' common layout."""

from __future__ import annotations

from PySide6 import QtWidgets

from vae_gui.explorer_state import MODELS, NAMES
from vae_gui.views.decoded_image import DecodedImage


def image_pair(caption: str) -> tuple[QtWidgets.QWidget, dict[str, DecodedImage]]:
    """A widget with one image per model, captioned 'AE: caption' and 'VAE: caption'."""
    box = QtWidgets.QWidget()
    layout = QtWidgets.QHBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    views = {}
    for which in MODELS:
        views[which] = DecodedImage(f"{NAMES[which]}: {caption}")
        views[which].setMinimumSize(120, 140)
        layout.addWidget(views[which])
    return box, views
