"""Marks drawn over a latent plot by the tools: paths, markers and posterior ellipses."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg


class Overlays:
    """Named items on one plot, created on first use and updated in place afterwards."""

    def __init__(self, plot_item: pg.PlotItem) -> None:
        self.plot_item = plot_item
        self._items: dict[str, pg.GraphicsObject] = {}

    def _item(self, name: str, factory) -> pg.GraphicsObject:
        if name not in self._items:
            item = factory()
            item.setZValue(15)
            self.plot_item.addItem(item)
            self._items[name] = item
        return self._items[name]

    def line(self, name: str, xy: np.ndarray | None, color: str, width: float = 2,
             dashed: bool = False) -> None:
        """A polyline (a path or an ellipse); None hides it."""
        style = pg.QtCore.Qt.PenStyle.DashLine if dashed else pg.QtCore.Qt.PenStyle.SolidLine
        item = self._item(name, lambda: pg.PlotCurveItem(
            pen=pg.mkPen(color, width=width, style=style)))
        if xy is None:
            item.setVisible(False)
        else:
            item.setData(xy[:, 0], xy[:, 1])
            item.setVisible(True)

    def markers(self, name: str, xy: np.ndarray | None, color: str, symbol: str = "star",
                size: int = 16) -> None:
        item = self._item(name, lambda: pg.ScatterPlotItem(
            symbol=symbol, size=size, brush=pg.mkBrush(color), pen=pg.mkPen("k", width=1)))
        if xy is None:
            item.setVisible(False)
        else:
            item.setData(x=xy[:, 0], y=xy[:, 1])
            item.setVisible(True)

    def visible(self, name: str) -> bool:
        return name in self._items and self._items[name].isVisible()

    def data(self, name: str) -> np.ndarray | None:
        """The points of a visible overlay (for tests)."""
        if not self.visible(name):
            return None
        x, y = self._items[name].getData()
        return np.column_stack([x, y])
