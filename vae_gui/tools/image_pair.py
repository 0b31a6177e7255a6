"""Two decoded-image views side by side, left column's model first: the tools' common
layout."""

from __future__ import annotations

import html

from PySide6 import QtWidgets

from vae_gui.explorer_state import DEFAULT_NAMES, MODELS, ExplorerState
from vae_gui.views.decoded_image import DecodedImage


def image_pair(caption: str) -> tuple[QtWidgets.QWidget, dict[str, DecodedImage]]:
    """A widget with one image per column, captioned 'AE: caption' and 'VAE: caption' (see
    `name_views` for other pairs)."""
    box = QtWidgets.QWidget()
    layout = QtWidgets.QHBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    views = {}
    for which in MODELS:
        views[which] = DecodedImage(f"{DEFAULT_NAMES[which]}: {caption}")
        views[which].setMinimumSize(120, 140)
        layout.addWidget(views[which])
    return box, views


def name_views(views: dict[str, DecodedImage], state: ExplorerState, caption: str) -> None:
    """Captions each column's view after the model the column holds now: 'VAE β=4: caption'."""
    for which, view in views.items():
        view.set_caption(caption.format(name=html.escape(state.name(which))))
