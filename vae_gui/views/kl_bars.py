"""The VAE's KL per latent dimension, as bars."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtGui

from vae_gui.views.palette import VAE_COLOR

LABEL_PIXELS = 28
# nats: above this a value is off the scale. A diverged run's KL can be 1e43 or inf; drawn to
# scale it would flatten every other bar, and near the float64 limit the axis range (x 1.1)
# would overflow to inf, which pyqtgraph refuses ("Cannot set range [0, inf]").
MAX_SHOWN = 1e6
OFF_SCALE_COLOR = "#b0b0b0"
MAX_NAMED = 3  # dimensions named in the off-scale note before it only counts them
NOTE_LINE_SHARE = 0.15  # of the plot's height, per line of the note


class KLBars(pg.PlotWidget):
    """KL per VAE dimension: a bar near zero is a collapsed unit that carries no information."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent=parent, background="w", enableMenu=False)
        item = self.getPlotItem()
        item.setTitle("KL per dim.", size="8pt")
        item.setMouseEnabled(False, False)
        item.hideButtons()
        self.bars = pg.BarGraphItem(x=[1], height=[0], width=0.7, brush=VAE_COLOR)
        item.addItem(self.bars)
        # Values that cannot be drawn to scale: full-height grey bars, named in the note.
        self.off_scale = pg.BarGraphItem(x=[1], height=[0], width=0.7, brush=OFF_SCALE_COLOR,
                                         pen=None)
        item.addItem(self.off_scale)
        self.note = pg.TextItem("", color="#555", anchor=(0, 0))
        font = QtGui.QFont()
        font.setPointSizeF(7)
        self.note.setFont(font)
        item.addItem(self.note, ignoreBounds=True)
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

    def note_text(self) -> str:
        """What the note over the bars says about values not drawn to scale ('' if none)."""
        return self.note.textItem.toPlainText()

    def set_kl(self, kl: np.ndarray) -> None:
        """Shows `kl` (nats per dimension) to scale; values that are not finite or above
        MAX_SHOWN get a grey full-height bar and are named in the note instead."""
        self.values = np.asarray(kl, dtype=np.float64).reshape(-1)
        finite = np.isfinite(self.values)
        shown = finite & (self.values <= MAX_SHOWN)
        heights = np.where(shown, np.clip(np.nan_to_num(self.values), 0.0, MAX_SHOWN), 0.0)
        top = max(float(np.max(heights, initial=0.0)), 0.1)
        x = np.arange(1, len(heights) + 1)
        self.bars.setOpts(x=x, height=heights, width=0.7)
        self.off_scale.setOpts(x=x, height=np.where(shown, 0.0, top), width=0.7)
        item = self.getPlotItem()
        note = off_scale_note(x[~finite], x[finite & ~shown])
        # Headroom above the bars for the note's lines, so that it never covers a bar.
        lines = note.count("\n") + 1 if note else 0
        y_max = top * 1.1 / (1.0 - NOTE_LINE_SHARE * lines)
        item.setXRange(0.4, len(heights) + 0.6, padding=0)
        item.setYRange(0, y_max, padding=0)
        self.note.setText(note)
        self.note.setPos(0.4, y_max)
        axis = item.getAxis("bottom")
        # At most one label per LABEL_PIXELS of width, so that "z10 z11" never run together.
        step = max(1, math.ceil(len(heights) * LABEL_PIXELS / max(self.width(), 1)))
        self._ticks = [(int(i), f"z{i}") for i in x[::step]]
        axis.setTicks([self._ticks])


def off_scale_note(not_finite: np.ndarray, too_large: np.ndarray) -> str:
    """'z2 z5: not finite', 'z1: over 1e+06', both on two lines, or '' when neither."""
    lines = [f"{_dimensions(not_finite)}: not finite" if len(not_finite) else "",
             f"{_dimensions(too_large)}: over {MAX_SHOWN:g}" if len(too_large) else ""]
    return "\n".join(line for line in lines if line)


def _dimensions(numbers: np.ndarray) -> str:
    if len(numbers) > MAX_NAMED:
        return f"{len(numbers)} dims"
    return " ".join(f"z{int(i)}" for i in numbers)
