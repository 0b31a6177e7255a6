"""The manifold: a grid of latent points decoded as one mosaic, as in Kingma and Welling's
figure 4. Shown in its Tools tab and, with View ▸ Manifold, under each plot's points; both
use `manifold_mosaic`."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from vae_gui.explorer_state import DEFAULT_NAMES, MODELS, ExplorerState
from vae_gui.model.latent import (
    Projection,
    axis_names,
    decode_images,
    even_grid,
    mosaic,
    prior_quantile_grid,
)
from vae_gui.workers.pacing import debounced

Region = tuple[tuple[float, float], tuple[float, float]]  # (x0, y0), (x1, y1) in the plane
SPACINGS = ("prior quantiles (covers N(0, I)'s mass)", "visible region")
OVERLAY_GRID = 20


def manifold_mosaic(model, projection: Projection, image_shape: tuple[int, int], n: int,
                    region: Region | None = None) -> np.ndarray:
    """An n x n mosaic of decoded grid points, top row first: evenly over `region` of the
    plane, or at the prior's quantiles (equal mass per cell) when `region` is None."""
    xy = grid_plane_points(projection, n, region)
    return mosaic(decode_images(model, projection.from_plane(xy), image_shape), n, n)


def grid_plane_points(projection: Projection, n: int, region: Region | None) -> np.ndarray:
    """The n x n plane points of the grid `manifold_mosaic` decodes, top row first."""
    if region is None:
        return prior_quantile_grid(n) + projection.prior_center()
    return even_grid(region[0], region[1], n)


class MosaicPlot(pg.PlotWidget):
    """A manifold mosaic with axes: each tile at its place in the grid, the ticks naming the
    plane coordinates of the tiles' centres (unevenly spaced for prior quantiles)."""

    MAX_TICKS = 7

    def __init__(self, title: str, parent=None) -> None:
        super().__init__(parent=parent, background="w", enableMenu=False)
        item = self.getPlotItem()
        item.setTitle(title, size="9pt")
        item.setMouseEnabled(False, False)
        item.hideButtons()
        item.getViewBox().setAspectLocked(True)
        self.image = pg.ImageItem(axisOrder="row-major", levels=(0, 1))
        item.addItem(self.image)
        self.setMinimumSize(160, 160)
        self.tick_values: tuple[list[str], list[str]] = ([], [])

    def set_mosaic(self, tiles: np.ndarray, n: int, xy: np.ndarray, labels: tuple[str, str]):
        """`tiles` from manifold_mosaic; `xy` the grid's plane points (n * n, top row first)."""
        # Tile units: tile (row r, column c) covers [c, c + 1] x [n - r - 1, n - r].
        self.image.setImage(tiles[::-1], levels=(0, 1), autoLevels=False)
        self.image.setRect(QtCore.QRectF(0, 0, n, n))
        xs, ys = xy[:n, 0], xy[::n, 1][::-1]  # centres left to right, bottom to top
        step = max(1, int(np.ceil(n / self.MAX_TICKS)))
        picks = range(0, n, step)
        x_ticks = [(i + 0.5, f"{xs[i]:.2g}") for i in picks]
        y_ticks = [(i + 0.5, f"{ys[i]:.2g}") for i in picks]
        item = self.getPlotItem()
        item.getAxis("bottom").setTicks([x_ticks])
        item.getAxis("left").setTicks([y_ticks])
        item.setLabel("bottom", labels[0])
        item.setLabel("left", labels[1])
        item.getViewBox().setRange(xRange=(0, n), yRange=(0, n), padding=0.01)
        self.tick_values = ([t for _, t in x_ticks], [t for _, t in y_ticks])


class ManifoldTab(QtWidgets.QWidget):
    """One model's manifold at the tab's full width (or both, one above the other), with
    axes in latent coordinates, at a chosen grid size and spacing."""

    title = "Manifold"
    # The model selector's entries: the right column's model first (the VAE of the default
    # pair), then the left one's, then both; named after what the columns hold.
    SHOWN = ("right", "left", "both")

    def __init__(self, state: ExplorerState, region_of: Callable[[str], Region]) -> None:
        super().__init__()
        self.state = state
        self.region_of = region_of
        self.spacing = QtWidgets.QComboBox()
        self.spacing.addItems(SPACINGS)
        self.spacing.currentIndexChanged.connect(lambda _: self.refresh())
        self.size = QtWidgets.QSpinBox(minimum=3, maximum=30, value=15)
        self.size.valueChanged.connect(lambda _: self.refresh())
        self.shown = QtWidgets.QComboBox()
        self.shown.addItems([DEFAULT_NAMES.get(w, w) for w in self.SHOWN])
        self.shown.currentIndexChanged.connect(lambda _: self.refresh())
        row = QtWidgets.QHBoxLayout()
        for widget in (QtWidgets.QLabel("Model"), self.shown, QtWidgets.QLabel("grid"),
                       self.size):
            row.addWidget(widget)
        row.addStretch(1)
        spacing_row = QtWidgets.QHBoxLayout()
        spacing_row.addWidget(QtWidgets.QLabel("Spacing"))
        spacing_row.addWidget(self.spacing, 1)
        self.views = {w: MosaicPlot(f"{DEFAULT_NAMES[w]}: decoded grid") for w in MODELS}
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(row)
        layout.addLayout(spacing_row)
        for view in self.views.values():
            layout.addWidget(view, 1)
        self.views["left"].hide()  # the right column's first, as the model selector says

    def _name_models(self) -> None:
        """The selector's entries and the mosaics' titles, after the columns' models."""
        for k, which in enumerate(self.SHOWN[:2]):
            self.shown.setItemText(k, self.state.label(which))
            self.views[which].getPlotItem().setTitle(f"{self.state.name(which)}: decoded grid",
                                                     size="9pt")

    def refresh(self) -> None:
        state = self.state
        self._name_models()
        shown = self.SHOWN[self.shown.currentIndex()]
        wanted = {which: shown in ("both", which) for which in self.views}
        for which, view in self.views.items():
            view.setVisible(wanted[which])
        if state.snapshot is None:
            return
        n = self.size.value()
        for which, view in self.views.items():
            if not wanted[which]:
                continue
            region = None if self.spacing.currentIndex() == 0 else self.region_of(which)
            projection = state.projections[which]
            view.set_mosaic(manifold_mosaic(state.model(which), projection, state.image_shape,
                                            n, region),
                            n, grid_plane_points(projection, n, region),
                            axis_names(projection))


class ManifoldOverlay:
    """View ▸ Manifold over the plots: the mosaic of each plot's visible region, drawn under
    its points; it follows pans, zooms and training."""

    def __init__(self, state: ExplorerState, plots: dict) -> None:
        self.state = state
        self.plots = plots  # which -> LatentPlot
        self.items: dict[str, pg.ImageItem] = {}
        # Coalesces the many range changes of one pan or zoom into one redraw.
        self._draw_soon = debounced(self.draw, 60, parent=state)
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
