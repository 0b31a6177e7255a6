"""Loss curves in nats per image: train (thin, per snapshot) and test (thick, per epoch)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg

from vae_gui.views.latent_plot import GridLines

if TYPE_CHECKING:
    from vae_gui.model.training import Snapshot

# Columns of Snapshot.train_curve after the step, and the Losses field of each series.
SERIES = {
    "ae": (("reconstruction", 1, "ae_recon", "#d62728"),),
    "vae": (("recon + \u03b2\u00b7KL", 2, "vae_loss", "#1f77b4"),
            ("recon", 3, "vae_recon", "#17becf"),
            ("KL", 4, "vae_kl", "#9467bd")),
}


class _LogAxis(pg.AxisItem):
    """A log axis that labels its decades only. pyqtgraph labels every tick between them too
    (2 to 9 times a power of ten) when few decades are in view, as after an epoch or two:
    eight labels per decade overlap in a panel this short. With fewer than two decades in
    view, 2 and 5 times a power of ten keep theirs too; and where not even two of those ticks
    are in view (a loss between 150 and 200, say), evenly spaced round values are ticked and
    labelled instead, where pyqtgraph would label nothing."""

    def __init__(self, orientation: str) -> None:
        super().__init__(orientation)
        self._fine: set[float] = set()  # the round values ticked in a narrow view

    def logTickValues(self, minVal, maxVal, size, stdTicks):  # noqa: N802, N803 - pyqtgraph
        ticks = super().logTickValues(minVal, maxVal, size, stdTicks)
        if sum(len(values) for _, values in ticks) >= 2 or not maxVal > minVal:
            return ticks
        lo, hi = 10.0 ** minVal, 10.0 ** maxVal
        step = _round_step((hi - lo) / 3)
        values = np.arange(math.ceil(lo / step) * step, hi, step)
        fine = [float(np.log10(v)) for v in values if v > 0]
        self._fine = {round(v, 9) for v in fine}
        return [(None, fine)]

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph's API
        if self.logMode and values and all(round(v, 9) in self._fine for v in values):
            return [f"{10.0 ** v:g}" for v in values]
        strings = super().tickStrings(values, scale, spacing)
        if not self.logMode or spacing is not None:  # spacing None: the level between decades
            return strings
        lo, hi = sorted(self.range)
        decades_in_view = math.floor(hi) - math.ceil(lo) + 1
        keep = (1, 2, 5) if decades_in_view < 2 else (1,)  # the level holds the decades too
        return [text if round(10 ** (v - math.floor(v))) in keep else ""
                for text, v in zip(strings, values, strict=True)]


def _round_step(span: float) -> float:
    """1, 2 or 5 times a power of ten, at least `span`."""
    power = 10.0 ** math.floor(math.log10(span))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= span)


class LossCurves(pg.PlotWidget):
    """The loss terms of one model against epochs, on a log scale so KL and recon both show."""

    def __init__(self, which: str, parent=None) -> None:
        super().__init__(parent=parent, background="w",
                         axisItems={"left": _LogAxis("left")})
        self.which = which
        item = self.getPlotItem()
        names = " ".join(f"<span style='color:{color}'>\u25a0 {name}</span>"
                         for name, _, _, color in SERIES[which])
        item.setTitle(f"{'AE' if which == 'ae' else 'VAE'}: {names} "
                      "<span style='color:#555'>(thin: train, thick: test)</span>", size="8pt")
        item.setLabel("bottom", "epoch")
        item.setLabel("left", "nats / image")
        item.setLogMode(y=True)
        item.addItem(GridLines(item), ignoreBounds=True)  # pyqtgraph's grid costs ~5 ms a paint
        self._curves = []
        for _name, column, field, color in SERIES[which]:
            train = item.plot(pen=pg.mkPen(color, width=1))
            test = item.plot(pen=pg.mkPen(color, width=2.5), symbol="o", symbolSize=4,
                             symbolBrush=color, symbolPen=None)
            self._curves.append((column, field, train, test))
        self.setMinimumHeight(90)
        self._markers: list[pg.InfiniteLine] = []  # where β or the learning rate changed

    def _mark_changes(self, snapshot: Snapshot, steps_per_epoch: int) -> None:
        """A dashed line, labelled with the new values, at each live change of β or lr."""
        changes = snapshot.changes if steps_per_epoch else ()
        item = self.getPlotItem()
        while len(self._markers) > len(changes):
            item.removeItem(self._markers.pop())
        while len(self._markers) < len(changes):
            line = pg.InfiniteLine(angle=90, movable=False,
                                   pen=pg.mkPen("#555", width=1, style=pg.QtCore.Qt.DashLine),
                                   label="", labelOpts={"position": 0.9, "color": "#333"})
            item.addItem(line, ignoreBounds=True)
            self._markers.append(line)
        for line, change in zip(self._markers, changes, strict=True):
            line.setPos(change.step / steps_per_epoch)
            line.label.setFormat(f"\u03b2 {change.beta:g}, lr {change.lr:g}")

    def marked_changes(self) -> list[tuple[float, str]]:
        """The change markers shown: (epoch, label) each (for tests)."""
        return [(float(line.value()), line.label.format) for line in self._markers]

    def set_snapshot(self, snapshot: Snapshot, steps_per_epoch: int) -> None:
        curve, history = snapshot.train_curve, snapshot.history
        epochs = np.array([m.epoch for m in history], dtype=float)
        for column, field, train, test in self._curves:
            if len(curve) and steps_per_epoch:
                x = curve[:, 0] / steps_per_epoch
                y = np.maximum(curve[:, column], 1e-3)  # log scale: keep KL = 0 plottable
            else:  # a loaded checkpoint: per-epoch train means
                x = epochs
                y = np.maximum([getattr(m.train, field) for m in history], 1e-3)
            train.setData(x, y)
            test.setData(epochs, np.maximum([getattr(m.test, field) for m in history], 1e-3))
        # Epochs from 0 to where the run is (at least one): autoranging a single point, as
        # after one Step, would centre it in a range such as -50 to 50.
        last = max([1.0, *(float(x[-1]) for x in (x,) if len(x)), *epochs.tolist()])
        self.getPlotItem().setXRange(0, last, padding=0.02)
        self._mark_changes(snapshot, steps_per_epoch)

    def point_count(self) -> int:
        return sum(len(train.xData if train.xData is not None else ())
                   for _, _, train, _ in self._curves)
