"""Tools ▸ Evidence: the lesson measured for both models, updated as the run goes.

Each figure is computed by model/evidence_report.py from the snapshot on screen; nothing
here is asserted in text without a number next to it.
"""

from __future__ import annotations

import html
import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from vae_gui.controllers.evidence import EvidenceController
from vae_gui.explorer_state import ExplorerState
from vae_gui.views.log_axis import LogAxis
from vae_gui.views.palette import AE_COLOR, PRIOR_COLOR, VAE_COLOR

SECTION_ROWS = {
    "normal": "How normal is each latent space?",
    "samples": "Do decoded prior samples look like data, and all of it?",
    "bound": "How good is the VAE's bound? (nats per image)",
}


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _num(x: float, digits: int = 2) -> str:
    if not math.isfinite(x):
        return "not finite"
    return f"{x:.{digits}f}" if abs(x) < 1e4 else f"{x:.3g}"


class EvidenceTab(QtWidgets.QWidget):
    """A table of AE | VAE | reference figures and two plots of them over the run."""

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
        self.normal_curves = {
            "ae": self.normal_plot.plot(pen=pg.mkPen(AE_COLOR, width=2), name="AE",
                                        symbol="o", symbolSize=4, symbolBrush=AE_COLOR),
            "vae": self.normal_plot.plot(pen=pg.mkPen(VAE_COLOR, width=2), name="VAE",
                                         symbol="o", symbolSize=4, symbolBrush=VAE_COLOR)}
        self.gap_curves = {
            "train": self.gap_plot.plot(pen=pg.mkPen(PRIOR_COLOR, width=2), name="training",
                                        symbol="o", symbolSize=4, symbolBrush=PRIOR_COLOR),
            "test": self.gap_plot.plot(pen=pg.mkPen(VAE_COLOR, width=2), name="test",
                                       symbol="o", symbolSize=4, symbolBrush=VAE_COLOR)}
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

    def _on_status(self, text: str) -> None:
        if self.controller.latest is None:
            self.caption.setText(text)

    def rows(self) -> list[tuple[str, str, str, str]]:
        """(figure, AE, VAE, reference) for every row the table shows, in order."""
        e = self.controller.latest
        if e is None:
            return []
        out = [(SECTION_ROWS["normal"], "", "", "")]
        ring = ("outside the 3\u03c3 ring" if e.latent_dim == 2 else
                f"outside radius {e.ring_radius:.2f} (the prior's 98.9% ball)")
        out += [
            ("moment-matched KL to N(0, I), nats", _num(e.ae.moment_kl), _num(e.vae.moment_kl),
             "0 for N(0, I)"),
            ("MMD\u00b2 to N(0, I) draws", _num(e.ae.mmd, 4), _num(e.vae.mmd, 4),
             f"noise floor {_num(e.mmd_floor, 4)}"),
            (ring, _pct(e.ae.outside_share), _pct(e.vae.outside_share),
             f"prior {_pct(e.prior_outside_share)}"),
        ]
        if e.ae_samples is not None and e.vae_samples is not None:
            names = self.state.class_names
            a, v = e.ae_samples, e.vae_samples

            def common(j) -> str:
                name = names[j.largest_class] if j.largest_class < len(names) else "?"
                return f"{name}: {_pct(j.largest_share)}"

            out += [
                (SECTION_ROWS["samples"], "", "", ""),
                (f"classifier confidence ({a.n_samples} samples)", _num(a.mean_confidence),
                 _num(v.mean_confidence), "1 = sure"),
                ("variety: entropy of the classes, nats", _num(a.entropy_nats),
                 _num(v.entropy_nats), f"max {_num(a.max_entropy_nats)}"),
                ("most common class", common(a), common(v),
                 f"{_pct(1 / max(len(a.class_counts), 1))} if even"),
            ]
        if e.bound is not None:
            b = e.bound
            out += [
                (SECTION_ROWS["bound"], "", "", ""),
                (f"-ELBO ({b.n_samples} samples), training / test", "-",
                 f"{_num(b.train_nelbo, 1)} / {_num(b.test_nelbo, 1)}", f"{b.n_images} images"),
                ("exact -log p(x) by quadrature", "-",
                 f"{_num(b.train_nll, 1)} / {_num(b.test_nll, 1)}", "the bound's target"),
                ("gap = mean KL(q(z|x) \u2016 p(z|x))", "-",
                 f"{_num(b.train_gap, 1)} / {_num(b.test_gap, 1)}", "0 if q were exact"),
            ]
        return out

    def refresh(self) -> None:
        e = self.controller.latest
        if e is None:
            return
        self.caption.setText(
            f"Measured on the {e.n_points:,} encoded test images on screen, epoch "
            f"{e.epoch:.1f}; the VAE's points are one draw of q(z|x) per image (the aggregate "
            "posterior, which is what should match the prior).")
        cells = ["<table cellspacing='0' cellpadding='3' width='100%'>",
                 f"<tr><th></th><th align='right' style='color:{AE_COLOR}'>AE</th>"
                 f"<th align='right' style='color:{VAE_COLOR}'>VAE</th>"
                 "<th align='right'>reference</th></tr>"]
        for label, ae, vae, ref in self.rows():
            if label in SECTION_ROWS.values():
                cells.append(f"<tr><td colspan='4' style='padding-top:6px'><b>"
                             f"{html.escape(label)}</b></td></tr>")
            else:
                cells.append("<tr>" + f"<td>{html.escape(label)}</td>" + "".join(
                    f"<td align='right'>{html.escape(c)}</td>" for c in (ae, vae))
                    + f"<td align='right' style='color:#555'>{html.escape(ref)}</td></tr>")
        self.table.setText("".join(cells) + "</table>")
        self._plot_history()

    def _plot_history(self) -> None:
        history = self.controller.history
        epochs = np.array([e.epoch for e in history], dtype=float)
        for which, curve in self.normal_curves.items():
            # The log axis needs positive values; a KL of 0 would only happen for N(0, I).
            kl = np.array([getattr(e, which).moment_kl for e in history], dtype=float)
            curve.setData(epochs, np.clip(kl, 1e-4, None))
        with_bound = [e for e in history if e.bound is not None]
        x = np.array([e.epoch for e in with_bound], dtype=float)
        self.gap_curves["train"].setData(x, np.array([e.bound.train_gap for e in with_bound]))
        self.gap_curves["test"].setData(x, np.array([e.bound.test_gap for e in with_bound]))
        several = len(history) > 1  # one point (loaded models) makes no curve
        self.normal_plot.setVisible(several)
        self.gap_plot.setVisible(several and len(with_bound) > 1)
        self.history_note.setVisible(not several)
