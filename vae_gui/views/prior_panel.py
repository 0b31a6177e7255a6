"""The N(0, I) prior: its density as an image with 1, 2 and 3 sigma rings, and the cursor."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from vae_gui.model.latent import prior_density_image
from vae_gui.views.latent_plot import RING_SIGMAS, ring_label
from vae_gui.views.palette import CURSOR_COLOR, PRIOR_COLOR

EXTENT = 3.5


class PriorPanel(pg.PlotWidget):
    """What every VAE cloud is pulled towards; the cursor dot shows where z sits in it."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent=parent, background="w", enableMenu=False)
        item = self.getPlotItem()
        item.setTitle("prior N(0, I)", size="8pt")
        item.hideButtons()
        item.getAxis("left").setWidth(22)
        vb = item.getViewBox()
        vb.setAspectLocked(True)
        vb.setMouseEnabled(False, False)
        image = pg.ImageItem(prior_density_image(EXTENT), axisOrder="row-major",
                             levels=(0, 1.25))
        image.setLookupTable(_light_gray_lut())
        image.setRect(QtCore.QRectF(-EXTENT, -EXTENT, 2 * EXTENT, 2 * EXTENT))
        item.addItem(image)
        under = [image]  # what the marker moves over
        t = np.linspace(0, 2 * np.pi, 97)
        for s in RING_SIGMAS:
            ring = pg.PlotCurveItem(s * np.cos(t), s * np.sin(t),
                                    pen=pg.mkPen(PRIOR_COLOR, width=1))
            item.addItem(ring)
            # The panel is small: the share alone (the latent plots' labels give "1σ: 39%").
            label = pg.TextItem(ring_label(s).split(": ")[1], color=PRIOR_COLOR, anchor=(0, 1))
            label.setFont(QtGui.QFont(label.textItem.font().family(), 7))
            label.setPos(s * 0.71, s * 0.71)
            item.addItem(label)
            under += [ring, label]
        # Each cursor move repaints the marker's old and new places: the density and the
        # rings there are copied from a pixmap of each rather than painted again.
        for static in under:
            static.setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.marker = _Cross()
        self.marker.setZValue(10)
        item.addItem(self.marker)
        vb.setRange(xRange=(-EXTENT, EXTENT), yRange=(-EXTENT, EXTENT), padding=0)
        self.setMinimumSize(100, 100)

    def set_marker(self, x: float, y: float) -> None:
        """Shows the cursor's point; clipped to the panel's edge when it lies outside."""
        self.marker.setPos(float(np.clip(x, -EXTENT, EXTENT)),
                           float(np.clip(y, -EXTENT, EXTENT)))


class _Cross(QtWidgets.QGraphicsItem):
    """A 12 px '+' at its position, the same size at any zoom. Moving it is a setPos (no
    data arrays, as a one-point ScatterPlotItem's setData rebuilt on every cursor move), and
    only the small rectangles it leaves and enters are repainted."""

    HALF = 6.0  # pixels

    def __init__(self) -> None:
        super().__init__()
        self.setFlag(QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        self._pen = QtGui.QPen(QtGui.QColor(CURSOR_COLOR), 3.0)  # as bold as the old filled "+"

    def boundingRect(self) -> QtCore.QRectF:  # noqa: N802 - Qt's API
        h = self.HALF + 1
        return QtCore.QRectF(-h, -h, 2 * h, 2 * h)

    def paint(self, p: QtGui.QPainter, option, widget=None) -> None:
        p.setPen(self._pen)
        h = self.HALF
        p.drawLine(QtCore.QPointF(-h, 0), QtCore.QPointF(h, 0))
        p.drawLine(QtCore.QPointF(0, -h), QtCore.QPointF(0, h))


def _light_gray_lut() -> np.ndarray:
    """White at zero density to mid-grey at the peak, so the rings stay visible."""
    ramp = np.linspace(255, 140, 256).astype(np.ubyte)
    return np.column_stack([ramp, ramp, ramp])
