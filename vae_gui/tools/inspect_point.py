"""Tools ▸ Inspect: a test image beside its AE and VAE reconstructions (click a point)."""

from __future__ import annotations

import html

import numpy as np
from PySide6 import QtWidgets

from vae_gui.explorer_state import ExplorerState
from vae_gui.model.export import class_name
from vae_gui.model.latent import decode_images
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
        for key, caption in (("original", "test image x"), ("ae", "AE reconstruction"),
                             ("vae", "VAE reconstruction")):
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
        self.views["ae"].set_image(decode_images(s.ae, s.ae_codes[i], state.image_shape)[0])
        self.views["vae"].set_image(decode_images(s.vae, s.vae_mu[i], state.image_shape)[0])
        sigma = np.exp(0.5 * s.vae_logvar[i])
        label = html.escape(class_name(state.class_names, int(s.labels[i])))  # rich text
        self.label.setText(
            f"{state.origin.cloud_images.cloud.name(i).capitalize()}, class <b>{label}</b>. "
            "The VAE reconstruction decodes the mean "
            f"\u03bc; its posterior \u03c3 = ({', '.join(f'{v:.2f}' for v in sigma[:4])}"
            f"{', …' if len(sigma) > 4 else ''}) is the ellipse (\u03bc \u00b1 2\u03c3) "
            "on the VAE plot.")
        if state.latent_dim == 2:
            kind = state.origin.train_config.loss if state.origin.train_config else "bce"
            self.posterior.request((id(s.vae), i), s.vae, state.origin.cloud_images[i], kind)
        else:
            self.posterior.clear("The exact posterior is drawn for a 2-D latent space, where "
                                 "quadrature over the plane is exact.")
