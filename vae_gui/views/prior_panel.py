"""The N(0, I) prior: its density as an image with 1, 2 and 3 sigma rings, and the cursor."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from vae_gui.model.latent import prior_density_image
from vae_gui.views.latent_plot import RING_SIGMAS, ring_label
from vae_gui.views.palette import CURSOR_COLOR, PRIOR_COLOR

EXTENT = 3.5


class PriorPanel(pg.PlotWidget):
    """What every VAE cloud is pulled towards; the cursor dot shows where z sits in it."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent=parent, background="w")
        item = self.getPlotItem()
        item.setTitle("prior N(0, I)", size="8pt")
        item.hideButtons()
        item.setMenuEnabled(False)
        item.getAxis("left").setWidth(22)
        vb = item.getViewBox()
        vb.setAspectLocked(True)
        vb.setMouseEnabled(False, False)
        image = pg.ImageItem(prior_density_image(EXTENT), axisOrder="row-major",
                             levels=(0, 1.25))
        image.setLookupTable(_light_gray_lut())
        image.setRect(QtCore.QRectF(-EXTENT, -EXTENT, 2 * EXTENT, 2 * EXTENT))
        item.addItem(image)
        t = np.linspace(0, 2 * np.pi, 97)
        for s in RING_SIGMAS:
            item.addItem(pg.PlotCurveItem(s * np.cos(t), s * np.sin(t),
                                          pen=pg.mkPen(PRIOR_COLOR, width=1)))
            # The panel is small: the share alone (the latent plots' labels give "1σ: 39%").
            label = pg.TextItem(ring_label(s).split(": ")[1], color=PRIOR_COLOR, anchor=(0, 1))
            label.setFont(QtGui.QFont(label.textItem.font().family(), 7))
            label.setPos(s * 0.71, s * 0.71)
            item.addItem(label)
        self.marker = pg.ScatterPlotItem([0], [0], size=12, symbol="+",
                                         brush=pg.mkBrush(CURSOR_COLOR),
                                         pen=pg.mkPen(CURSOR_COLOR, width=1.5))
        self.marker.setZValue(10)
        item.addItem(self.marker)
        vb.setRange(xRange=(-EXTENT, EXTENT), yRange=(-EXTENT, EXTENT), padding=0)
        self.setMinimumSize(100, 100)

    def set_marker(self, x: float, y: float) -> None:
        """Shows the cursor's point; clipped to the panel's edge when it lies outside."""
        self.marker.setData([float(np.clip(x, -EXTENT, EXTENT))],
                            [float(np.clip(y, -EXTENT, EXTENT))])


def _light_gray_lut() -> np.ndarray:
    """White at zero density to mid-grey at the peak, so the rings stay visible."""
    ramp = np.linspace(255, 140, 256).astype(np.ubyte)
    return np.column_stack([ramp, ramp, ramp])
