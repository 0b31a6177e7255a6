"""The VAE's KL per latent dimension, as bars."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg

from vae_gui.views.palette import VAE_COLOR

LABEL_PIXELS = 28
MAX_SHOWN = 1e6  # nats: a diverged run's huge values are drawn at this height


class KLBars(pg.PlotWidget):
    """KL per VAE dimension: a bar near zero is a collapsed unit that carries no information."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent=parent, background="w")
        item = self.getPlotItem()
        item.setTitle("KL per dim.", size="8pt")
        item.setMenuEnabled(False)
        item.setMouseEnabled(False, False)
        item.hideButtons()
        self.bars = pg.BarGraphItem(x=[1], height=[0], width=0.7, brush=VAE_COLOR)
        item.addItem(self.bars)
        self.setMinimumWidth(90)
        self.values = np.zeros(0)
        self._ticks: list[tuple[int, str]] = []

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's API
        super().resizeEvent(event)
        if len(getattr(self, "values", ())):  # resize events also come during construction
            self.set_kl(self.values)  # the labels that fit the new width

    def tick_labels(self) -> list[str]:
        """The dimension labels shown under the bars (for tests)."""
        return [label for _, label in self._ticks]

    def set_kl(self, kl: np.ndarray) -> None:
        """Shows `kl` (nats per dimension); non-finite values are drawn as the tallest bar."""
        self.values = np.asarray(kl, dtype=np.float64)
        heights = np.nan_to_num(self.values, nan=MAX_SHOWN, posinf=MAX_SHOWN, neginf=0.0)
        heights = np.clip(heights, 0.0, MAX_SHOWN)
        x = np.arange(1, len(heights) + 1)
        self.bars.setOpts(x=x, height=heights, width=0.7)
        self.getPlotItem().setXRange(0.4, len(heights) + 0.6, padding=0)
        self.getPlotItem().setYRange(0, max(float(np.max(heights, initial=0)) * 1.1, 0.1),
                                     padding=0)
        axis = self.getPlotItem().getAxis("bottom")
        # At most one label per LABEL_PIXELS of width, so that "z10 z11" never run together.
        step = max(1, math.ceil(len(heights) * LABEL_PIXELS / max(self.width(), 1)))
        self._ticks = [(int(i), f"z{i}") for i in x[::step]]
        axis.setTicks([self._ticks])
