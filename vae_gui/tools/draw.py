"""Tools ▸ Draw: the user's own digit, encoded live into both spaces and reconstructed."""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtWidgets

from vae_gui.explorer_state import DEFAULT_NAMES, MODELS, ExplorerState
from vae_gui.model.latent import decode_images, encode_images
from vae_gui.tools.draw_canvas import DrawCanvas
from vae_gui.tools.image_pair import named_caption
from vae_gui.views.decoded_image import DecodedImage
from vae_gui.views.posterior_map import PosteriorMap


class DrawTab(QtWidgets.QWidget):
    """A canvas and both reconstructions; `codes` and `logvars` (a VAE's) are the drawing's
    encoding in each column."""

    title = "Draw"
    encoded = QtCore.Signal()

    def __init__(self, state: ExplorerState) -> None:
        super().__init__()
        self.state = state
        self.canvas = DrawCanvas()
        self.canvas.changed.connect(self._changed)
        clear = QtWidgets.QPushButton("Clear")
        clear.clicked.connect(self.canvas.clear)
        left = QtWidgets.QVBoxLayout()
        left.addWidget(self.canvas)
        left.addWidget(clear)
        left.addStretch(1)
        self.views = {w: DecodedImage(f"{DEFAULT_NAMES[w]} reconstruction") for w in MODELS}
        row = QtWidgets.QHBoxLayout()
        row.addLayout(left)
        for view in self.views.values():
            row.addWidget(view, 1)
        self.posterior = PosteriorMap()
        note = QtWidgets.QLabel("Your drawing is marked \u2605 on both plots, with the VAE's "
                                "posterior ellipse (\u03bc \u00b1 2\u03c3) on a VAE's.")
        note.setWordWrap(True)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(row, 1)
        layout.addWidget(note)
        layout.addWidget(self.posterior, 2)
        self.codes: dict[str, np.ndarray] = {}
        self.logvars: dict[str, np.ndarray] = {}

    def _changed(self) -> None:
        self.refresh()
        self.encoded.emit()

    def refresh(self) -> None:
        state = self.state
        if state.snapshot is None:
            return
        self.canvas.set_shape(state.image_shape[:2])
        if self.canvas.is_empty():
            self.codes, self.logvars = {}, {}
            for view in self.views.values():
                view.clear_image()
            self.posterior.clear("Draw to see the exact posterior of your drawing.")
            return
        x = self.canvas.image[None]
        if len(state.image_shape) == 3:  # white ink on black in every channel of a colour model
            x = np.repeat(x[..., None], state.image_shape[2], axis=-1)
        self.logvars = {}
        for which in MODELS:
            code, logvar = encode_images(state.model(which), x)
            self.codes[which] = code[0]
            if logvar is not None:
                self.logvars[which] = logvar[0]
            self.views[which].set_caption(named_caption("{name}{sep}reconstruction",
                                                        state.name(which)))
            self.views[which].set_image(decode_images(state.model(which), code,
                                                      state.image_shape)[0])
        # The posterior of the right column's VAE (the left one's where only it has one).
        vaes = [w for w in reversed(MODELS) if state.variational(w)]
        if not vaes:
            self.posterior.clear("Neither column holds a VAE, so a drawing has no posterior.")
        elif state.latent_dim == 2:
            kind = state.origin.train_config.loss if state.origin.train_config else "bce"
            vae = state.model(vaes[0])
            self.posterior.request((id(vae), x.tobytes()), vae, x[0], kind)
        else:
            self.posterior.clear("The exact posterior is drawn for a 2-D latent space.")
