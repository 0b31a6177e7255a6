"""One column of the window: everything shown for one model (an AE or a VAE)."""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtWidgets

from vae_gui.explorer_state import DEFAULT_NAMES, ExplorerState
from vae_gui.model.export import class_name
from vae_gui.model.latent import (
    axis_names,
    certainty_opacity,
    decode_images,
    kl_per_dimension,
)
from vae_gui.views.decoded_image import DecodedImage
from vae_gui.views.histograms import MarginalHistograms
from vae_gui.views.hover_preview import HoverPreview
from vae_gui.views.kl_bars import KLBars
from vae_gui.views.latent_plot import LatentPlot
from vae_gui.views.loss_curves import LossCurves
from vae_gui.views.palette import COLUMN_COLORS, legend_html
from vae_gui.views.prior_panel import PriorPanel
from vae_gui.workers.pacing import throttled

TITLE_LINE_PX = 13  # pixels per 8 pt line of a plot title's note
LIVE_PANELS_MS = 1000  # while training: histograms, KL bars and loss curves once a second

# What a column says of the kind of model it holds: a title and a subtitle.
TITLES = {
    "ae": ("Autoencoder", "z = encoder(x): one point per image, no prior, no KL term"),
    "vae": ("Variational autoencoder",
            "q(z|x) = N(\u03bc(x), \u03c3(x)\u00b2): the plot shows \u03bc; KL pulls it to "
            "N(0, I)"),
}


def heading_html(kind: str, name: str, color: str) -> str:
    title, subtitle = TITLES[kind]
    return (f"<b style='color:{color}; font-size:13pt'>{title} ({name})</b>"
            f"<br><span style='color:#555'>{subtitle}</span>")


