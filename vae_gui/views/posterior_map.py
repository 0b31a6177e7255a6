"""The exact posterior p(z|x) of one image as a heat map, under the encoder's q(z|x) ellipse.

Computed off the GUI thread (a second or so for 10,000 decoded grid points); the newest
request wins, so clicking through points never queues work.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from vae_gui.model.latent import ellipse
from vae_gui.workers.background import BackgroundRunner


class PosteriorMap(QtWidgets.QWidget):
    """A plot of p(z|x) with q(z|x)'s mu +/- 2 sigma ellipse, and what they tell in a line."""

    computed = QtCore.Signal(object)  # the PosteriorPicture drawn

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = BackgroundRunner(self)
        self.plot = pg.PlotWidget(background="w", enableMenu=False)
        self.plot.setAspectLocked(True)
        self.plot.hideButtons()
        # No axis titles: the plot is small, and it is the plane of the latent plot (z1, z2).
        self.plot.getAxis("left").setWidth(32)
        self.plot.setMinimumSize(120, 120)
        for axis in ("left", "bottom"):
            self.plot.getAxis(axis).enableAutoSIPrefix(False)  # "z2 (x0.001)" reads badly
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setLookupTable(_heat_lut())
        self.plot.addItem(self.image)
        self.ellipse = self.plot.plot(pen=pg.mkPen("#000000", width=2))
        self.center = self.plot.plot(pen=None, symbol="+", symbolSize=10,
                                     symbolPen=pg.mkPen("#000000", width=2))
        self.caption = QtWidgets.QLabel("")
        self.caption.setWordWrap(True)
        self.caption.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        # Side by side: the side panel is short on a laptop screen, and the caption wraps
        # into the height the square plot takes anyway.
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot, 2)
        layout.addWidget(self.caption, 1)
        self.picture = None
        self._wanted = None
        self._key = None

    def request(self, key, vae, image: np.ndarray, kind: str) -> None:
        """Draws the posterior of `image` under `vae` (2-D latent) once it is computed;
        `key` names the request, so that asking again for the same thing does nothing."""
        if key == self._key:
            return
        self._key = key
        self._wanted = (vae, np.array(image, dtype=np.float32), kind)
        self.caption.setText("Computing the exact posterior p(z|x)\u2026")
        if not self.runner.busy:
            self._start()

    def clear(self, text: str) -> None:
        self._key = None
        self._wanted = None
        self.picture = None
        self.image.clear()
        self.ellipse.setData([], [])
        self.center.setData([], [])
        self.caption.setText(text)

    def _start(self) -> None:
        from vae_gui.model.posterior_picture import posterior_picture

        vae, image, kind = self._wanted
        self._wanted = None
        self.runner.run(lambda: posterior_picture(vae, image, kind), self._on_done,
                        self._on_failed)

    def _on_done(self, picture) -> None:
        if self._wanted is not None:  # a newer request arrived meanwhile: draw that one
            self._start()
            return
        if self._key is None:
            return
        self.picture = picture
        (x0, y0), (x1, y1) = picture.lo, picture.hi
        self.image.setImage(picture.density[::-1], autoLevels=True)  # rows bottom to top
        self.image.setRect(QtCore.QRectF(x0, y0, x1 - x0, y1 - y0))
        ring = ellipse(picture.mu, 2 * picture.sigma)
        self.ellipse.setData(ring[:, 0], ring[:, 1])
        self.center.setData([picture.mu[0]], [picture.mu[1]])
        self.plot.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)
        from vae_gui.model.posterior_picture import ELLIPSE_MASS_IF_EXACT

        self.caption.setText(
            f"Heat map (z1, z2): the exact posterior p(z|x), by quadrature. Ellipse: the "
            f"encoder's "
            f"q(z|x), \u03bc \u00b1 2\u03c3; it holds {100 * picture.mass_in_ellipse:.0f}% "
            f"of p(z|x) ({100 * ELLIPSE_MASS_IF_EXACT:.1f}% if q were exact).\n"
            f"-log p(x) {picture.nll:.1f}, -ELBO {picture.nelbo:.1f}: the gap, "
            f"KL(q \u2016 p(z|x)), is {picture.gap:.2f} nats.")
        self.computed.emit(picture)

    def _on_failed(self, message: str) -> None:
        self.caption.setText(f"The exact posterior could not be computed: {message}")
        if self._wanted is not None:
            self._start()

    def shutdown(self) -> bool:
        self._wanted = None
        return self.runner.shutdown()


def _heat_lut() -> np.ndarray:
    """White (no mass) to dark red (most): the ellipse and cloud colours stay readable."""
    t = np.linspace(0.0, 1.0, 256)[:, None]
    white, red = np.array([255, 255, 255]), np.array([165, 15, 21])
    return (white + (red - white) * t).astype(np.uint8)
