"""Marginal histograms of each latent dimension of the encoded test set, against N(0, 1);
each panel's title gives the dimension's variance (1 for the prior)."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg

from vae_gui.model.latent import standard_normal_pdf
from vae_gui.views.palette import PRIOR_COLOR

MAX_PANELS = 8
MIN_HEIGHT = 80  # pixels, one row of panels
ROW_HEIGHT = 55  # pixels per row when there are several
BINS = 40


class MarginalHistograms(pg.GraphicsLayoutWidget):
    """One small plot per latent dimension (up to MAX_PANELS): a density histogram and N(0, 1)."""

    def __init__(self, color: str, parent=None) -> None:
        super().__init__(parent=parent)
        self.setBackground("w")
        self.setMinimumHeight(MIN_HEIGHT)
        self._color = color
        self._plots: list[tuple[pg.PlotItem, pg.PlotDataItem, pg.PlotDataItem]] = []

    def _ensure_panels(self, n: int) -> None:
        if len(self._plots) == n:
            return
        self.clear()
        self._plots = []
        columns = min(n, 4)
        # Each row of small multiples needs room for its bars to be read.
        self.setMinimumHeight(max(MIN_HEIGHT, ROW_HEIGHT * math.ceil(n / columns)))
        for i in range(n):
            plot = self.addPlot(row=i // columns, col=i % columns, enableMenu=False)
            plot.setTitle(f"z{i + 1}", size="8pt")
            plot.hideAxis("left")
            plot.setMouseEnabled(False, False)
            plot.hideButtons()
            if n > 4:  # small multiples: the bars need the room more than the tick labels
                plot.hideAxis("bottom")
            hist = plot.plot(stepMode="center", fillLevel=0, fillOutline=True,
                             brush=pg.mkBrush(self._color + "80"), pen=pg.mkPen(self._color))
            prior = plot.plot(pen=pg.mkPen(PRIOR_COLOR, width=1.5, style=pg.QtCore.Qt.DashLine))
            self._plots.append((plot, hist, prior))

    def set_codes(self, codes: np.ndarray) -> None:
        """Redraws the histograms of `codes` (N, d): one panel per dimension."""
        n = min(codes.shape[1], MAX_PANELS)
        self._ensure_panels(n)
        for i, (plot, hist, prior) in enumerate(self._plots):
            column = np.asarray(codes[:, i], dtype=np.float64)
            # A diverged run's NaN or inf cannot be binned; each panel shows its finite codes.
            column = column[np.isfinite(column)]
            var = float(column.var()) if len(column) > 1 else float("nan")
            plot.setTitle(f"z{i + 1}  var {var:.2f}" if np.isfinite(var) else f"z{i + 1}",
                          size="8pt")
            counts, edges, half = marginal_histogram(column)
            hist.setData(edges, counts)
            x = np.linspace(-half, half, 121)
            prior.setData(x, standard_normal_pdf(x))
            plot.setXRange(-half, half, padding=0)
            plot.setYRange(0, max(0.45, float(counts.max(initial=0)) * 1.05), padding=0)
            plot.getViewBox().prepareForPaint()  # apply the range now: one paint, not two


def marginal_histogram(column: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Density counts, bin edges and the half-width of a symmetric range that always shows
    N(0, 1)'s bulk and most of the (finite) codes; zero counts when there are none."""
    if not len(column):
        half = 4.0
        return np.zeros(BINS), np.linspace(-half, half, BINS + 1), half
    half = max(4.0, float(np.percentile(np.abs(column), 99.5)))
    counts, edges = np.histogram(column, bins=BINS, range=(-half, half), density=True)
    return counts, edges, half