class ModelColumn(QtWidgets.QWidget):
    """Latent plot, prior, decoded image, marginal histograms and loss curves of one model;
    it draws what the explorer state holds for that model, when the state changes."""

    def __init__(self, which: str, state: ExplorerState,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.which = which
        self.state = state
        color = COLUMN_COLORS[which]
        self.kind = "vae" if which == "right" else "ae"  # before any snapshot: the default
        self._shown: tuple[str, str] | None = None  # the (kind, name) the column shows

        self.heading = heading = QtWidgets.QLabel()
        heading.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.legend = QtWidgets.QLabel("")
        self.legend.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.legend.setFixedHeight(24)  # one line, so both columns keep the same layout
        # However many or long the class names, the legend never widens the window: what
        # does not fit is cut off at the column's edge.
        self.legend.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored,
                                  QtWidgets.QSizePolicy.Policy.Fixed)
        self._legend_for: tuple[str, ...] = ()
        self._plot_title = "latent space"
        self.latent_plot = LatentPlot(self._plot_title)
        self._plot_note = ""
        # Two lines, "decoded at" and the cursor's z, rewritten on every move of a drag.
        self.decoded = DecodedImage("decoded at<br>the cursor", caption_lines=2)
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
        self.hist_label = QtWidgets.QLabel()
        self.hist_label.setStyleSheet("color:#555")
        self.hist_label.setWordWrap(True)
        layout.addWidget(self.hist_label)
        lower = QtWidgets.QHBoxLayout()
        lower.addWidget(self.histograms, 3)
        # A VAE's KL per dimension, or why an AE has none: one of the two is shown.
        self.kl_bars = KLBars()
        self.no_kl = QtWidgets.QLabel("KL per dimension:\nnone, an AE has\nno prior")
        self.no_kl.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.no_kl.setStyleSheet("color:#777")
        self.kl_stack = QtWidgets.QStackedWidget()
        self.kl_stack.addWidget(self.kl_bars)
        self.kl_stack.addWidget(self.no_kl)
        lower.addWidget(self.kl_stack, 1)
        layout.addLayout(lower, 1)
        layout.addWidget(self.loss_curves, 2)

        # While training, the panels follow at most once a second, in their own event-loop
        # turn, so that no single turn blocks the cursor for long; the last one is drawn.
        self._draw_panels_live = throttled(self.draw_panels, LIVE_PANELS_MS,
                                            parent=self)
        state.models_changed.connect(self._on_models_changed)
        state.cursor_changed.connect(self._on_cursor_changed)
        self.hover = HoverPreview(self.latent_plot)
        self.latent_plot.point_hovered.connect(self._on_point_hovered)
        self._show_model(self.kind, DEFAULT_NAMES[which])

    @property
    def variational(self) -> bool:
        return self.kind == "vae"

    def _show_model(self, kind: str, name: str) -> None:
        """The heading, plot title, KL panel and note for a model of this kind and name."""
        if self._shown == (kind, name):
            return
        self._shown = (kind, name)
        self.kind = kind
        self.heading.setText(heading_html(kind, name, COLUMN_COLORS[self.which]))
        self._plot_title = f"latent space ({'means' if kind == 'vae' else 'codes'})"
        self._plot_note = None  # the title is set anew at the next draw
        self.latent_plot.plot_item.setTitle(self._plot_title)
        self.kl_stack.setCurrentWidget(self.kl_bars if kind == "vae" else self.no_kl)
        self.hist_label.setText(self._marginals_text())

    def _on_models_changed(self, _refit: bool) -> None:
        column = self.state.column(self.which)
        self._show_model(column.spec.kind, column.name)
        self.state.update_view((self, "cloud"), self.draw_cloud)
        if self.state.live:
            self.state.update_view((self, "panels"), self._draw_panels_live)
        else:
            self._draw_panels_live.cancel()
            self.draw_panels()

    def flush(self) -> None:
        """Draws a pending live update of the panels now (when training stops)."""
        self._draw_panels_live.flush()

    def stop(self) -> None:
        """Drops pending redraws (the window is closing)."""
        self._draw_panels_live.cancel()

    def draw_cloud(self) -> None:
        """The encoded test set in this model's plot, with the prior's rings."""
        state = self.state
        snapshot, projection = state.snapshot, state.projections[self.which]
        self.latent_plot.set_classes(state.class_names)
        if state.class_names != self._legend_for:
            self._legend_for = state.class_names
            self.legend.setText(legend_html(state.class_names))
        alpha = None
        logvar = state.logvar(self.which)
        if state.options.fade_uncertain and logvar is not None:
            alpha = certainty_opacity(logvar)
        self.latent_plot.set_render_mode("density" if state.options.density else "auto")
        self.latent_plot.set_points(projection.to_plane(state.plotted(self.which)),
                                    snapshot.labels, alpha)
        self.latent_plot.set_prior_center(tuple(projection.prior_center()))
        self.latent_plot.set_axis_labels(*axis_names(projection))
        # The cloud's spread against the prior's (each plot has its own scale), and above two
        # dimensions how the plane was chosen and where the rest of z sits.
        spread = cloud_spread(state.plotted(self.which))
        note = f"spread {spread:.1f} (prior: 1)" if np.isfinite(spread) else ""
        if alpha is not None:
            rho = sigma_norm_correlation(state.encoded(self.which), logvar)
            if np.isfinite(rho):  # what the fading shows, measured: σ often tracks |μ|
                note += (f"<br>faint: wide q(z|x); correlation of σ with |μ| "
                         f"{rho:.2f}" + (", so mostly the outer points" if rho > 0.5 else ""))
        if projection.latent_dim > 2:  # on a line of its own: it is long
            note += f"<br>{projection.description}"
        if note != self._plot_note:
            self._plot_note = note
            title = self._plot_title + (f"<br><span style='font-size:8pt; color:#555'>{note}"
                                        "</span>" if note else "")
            item = self.latent_plot.plot_item
            item.setTitle(title)
            # pyqtgraph gives a title one 30 px row: room for each line of the note too.
            height = 30 + TITLE_LINE_PX * (note.count("<br>") + bool(note))
            item.titleLabel.setMaximumHeight(height)
            item.layout.setRowFixedHeight(0, height)

    def draw_panels(self) -> None:
        """Histograms of the plotted points, the KL bars and the loss curves (while training,
        each in an event-loop turn of its own: together they took 12 to 17 ms)."""
        if self.state.snapshot is None:
            return
        self.state.update_view((self, "histograms"), self._draw_histograms)
        if self.variational:
            self.state.update_view((self, "kl"), self._draw_kl_bars)
        self.state.update_view((self, "curves"), self._draw_loss_curves)

    def _draw_histograms(self) -> None:
        self.histograms.set_codes(self.state.marginal_points(self.which))
        self.hist_label.setText(self._marginals_text())

    def _draw_kl_bars(self) -> None:
        column = self.state.column(self.which)  # always from the posteriors, never samples
        if column.variational:
            self.kl_bars.set_kl(kl_per_dimension(column.mu, column.logvar))

    def _draw_loss_curves(self) -> None:
        s = self.state.snapshot
        self.loss_curves.set_snapshot(s, s.steps_per_epoch)

    def _marginals_text(self) -> str:
        """What the histograms show, in words."""
        if not self.variational:
            return "marginals of the AE's codes (bars) vs N(0, 1) (dashed)"
        if self.state.options.marginal_means:
            return ("marginals of the VAE's means μ alone (bars): narrower than the "
                    "aggregate posterior, which is what should match N(0, 1) (dashed)")
        return ("marginals of the aggregate posterior q(z), one z ~ q(z|x) per image (bars), "
                "vs N(0, 1) (dashed): var(μ) + mean σ² should be near 1")

    def _on_point_hovered(self, index: int, at: QtCore.QPoint) -> None:
        """The image under the mouse, with its split, index and class, beside the mouse."""
        state = self.state
        if index < 0 or state.origin is None or index >= len(state.origin.cloud_images):
            self.hover.hide_image()
            return
        label = class_name(state.class_names, int(state.snapshot.labels[index]))
        self.hover.show_image(index, state.origin.cloud_images[index],
                              f"{state.origin.cloud_images.cloud.name(index)}, class {label}",
                              at)

    def _on_cursor_changed(self, which: str) -> None:
        if which != self.which or self.state.snapshot is None:
            return
        z = self.state.cursors[which]
        projection = self.state.projections[which]
        self.decoded.set_image(decode_images(self.state.model(which), z,
                                             self.state.image_shape)[0])
        shown = ", ".join(f"{v:+.2f}" for v in z[:2]) + (", \u2026" if len(z) > 2 else "")
        self.decoded.set_caption(f"decoded at<br>z = ({shown})")
        xy = projection.to_plane(z) - projection.prior_center()
        self.prior.set_marker(float(xy[0]), float(xy[1]))


def sigma_norm_correlation(mu: np.ndarray, logvar: np.ndarray) -> float:
    """Pearson's correlation between each point's mean σ and its distance |μ| from the
    prior's centre; NaN when undefined."""
    with np.errstate(over="ignore", invalid="ignore"):
        sigma = np.exp(0.5 * np.asarray(logvar, np.float64)).mean(axis=1)
        norm = np.linalg.norm(np.asarray(mu, np.float64), axis=1)
        ok = np.isfinite(sigma) & np.isfinite(norm)
        if ok.sum() < 3 or sigma[ok].std() == 0 or norm[ok].std() == 0:
            return float("nan")
        return float(np.corrcoef(sigma[ok], norm[ok])[0, 1])


def cloud_spread(points: np.ndarray) -> float:
    """The root mean square, over dimensions, of the points' standard deviation: 1 for a
    sample of N(0, I), whatever the dimension; NaN when there are no finite points."""
    finite = points[np.isfinite(points).all(axis=1)]
    if len(finite) < 2:
        return float("nan")
    return float(np.sqrt(np.mean(np.var(finite.astype(np.float64), axis=0))))
