"""Loss curves in nats per image: train (thin, per snapshot) and test (thick, per epoch)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg

from vae_gui.views.latent_plot import GridLines
from vae_gui.views.log_axis import LogAxis

if TYPE_CHECKING:
    from vae_gui.model.training import Snapshot

# Columns of Snapshot.train_curve after the step, and the Losses field of each series.
SERIES = {
    "ae": (("reconstruction", 1, "ae_recon", "#d62728"),),
    "vae": (("recon + \u03b2\u00b7KL", 2, "vae_loss", "#1f77b4"),
            ("recon", 3, "vae_recon", "#17becf"),
            ("KL", 4, "vae_kl", "#9467bd")),
}


class LossCurves(pg.PlotWidget):
    """The loss terms of one model against epochs, on a log scale so KL and recon both show."""

    def __init__(self, which: str, parent=None) -> None:
        super().__init__(parent=parent, background="w", enableMenu=False,
                         axisItems={"left": LogAxis("left")})
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
