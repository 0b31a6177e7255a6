"""Keeps the two latent plots in step: cursors (linked or not), axes (same scale or not),
fitting the view to the clouds, and inspecting a clicked point."""

from __future__ import annotations

import numpy as np

from vae_gui.explorer_state import MODELS, ExplorerState
from vae_gui.views.latent_plot import LatentPlot

FIT_MARGIN = 3.2  # the view always holds the prior's 3 sigma ring, with a little room
# While training, a plot refits only once its cloud's box has moved by more than this share of
# its size: a relayout of both axes per snapshot costs milliseconds and shifts the ground under a
# dragged cursor.
FOLLOW_TOLERANCE = 0.05


def other(which: str) -> str:
    return "right" if which == "left" else "left"


class PlotLinking:
    """Turns drags and clicks on the plots into state changes, and state changes into
    cursor positions and view ranges."""

    def __init__(self, state: ExplorerState, plots: dict[str, LatentPlot]) -> None:
        self.state = state
        self.plots = plots
        self._syncing_views = False
        for which, plot in plots.items():
            plot.cursor_moved.connect(lambda x, y, w=which: self._on_cursor_dragged(w, x, y))
            plot.point_clicked.connect(state.inspect)
            plot.drag_finished.connect(state.release_updates)
            plot.view_box.sigRangeChanged.connect(self._on_view_range_changed)
        state.models_changed.connect(self._on_models_changed)
        state.options_changed.connect(self._on_options_changed)
        self._options = state.options
        self._refit = False

    def _on_models_changed(self, refit: bool) -> None:
        self._refit = self._refit or refit  # a refit asked for waits for its turn too
        self.state.update_view(self, self._fit_and_decode)

    def _fit_and_decode(self) -> None:
        refit, self._refit = self._refit, False
        if refit:
            self.fit()
        elif self.plots["left"].follows_data:  # training moves the cloud: follow it loosely
            self.fit(tolerance=FOLLOW_TOLERANCE)
        self.decode_cursors()

    def _on_options_changed(self) -> None:
        old, new = self._options, self.state.options
        self._options = new
        if new.link_cursors and not old.link_cursors:
            x, y = self.plots["right"].cursor_position()
            self._on_cursor_dragged("right", x, y)
        if new.same_scale != old.same_scale:
            self.fit()

    def decode_cursors(self) -> None:
        """Each cursor's z from where it sits in its plane (the projection may have moved)."""
        if self.state.snapshot is None:
            return
        for which in MODELS:
            x, y = self.plots[which].cursor_position()
            self.state.move_cursor(which, self.state.projections[which].from_plane(
                np.array([x, y])))

    def _on_cursor_dragged(self, which: str, x: float, y: float) -> None:
        if self.state.snapshot is None:
            return
        self.state.hold_updates()  # while training: no redraw between this move and the next
        z = self.state.projections[which].from_plane(np.array([x, y]))
        self.state.move_cursor(which, z)
        if self.state.options.link_cursors:
            twin = other(which)
            self.plots[twin].set_cursor(*self.state.projections[twin].to_plane(z))
            self.state.move_cursor(twin, z)

    def fit(self, tolerance: float = 0.0) -> None:
        """Fits each plot to its cloud (1st to 99th percentile) and the prior's 3 sigma ring;
        with the same scale, both plots get the union. A plot whose box moved by at most
        `tolerance` of its size keeps its view (LatentPlot.fit)."""
        state = self.state
        if state.snapshot is None:
            return
        bounds = {}
        for which in MODELS:
            projection = state.projections[which]
            center = projection.prior_center()
            lo, hi = center - FIT_MARGIN, center + FIT_MARGIN
            xy = projection.to_plane(state.plotted(which))
            xy = xy[np.isfinite(xy).all(axis=1)]
            if len(xy):
                lo = np.minimum(lo, np.percentile(xy, 1, axis=0))
                hi = np.maximum(hi, np.percentile(xy, 99, axis=0))
            bounds[which] = (lo, hi)
        if state.options.same_scale:
            union = (np.minimum(bounds["left"][0], bounds["right"][0]),
                     np.maximum(bounds["left"][1], bounds["right"][1]))
            bounds = {"left": union, "right": union}
        for which, (lo, hi) in bounds.items():
            plot = self.plots[which]
            plot.fit(lo, hi, tolerance)
            # A cursor left outside the new view could not be dragged: bring it inside.
            x, y = plot.cursor_position()
            cx, cy = float(np.clip(x, lo[0], hi[0])), float(np.clip(y, lo[1], hi[1]))
            if (cx, cy) != (x, y):
                plot.set_cursor(cx, cy, notify=True)

    def _on_view_range_changed(self, view_box, *_args) -> None:
        """Same scale: a pan or zoom in one plot is copied to the other. (Qt's axis links
        fight the locked aspect ratio when the two plots differ in size by a pixel.)"""
        if self._syncing_views or not self.state.options.same_scale:
            return
        self._syncing_views = True
        try:
            (x0, x1), (y0, y1) = view_box.viewRange()
            for plot in self.plots.values():
                if plot.view_box is not view_box:
                    plot.view_box.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)
        finally:
            self._syncing_views = False
