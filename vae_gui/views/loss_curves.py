"""Loss curves in nats per image: train (thin, per snapshot) and test (thick, per epoch)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg

from vae_gui.explorer_state import DEFAULT_NAMES
from vae_gui.model.pair import SLOTS
from vae_gui.views.latent_plot import GridLines
from vae_gui.views.log_axis import LogAxis

if TYPE_CHECKING:
    from vae_gui.model.training import Snapshot

# The series of each kind of model: its name, its place among a model's three losses (loss,
# recon, KL: in ModelLosses.values() and in Snapshot.train_curve's columns for the model),
# and its colour.
SERIES = {
    "ae": (("reconstruction", 1, "#d62728"),),
    "vae": (("recon + \u03b2\u00b7KL", 0, "#1f77b4"),
            ("recon", 1, "#17becf"),
            ("KL", 2, "#9467bd")),
}


class LossCurves(pg.PlotWidget):
    """The loss terms of one column's model against epochs, on a log scale so KL and recon
    both show; its series follow the kind of model the column holds."""

    def __init__(self, which: str, parent=None) -> None:
        super().__init__(parent=parent, background="w", enableMenu=False,
                         axisItems={"left": LogAxis("left")})
        self.which = which
        self.slot = SLOTS.index(which)
        item = self.getPlotItem()
        item.setLabel("bottom", "epoch")
        item.setLabel("left", "nats / image")
        item.setLogMode(y=True)
        item.addItem(GridLines(item), ignoreBounds=True)  # pyqtgraph's grid costs ~5 ms a paint
        self._curves: list[tuple[int, pg.PlotDataItem, pg.PlotDataItem]] = []
        self._shown: tuple[str, str] | None = None  # the (kind, name) the series are for
        self.set_model("vae" if which == "right" else "ae", DEFAULT_NAMES[which])
        self.setMinimumHeight(90)
        self._markers: list[pg.InfiniteLine] = []  # where β or the learning rate changed

    def set_model(self, kind: str, name: str) -> None:
        """The series and title for a model of this kind and name (no change: nothing)."""
        if self._shown == (kind, name):
            return
        self._shown = (kind, name)
        item = self.getPlotItem()
        for _, train, test in self._curves:
            item.removeItem(train)
            item.removeItem(test)
        self._curves = []
        names = " ".join(f"<span style='color:{color}'>\u25a0 {series}</span>"
                         for series, _, color in SERIES[kind])
        item.setTitle(f"{name}: {names} "
                      "<span style='color:#555'>(thin: train, thick: test)</span>", size="8pt")
        for _series, term, color in SERIES[kind]:
            train = item.plot(pen=pg.mkPen(color, width=1))
            test = item.plot(pen=pg.mkPen(color, width=2.5), symbol="o", symbolSize=4,
                             symbolBrush=color, symbolPen=None)
            self._curves.append((term, train, test))

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
        # The run's β is not this model's where it has none (an AE) or one of its own.
        spec = snapshot.columns[self.slot].spec
        follows_beta = spec.variational and spec.beta is None
        for line, change in zip(self._markers, changes, strict=True):
            line.setPos(change.step / steps_per_epoch)
            line.label.setFormat(f"\u03b2 {change.beta:g}, lr {change.lr:g}" if follows_beta
                                 else f"lr {change.lr:g}")

    def marked_changes(self) -> list[tuple[float, str]]:
        """The change markers shown: (epoch, label) each (for tests)."""
        return [(float(line.value()), line.label.format) for line in self._markers]

    def set_snapshot(self, snapshot: Snapshot, steps_per_epoch: int) -> None:
        column = snapshot.columns[self.slot]
        self.set_model(column.spec.kind, column.name)
        curve, history = snapshot.train_curve, snapshot.history
        epochs = np.array([m.epoch for m in history], dtype=float)
        x = epochs
        for term, train, test in self._curves:
            if len(curve) and steps_per_epoch:
                x = curve[:, 0] / steps_per_epoch
                # log scale: keep KL = 0 plottable
                y = np.maximum(curve[:, 1 + 3 * self.slot + term], 1e-3)
            else:  # a loaded checkpoint: per-epoch train means
                y = np.maximum([m.train.columns[self.slot].values()[term] for m in history],
                               1e-3)
            train.setData(x, y)
            test.setData(epochs, np.maximum(
                [m.test.columns[self.slot].values()[term] for m in history], 1e-3))
        # Epochs from 0 to where the run is (at least one): autoranging a single point, as
        # after one Step, would centre it in a range such as -50 to 50.
        last = max([1.0, *(float(x[-1]) for x in (x,) if len(x)), *epochs.tolist()])
        self.getPlotItem().setXRange(0, last, padding=0.02)
        self._mark_changes(snapshot, steps_per_epoch)

    def point_count(self) -> int:
        return sum(len(train.xData if train.xData is not None else ())
                   for _, train, _ in self._curves)
