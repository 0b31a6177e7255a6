"""Tools ▸ Prior samples: the same draws z ~ N(0, I) decoded by both models."""

from __future__ import annotations

import numpy as np
from PySide6 import QtWidgets

from vae_gui.explorer_state import ExplorerState
from vae_gui.model.latent import decode_images, mosaic, sample_prior
from vae_gui.tools.image_pair import image_pair, name_views


class PriorSamplesTab(QtWidgets.QWidget):
    """A grid of prior draws, the same z for both models; a button draws new ones."""

    title = "Prior samples"

    def __init__(self, state: ExplorerState) -> None:
        super().__init__()
        self.state = state
        self.seed = 0
        self.grid = 8
        self.button = QtWidgets.QPushButton("Draw new samples z ~ N(0, I)")
        self.button.clicked.connect(self.new_samples)
        note = QtWidgets.QLabel("The same z for both models. A VAE is trained to decode "
                                "draws near the prior; nothing ties an AE's codes to it. "
                                "For MNIST digits, Tools \u25b8 Evidence measures how digit-like "
                                "and how varied each model's samples are.")
        note.setWordWrap(True)
        box, self.views = image_pair("prior samples")
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.button)
        layout.addWidget(note)
        layout.addWidget(box, 1)
        self.z: np.ndarray | None = None

    def new_samples(self) -> None:
        self.seed += 1
        self.z = None
        self.refresh()

    def refresh(self) -> None:
        state = self.state
        if state.snapshot is None:
            return
        if self.z is None or self.z.shape[1] != state.latent_dim:
            self.z = sample_prior(self.grid * self.grid, state.latent_dim, self.seed)
        name_views(self.views, state, "{name}:{sep}prior samples")
        for which, view in self.views.items():
            images = decode_images(state.model(which), self.z, state.image_shape)
            view.set_image(mosaic(images, self.grid, self.grid, gap=1))
