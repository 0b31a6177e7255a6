"""One column of the window: everything shown for one model (the AE or the VAE)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from vae_gui.model.latent import Projection, certainty_opacity, decode_images, kl_per_dimension
from vae_gui.views.decoded_image import DecodedImage
from vae_gui.views.histograms import MarginalHistograms
from vae_gui.views.latent_plot import LatentPlot
from vae_gui.views.loss_curves import LossCurves
from vae_gui.views.palette import AE_COLOR, VAE_COLOR, legend_html
from vae_gui.views.prior_panel import PriorPanel

if TYPE_CHECKING:
    from vae_gui.model.training import Snapshot

TITLES = {
    "ae": ("Autoencoder (AE)", "z = encoder(x): one point per image, no prior, no KL term",
           AE_COLOR),
    "vae": ("Variational autoencoder (VAE)",
            "q(z|x) = N(\u03bc(x), \u03c3(x)\u00b2): the plot shows \u03bc; KL pulls it to N(0, I)",
            VAE_COLOR),
}


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
        self.setMinimumWidth(110)

    def set_kl(self, kl: np.ndarray) -> None:
        x = np.arange(1, len(kl) + 1)
        self.bars.setOpts(x=x, height=kl, width=0.7)
        self.getPlotItem().setXRange(0.4, len(kl) + 0.6, padding=0)
        self.getPlotItem().setYRange(0, max(float(np.max(kl, initial=0)) * 1.1, 0.1),
                                     padding=0)
        axis = self.getPlotItem().getAxis("bottom")
        step = max(1, len(kl) // 8)
        axis.setTicks([[(int(i), f"z{i}") for i in x[::step]]])


class ModelColumn(QtWidgets.QWidget):
    """Latent plot, prior, decoded image, marginal histograms and loss curves of one model."""

    def __init__(self, which: str, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.which = which
        title, subtitle, color = TITLES[which]
        self.model = None
        self.image_shape: tuple[int, int] = (28, 28)
        self.projection: Projection | None = None
        self.codes = np.zeros((0, 2), dtype=np.float32)

        heading = QtWidgets.QLabel(f"<b style='color:{color}; font-size:13pt'>{title}</b>"
                                   f"<br><span style='color:#555'>{subtitle}</span>")
        heading.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.legend = QtWidgets.QLabel("")
        self.legend.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.legend.setFixedHeight(24)  # one line, so both columns keep the same layout
        self._legend_for: tuple[str, ...] = ()
        self._plot_title = f"latent space ({'codes' if which == 'ae' else 'means'})"
        self.latent_plot = LatentPlot(self._plot_title)
        self._plot_note = ""
        self.decoded = DecodedImage("decoded at<br>the cursor")
        self.prior = PriorPanel()
        self.histograms = MarginalHistograms(color)
        self.loss_curves = LossCurves(which)

        side = QtWidgets.QVBoxLayout()
        side.setContentsMargins(0, 0, 0, 0)
        side.addWidget(self.decoded, 3)
        side.addWidget(self.prior, 2)
        top = QtWidgets.QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.latent_plot, 3)
        top.addLayout(side, 1)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(heading)
        layout.addWidget(self.legend)
        layout.addLayout(top, 5)
        hist_label = QtWidgets.QLabel("marginals of the encoded test set (bars) vs N(0, 1) "
                                      "(dashed)")
        hist_label.setStyleSheet("color:#555")
        layout.addWidget(hist_label)
        lower = QtWidgets.QHBoxLayout()
        lower.addWidget(self.histograms, 3)
        if which == "vae":
            self.kl_bars: KLBars | QtWidgets.QLabel = KLBars()
        else:
            self.kl_bars = QtWidgets.QLabel("KL per dimension:\nnone, the AE has\nno prior")
            self.kl_bars.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
            self.kl_bars.setStyleSheet("color:#777")
        lower.addWidget(self.kl_bars, 1)
        layout.addLayout(lower, 1)
        layout.addWidget(self.loss_curves, 2)

    def show_snapshot(self, snapshot: Snapshot, projection: Projection,
                      class_names: tuple[str, ...], image_shape: tuple[int, int],
                      fade_uncertain: bool = False) -> None:
        """Redraws the cloud from `snapshot` (the panels: `show_panels`)."""
        self.model = snapshot.ae if self.which == "ae" else snapshot.vae
        self.codes = snapshot.ae_codes if self.which == "ae" else snapshot.vae_mu
        self.image_shape = image_shape
        self.projection = projection
        self.latent_plot.set_classes(class_names)
        if class_names != self._legend_for:
            self._legend_for = class_names
            self.legend.setText(legend_html(class_names))
        alpha = None
        if fade_uncertain and self.which == "vae":
            alpha = certainty_opacity(snapshot.vae_logvar)
        self.latent_plot.set_points(projection.to_plane(self.codes), snapshot.labels, alpha)
        self.latent_plot.set_prior_center(tuple(projection.prior_center()))
        # Above two dimensions, say how the plane was chosen and where the rest of z sits.
        note = projection.description if projection.latent_dim > 2 else ""
        if note != self._plot_note:
            self._plot_note = note
            title = self._plot_title + (f"<br><span style='font-size:8pt; color:#555'>{note}"
                                        "</span>" if note else "")
            self.latent_plot.plot_item.setTitle(title)

    def show_panels(self, snapshot: Snapshot) -> None:
        """Redraws the histograms, KL bars and loss curves from `snapshot`."""
        self.histograms.set_codes(self.codes)
        if isinstance(self.kl_bars, KLBars):
            self.kl_bars.set_kl(kl_per_dimension(snapshot.vae_mu, snapshot.vae_logvar))
        self.loss_curves.set_snapshot(snapshot, snapshot.steps_per_epoch)

    def decode_at(self, z: np.ndarray) -> None:
        """Decodes the full latent point z and shows it; the cursor's plane point is z's image."""
        if self.model is None:
            return
        self.decoded.set_image(decode_images(self.model, z, self.image_shape)[0])
        shown = ", ".join(f"{v:+.2f}" for v in z[:2]) + (", \u2026" if len(z) > 2 else "")
        self.decoded.set_caption(f"decoded at<br>z = ({shown})")
        xy = self.projection.to_plane(z) - self.projection.prior_center()
        self.prior.set_marker(float(xy[0]), float(xy[1]))
