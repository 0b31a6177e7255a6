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
    """Captions each column's view after the model the column holds now: `caption` with
    "{name}" and "{sep}" in it, e.g. "{name}:{sep}prior samples"."""
    for which, view in views.items():
        view.set_caption(named_caption(caption, state.name(which)))


def named_caption(caption: str, name: str) -> str:
    """`caption` for a model of this name: "{sep}" a space after a short name ("AE"), a line
    break after a long one ("VAE β=4"), which would not fit a narrow image on one line."""
    return caption.format(name=html.escape(name), sep=" " if len(name) <= 3 else "<br>")
