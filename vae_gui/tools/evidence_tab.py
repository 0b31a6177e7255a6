"""Tools ▸ Evidence: the lesson measured for both models, updated as the run goes.

Each figure is computed by model/evidence_report.py from the snapshot on screen; nothing
here is asserted in text without a number next to it. The two columns of the table are the
window's two columns (an AE or a VAE each), named as the window names them.
"""

from __future__ import annotations

import html
import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from vae_gui.controllers.evidence import EvidenceController
from vae_gui.explorer_state import DEFAULT_NAMES, ExplorerState
from vae_gui.model.pair import SLOTS
from vae_gui.views.log_axis import LogAxis
from vae_gui.views.palette import COLUMN_COLORS

SECTION_ROWS = {
    "normal": "How normal is each latent space?",
    "samples": "Do decoded prior samples look like data, and all of it?",
    "bound": "How good is the VAE's bound? (nats per image)",
    "bounds": "How good is each VAE's bound? (nats per image)",
}
SPLIT_NAMES = {"train": "training", "test": "test"}


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _num(x: float, digits: int = 2) -> str:
    if not math.isfinite(x):
        return "not finite"
    return f"{x:.{digits}f}" if abs(x) < 1e4 else f"{x:.3g}"


class EvidenceTab(QtWidgets.QWidget):
    """A table of left | right | reference figures and two plots of them over the run."""

    title = "Evidence"

    def __init__(self, state: ExplorerState, controller: EvidenceController) -> None:
        super().__init__()
        self.state = state
        self.controller = controller
        self.caption = QtWidgets.QLabel("Measuring\u2026")
        self.caption.setWordWrap(True)
        self.caption.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        # A rich-text table that wraps to the side panel's width; every cell is escaped, as
        # class names come from folders and files.
        self.table = QtWidgets.QLabel()
        self.table.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.table.setWordWrap(True)
        self.table.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop)
        self.table.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        scroll = QtWidgets.QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        scroll.setWidget(self.table)
        self.history_note = QtWidgets.QLabel("These figures are measured while this tab is "
                                             "open; train with it open to plot them by epoch.")
        self.history_note.setWordWrap(True)
        self.history_note.setStyleSheet("color:#555")
        # Short titles: the side panel is narrow; the table above names each figure in full.
        self.normal_plot = self._plot("KL to N(0, I), log", log=True)
        self.gap_plot = self._plot("ELBO gap (VAE)")
        # One curve a column ("left", "right"), named after the column's model.
        self.normal_curves = {slot: self._curve(self.normal_plot, DEFAULT_NAMES[slot],
                                                COLUMN_COLORS[slot]) for slot in SLOTS}
        # One curve a VAE column and split ((slot, "train" or "test")), made as needed.
        self.gap_curves: dict[tuple[str, str], pg.PlotDataItem] = {}
        plots = QtWidgets.QHBoxLayout()
        plots.addWidget(self.normal_plot)
        plots.addWidget(self.gap_plot)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.caption)
        layout.addWidget(scroll, 3)
        layout.addWidget(self.history_note)
        layout.addLayout(plots, 2)
        controller.measured.connect(lambda _e: self.refresh())
        controller.status.connect(self._on_status)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.controller.set_active(True)

    def hideEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().hideEvent(event)
        self.controller.set_active(False)

    def _plot(self, title: str, log: bool = False) -> pg.PlotWidget:
        axes = {"left": LogAxis("left")} if log else None
        plot = pg.PlotWidget(background="w", axisItems=axes, enableMenu=False)
        plot.setTitle(title, size="8pt", color="#333")
        plot.setLabel("bottom", "epoch")
        plot.addLegend(offset=(-5, 5), labelTextSize="8pt")
        plot.setLogMode(y=log)
        plot.setMouseEnabled(False, False)
        plot.hideButtons()
        plot.setMinimumSize(160, 110)
        return plot

    @staticmethod
    def _curve(plot: pg.PlotWidget, name: str, color: str,
               dashed: bool = False) -> pg.PlotDataItem:
        style = QtCore.Qt.PenStyle.DashLine if dashed else QtCore.Qt.PenStyle.SolidLine
        return plot.plot(pen=pg.mkPen(color, width=2, style=style), name=name, symbol="o",
                         symbolSize=4, symbolBrush=color)

    def _on_status(self, text: str) -> None:
        if self.controller.latest is None:
            self.caption.setText(text)

    def rows(self) -> list[tuple[str, str, str, str]]:
        """(figure, left column, right column, reference) for every row the table shows, in
        order; "-" where a column's model has no such figure."""
        e = self.controller.latest
        if e is None:
            return []
        return self._normal_rows(e) + self._sample_rows(e) + self._bound_rows(e)

    @staticmethod
    def _normal_rows(e) -> list[tuple[str, str, str, str]]:
        ring = ("outside the 3\u03c3 ring" if e.latent_dim == 2 else
                f"outside radius {e.ring_radius:.2f} (the prior's 98.9% ball)")
        left, right = (c.normality for c in e.columns)
        return [
            (SECTION_ROWS["normal"], "", "", ""),
            ("moment-matched KL to N(0, I), nats", _num(left.moment_kl), _num(right.moment_kl),
             "0 for N(0, I)"),
            ("MMD\u00b2 to N(0, I) draws", _num(left.mmd, 4), _num(right.mmd, 4),
             f"noise floor {_num(e.mmd_floor, 4)}"),
            (ring, _pct(left.outside_share), _pct(right.outside_share),
             f"prior {_pct(e.prior_outside_share)}"),
        ]

    def _sample_rows(self, e) -> list[tuple[str, str, str, str]]:
        a, b = (c.samples for c in e.columns)
        if a is None or b is None:
            return []
        names = self.state.class_names

        def common(j) -> str:
            name = names[j.largest_class] if j.largest_class < len(names) else "?"
            return f"{name}: {_pct(j.largest_share)}"

        return [
            (SECTION_ROWS["samples"], "", "", ""),
            (f"classifier confidence ({a.n_samples} samples)", _num(a.mean_confidence),
             _num(b.mean_confidence), "1 = sure"),
            ("variety: entropy of the classes, nats", _num(a.entropy_nats),
             _num(b.entropy_nats), f"max {_num(a.max_entropy_nats)}"),
            ("most common class", common(a), common(b),
             f"{_pct(1 / max(len(a.class_counts), 1))} if even"),
        ]

    @staticmethod
    def _bound_rows(e) -> list[tuple[str, str, str, str]]:
        bounds = [c.bound for c in e.columns]
        measured = [b for b in bounds if b is not None]
        if not measured:
            return []
        first = measured[0]

        def cells(train: str, test: str) -> tuple[str, str]:
            """Each column's "training / test" figure, "-" for a column without a bound."""
            return tuple("-" if b is None else
                         f"{_num(getattr(b, train), 1)} / {_num(getattr(b, test), 1)}"
                         for b in bounds)

        title = SECTION_ROWS["bounds" if len(measured) > 1 else "bound"]
        return [
            (title, "", "", ""),
            (f"-ELBO ({first.n_samples} samples), training / test",
             *cells("train_nelbo", "test_nelbo"), f"{first.n_images} images"),
            ("exact -log p(x) by quadrature", *cells("train_nll", "test_nll"),
             "the bound's target"),
            ("gap = mean KL(q(z|x) \u2016 p(z|x))", *cells("train_gap", "test_gap"),
             "0 if q were exact"),
        ]

    def refresh(self) -> None:
        e = self.controller.latest
        if e is None:
            return
        self.caption.setText(_caption(e))
        head = "".join(f"<th align='right' style='color:{COLUMN_COLORS[c.slot]}'>"
                       f"{html.escape(c.name)}</th>" for c in e.columns)
        cells = ["<table cellspacing='0' cellpadding='3' width='100%'>",
                 f"<tr><th></th>{head}<th align='right'>reference</th></tr>"]
        for label, left, right, ref in self.rows():
            if label in SECTION_ROWS.values():
                cells.append(f"<tr><td colspan='4' style='padding-top:6px'><b>"
                             f"{html.escape(label)}</b></td></tr>")
            else:
                cells.append("<tr>" + f"<td>{html.escape(label)}</td>" + "".join(
                    f"<td align='right'>{html.escape(c)}</td>" for c in (left, right))
                    + f"<td align='right' style='color:#555'>{html.escape(ref)}</td></tr>")
        self.table.setText("".join(cells) + "</table>")
        self._plot_history()

    def _name_curves(self, e) -> None:
        """Names the normal plot's curves after the columns on screen (a new pair renames
        them), and keeps a gap curve for each split of each column with a bound."""
        for column in e.columns:
            curve = self.normal_curves[column.slot]
            if curve.name() != column.name:
                self.normal_plot.removeItem(curve)
                self.normal_curves[column.slot] = self._curve(
                    self.normal_plot, column.name, COLUMN_COLORS[column.slot])
        with_bound = [c for c in e.columns if c.bound is not None]
        wanted = {}
        for column in with_bound:
            for split, split_name in SPLIT_NAMES.items():
                # One VAE: "training" and "test"; two: each named after its column too.
                name = split_name if len(with_bound) == 1 else f"{column.name} {split_name}"
                wanted[(column.slot, split)] = (name, split == "train")
        for key, curve in list(self.gap_curves.items()):
            if key not in wanted or curve.name() != wanted[key][0]:
                self.gap_plot.removeItem(self.gap_curves.pop(key))
        for key, (name, dashed) in wanted.items():
            if key not in self.gap_curves:
                self.gap_curves[key] = self._curve(self.gap_plot, name, COLUMN_COLORS[key[0]],
                                                   dashed)

    def _plot_history(self) -> None:
        history = self.controller.history
        if self.controller.latest is not None:
            self._name_curves(self.controller.latest)
        epochs = np.array([e.epoch for e in history], dtype=float)
        for i, slot in enumerate(SLOTS):
            # The log axis needs positive values; a KL of 0 would only happen for N(0, I).
            kl = np.array([e.columns[i].normality.moment_kl for e in history], dtype=float)
            self.normal_curves[slot].setData(epochs, np.clip(kl, 1e-4, None))
        for (slot, split), curve in self.gap_curves.items():
            i = SLOTS.index(slot)
            bounds = [(e.epoch, e.columns[i].bound) for e in history
                      if e.columns[i].bound is not None]
            curve.setData(np.array([t for t, _ in bounds], dtype=float),
                          np.array([getattr(b, f"{split}_gap") for _, b in bounds],
                                   dtype=float))
        several = len(history) > 1  # one point (loaded models) makes no curve
        bound_points = max((sum(e.columns[i].bound is not None for e in history)
                            for i in range(len(SLOTS))), default=0)
        self.normal_plot.setVisible(several)
        self.gap_plot.setVisible(several and bound_points > 1)
        self.history_note.setVisible(not several)


def _caption(e) -> str:
    """What the figures were measured on, and which points stand for a VAE's latent space."""
    text = f"Measured on the {e.n_points:,} encoded test images on screen, epoch {e.epoch:.1f}"
    vaes = sum(c.kind == "vae" for c in e.columns)
    if not vaes:
        return text + "."
    whose = "the VAE's" if vaes == 1 else "each VAE's"
    return (f"{text}; {whose} points are one draw of q(z|x) per image (the aggregate "
            "posterior, which is what should match the prior).")
