"""The manifold: a grid of latent points decoded as one mosaic, as in Kingma and Welling's
figure 4. Shown in its Tools tab and, with View ▸ Manifold, under each plot's points; both
use `manifold_mosaic`."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets
from superqt.utils import qdebounced

from vae_gui.explorer_state import ExplorerState
from vae_gui.model.latent import (
    Projection,
    decode_images,
    even_grid,
    mosaic,
    prior_quantile_grid,
)
from vae_gui.tools.image_pair import image_pair

Region = tuple[tuple[float, float], tuple[float, float]]  # (x0, y0), (x1, y1) in the plane
SPACINGS = ("prior quantiles (covers N(0, I)'s mass)", "visible region")
OVERLAY_GRID = 20


def manifold_mosaic(model, projection: Projection, image_shape: tuple[int, int], n: int,
                    region: Region | None = None) -> np.ndarray:
    """An n x n mosaic of decoded grid points, top row first: evenly over `region` of the
    plane, or at the prior's quantiles (equal mass per cell) when `region` is None."""
    if region is None:
        xy = prior_quantile_grid(n) + projection.prior_center()
    else:
        xy = even_grid(region[0], region[1], n)
    return mosaic(decode_images(model, projection.from_plane(xy), image_shape), n, n)


class ManifoldTab(QtWidgets.QWidget):
    """Both models' manifolds side by side, at a chosen grid size and spacing."""

    title = "Manifold"

    def __init__(self, state: ExplorerState, region_of: Callable[[str], Region]) -> None:
        super().__init__()
        self.state = state
        self.region_of = region_of
        self.spacing = QtWidgets.QComboBox()
        self.spacing.addItems(SPACINGS)
        self.spacing.currentIndexChanged.connect(lambda _: self.refresh())
        self.size = QtWidgets.QSpinBox(minimum=3, maximum=30, value=15)
        self.size.valueChanged.connect(lambda _: self.refresh())
        row = QtWidgets.QHBoxLayout()
        row.addWidget(QtWidgets.QLabel("Grid"))
        row.addWidget(self.size)
        row.addWidget(QtWidgets.QLabel("spacing"))
        row.addWidget(self.spacing, 1)
        box, self.views = image_pair("manifold")
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(box, 1)

    def refresh(self) -> None:
        state = self.state
        if state.snapshot is None:
            return
        for which, view in self.views.items():
            region = None if self.spacing.currentIndex() == 0 else self.region_of(which)
            view.set_image(manifold_mosaic(state.model(which), state.projections[which],
                                           state.image_shape, self.size.value(), region))


class ManifoldOverlay:
    """View ▸ Manifold over the plots: the mosaic of each plot's visible region, drawn under
    its points; it follows pans, zooms and training."""

    def __init__(self, state: ExplorerState, plots: dict) -> None:
        self.state = state
        self.plots = plots  # which -> LatentPlot
        self.items: dict[str, pg.ImageItem] = {}
        # Coalesces the many range changes of one pan or zoom into one redraw.
        self._draw_soon = qdebounced(self.draw, timeout=60, parent=state)
        for plot in plots.values():
            plot.view_box.sigRangeChanged.connect(self._on_range_changed)

    def _on_range_changed(self, *_args) -> None:
        if self.state.options.manifold_overlay:
            self._draw_soon()

    def stop(self) -> None:
        self._draw_soon.cancel()

    def draw(self) -> None:
        state = self.state
        on = state.options.manifold_overlay and state.snapshot is not None
        for which, plot in self.plots.items():
            plot.set_points_opacity(0.25 if on else 1.0)
            item = self.items.get(which)
            if not on:
                if item is not None:
                    item.setVisible(False)
                continue
            (x0, x1), (y0, y1) = plot.view_box.viewRange()
            tiles = manifold_mosaic(state.model(which), state.projections[which],
                                    state.image_shape, OVERLAY_GRID, ((x0, y0), (x1, y1)))
            if item is None:
                item = pg.ImageItem(axisOrder="row-major", levels=(0, 1))
                item.setZValue(-10)
                item.setOpacity(0.85)
                plot.plot_item.addItem(item, ignoreBounds=True)
                self.items[which] = item
            # Row 0 of the mosaic is the top of the view; ImageItem puts row 0 at y0.
            item.setImage(tiles[::-1], levels=(0, 1), autoLevels=False)
            item.setRect(QtCore.QRectF(x0, y0, x1 - x0, y1 - y0))
            item.setVisible(True)
