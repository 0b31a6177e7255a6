"""Tools ▸ Inspect: a test image beside both columns' reconstructions (click a point)."""

from __future__ import annotations

import html

import numpy as np
from PySide6 import QtWidgets

from vae_gui.explorer_state import DEFAULT_NAMES, MODELS, ExplorerState
from vae_gui.model.export import class_name
from vae_gui.model.latent import decode_images
from vae_gui.tools.image_pair import named_caption
from vae_gui.views.decoded_image import DecodedImage
from vae_gui.views.posterior_map import PosteriorMap


class InspectTab(QtWidgets.QWidget):
    """Shows the state's inspected point; its posterior ellipse is drawn by ToolMarks."""

    title = "Inspect"

    def __init__(self, state: ExplorerState) -> None:
        super().__init__()
        self.state = state
        self.label = QtWidgets.QLabel("Click a point in either latent plot to inspect it.")
        self.label.setWordWrap(True)
        row = QtWidgets.QHBoxLayout()
        self.views = {}
        captions = {"original": "test image x",
                    **{w: f"{DEFAULT_NAMES[w]} reconstruction" for w in MODELS}}
        for key, caption in captions.items():
            self.views[key] = DecodedImage(caption)
            row.addWidget(self.views[key])
        # Below the images: the side panel is narrow and tall, and the map needs a square.
        self.posterior = PosteriorMap()
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addLayout(row, 1)
        layout.addWidget(self.posterior, 2)

    def refresh(self) -> None:
        state, i = self.state, self.state.inspected
        if state.snapshot is None or i is None or i >= len(state.origin.cloud_images):
            return
        s = state.snapshot
        self.views["original"].set_image(state.origin.cloud_images[i])
        for which in MODELS:
            column = state.column(which)
            self.views[which].set_caption(named_caption("{name}{sep}reconstruction",
                                                        column.name))
            self.views[which].set_image(decode_images(column.model, column.mu[i],
                                                      state.image_shape)[0])
        label = html.escape(class_name(state.class_names, int(s.labels[i])))  # rich text
        text = f"{state.origin.cloud_images.cloud.name(i).capitalize()}, class <b>{label}</b>."
        # The posterior of the right column's VAE (the left one's where only it has one).
        vaes = [w for w in reversed(MODELS) if state.variational(w)]
        if not vaes:
            self.label.setText(text + " Neither model is a VAE: there is no posterior.")
            self.posterior.clear("Neither column holds a VAE, so no image has a posterior.")
            return
        column = state.column(vaes[0])
        name = html.escape(column.name)
        sigma = np.exp(0.5 * column.logvar[i])
        self.label.setText(
            f"{text} A VAE's reconstruction decodes the mean "
            f"\u03bc; the {name}'s posterior \u03c3 = "
            f"({', '.join(f'{v:.2f}' for v in sigma[:4])}{', …' if len(sigma) > 4 else ''}) "
            f"is the ellipse (\u03bc \u00b1 2\u03c3) on its plot.")
        if state.latent_dim == 2:
            kind = state.origin.train_config.loss if state.origin.train_config else "bce"
            self.posterior.request((id(column.model), i), column.model,
                                   state.origin.cloud_images[i], kind)
        else:
            self.posterior.clear("The exact posterior is drawn for a 2-D latent space, where "
                                 "quadrature over the plane is exact.")
