"""The Tools dock: prior samples, a manifold mosaic, inspecting a test point, interpolation
and drawing your own digit, each for both models at once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PySide6 import QtCore, QtWidgets

from vae_gui.model.latent import (
    Projection,
    decode_images,
    encode_images,
    even_grid,
    interpolate,
    mosaic,
    prior_quantile_grid,
    sample_prior,
)
from vae_gui.tools.draw_canvas import DrawCanvas
from vae_gui.views.decoded_image import DecodedImage

if TYPE_CHECKING:
    from vae_gui.model.training import Snapshot

MODELS = ("ae", "vae")
NAMES = {"ae": "AE", "vae": "VAE"}


@dataclass(frozen=True, eq=False)
class ToolContext:
    """What the tools need from the window: the newest models and how the plots map z."""

    snapshot: Snapshot
    image_shape: tuple[int, int]
    cloud_images: np.ndarray  # the test images behind the plotted points, in the same order
    class_names: tuple[str, ...]
    projections: dict[str, Projection]

    def model(self, which: str):
        return self.snapshot.ae if which == "ae" else self.snapshot.vae

    @property
    def latent_dim(self) -> int:
        return self.snapshot.ae_codes.shape[1]


def _pair(caption: str) -> tuple[QtWidgets.QWidget, dict[str, DecodedImage]]:
    """Two image views side by side, AE then VAE."""
    box = QtWidgets.QWidget()
    layout = QtWidgets.QHBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    views = {}
    for which in MODELS:
        views[which] = DecodedImage(f"{NAMES[which]}: {caption}")
        views[which].setMinimumSize(150, 170)
        layout.addWidget(views[which])
    return box, views


class SamplesTab(QtWidgets.QWidget):
    """The same draws z ~ N(0, I) decoded by both models: the VAE's look like data."""

    def __init__(self) -> None:
        super().__init__()
        self.seed = 0
        self.grid = 8
        self.button = QtWidgets.QPushButton("Draw new samples z ~ N(0, I)")
        self.button.clicked.connect(self.new_samples)
        note = QtWidgets.QLabel("The same z for both models. The VAE was trained to decode the "
                                "prior's typical points; the AE never saw most of them.")
        note.setWordWrap(True)
        box, self.views = _pair("decoded prior samples")
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.button)
        layout.addWidget(note)
        layout.addWidget(box, 1)
        self.ctx: ToolContext | None = None
        self.z: np.ndarray | None = None

    def new_samples(self) -> None:
        self.seed += 1
        self.z = None
        if self.ctx is not None:
            self.refresh(self.ctx)

    def refresh(self, ctx: ToolContext) -> None:
        self.ctx = ctx
        if self.z is None or self.z.shape[1] != ctx.latent_dim:
            self.z = sample_prior(self.grid * self.grid, ctx.latent_dim, self.seed)
        for which, view in self.views.items():
            images = decode_images(ctx.model(which), self.z, ctx.image_shape)
            view.set_image(mosaic(images, self.grid, self.grid, gap=1))


class ManifoldTab(QtWidgets.QWidget):
    """A grid of z decoded as one mosaic, as in Kingma and Welling's figure 4."""

    def __init__(self, region_of) -> None:
        super().__init__()
        self.region_of = region_of  # which -> ((x0, y0), (x1, y1)) visible in that plot
        self.spacing = QtWidgets.QComboBox()
        self.spacing.addItems(["prior quantiles (covers N(0, I)'s mass)", "visible region"])
        self.spacing.currentIndexChanged.connect(lambda _: self._refresh_again())
        self.size = QtWidgets.QSpinBox(minimum=3, maximum=30, value=15)
        self.size.valueChanged.connect(lambda _: self._refresh_again())
        row = QtWidgets.QHBoxLayout()
        row.addWidget(QtWidgets.QLabel("Grid"))
        row.addWidget(self.size)
        row.addWidget(QtWidgets.QLabel("spacing"))
        row.addWidget(self.spacing, 1)
        box, self.views = _pair("manifold")
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(box, 1)
        self.ctx: ToolContext | None = None

    def _refresh_again(self) -> None:
        if self.ctx is not None:
            self.refresh(self.ctx)

    def grid_points(self, which: str, ctx: ToolContext) -> np.ndarray:
        """The latent points decoded for `which`, rows from top to bottom."""
        n = self.size.value()
        projection = ctx.projections[which]
        if self.spacing.currentIndex() == 0:
            xy = prior_quantile_grid(n) + projection.prior_center()
        else:
            lo, hi = self.region_of(which)
            xy = even_grid(lo, hi, n)
        return projection.from_plane(xy)

    def refresh(self, ctx: ToolContext) -> None:
        self.ctx = ctx
        n = self.size.value()
        for which, view in self.views.items():
            images = decode_images(ctx.model(which), self.grid_points(which, ctx),
                                   ctx.image_shape)
            view.set_image(mosaic(images, n, n))


class InspectTab(QtWidgets.QWidget):
    """A test image beside its AE and VAE reconstructions (click a point in a plot)."""

    def __init__(self) -> None:
        super().__init__()
        self.label = QtWidgets.QLabel("Click a point in either latent plot to inspect it.")
        self.label.setWordWrap(True)
        row = QtWidgets.QHBoxLayout()
        self.views = {}
        for key, caption in (("original", "test image x"), ("ae", "AE reconstruction"),
                             ("vae", "VAE reconstruction")):
            self.views[key] = DecodedImage(caption)
            row.addWidget(self.views[key])
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addLayout(row, 1)
        self.index: int | None = None

    def refresh(self, ctx: ToolContext) -> None:
        if self.index is None or self.index >= len(ctx.cloud_images):
            return
        i = self.index
        s = ctx.snapshot
        self.views["original"].set_image(ctx.cloud_images[i])
        self.views["ae"].set_image(decode_images(s.ae, s.ae_codes[i], ctx.image_shape)[0])
        self.views["vae"].set_image(decode_images(s.vae, s.vae_mu[i], ctx.image_shape)[0])
        sigma = np.exp(0.5 * s.vae_logvar[i])
        label = ctx.class_names[int(s.labels[i])]
        self.label.setText(
            f"Test point {i}, class <b>{label}</b>. The VAE reconstruction decodes the mean "
            f"\u03bc; its posterior \u03c3 = ({', '.join(f'{v:.2f}' for v in sigma[:4])}"
            f"{', …' if len(sigma) > 4 else ''}) is the ellipse (\u03bc \u00b1 2\u03c3) "
            "on the VAE plot.")


class InterpolateTab(QtWidgets.QWidget):
    """Decoded images along a path between two pinned points, for both models."""

    path_changed = QtCore.Signal()

    def __init__(self, cursor_z, inspected_z) -> None:
        super().__init__()
        self.cursor_z = cursor_z  # () -> z at the cursor
        self.inspected_z = inspected_z  # () -> VAE mean of the inspected test point, or None
        self.ends: list[np.ndarray | None] = [None, None]
        buttons = QtWidgets.QGridLayout()
        for k, name in enumerate("AB"):
            b = QtWidgets.QPushButton(f"Pin cursor as {name}")
            b.clicked.connect(lambda _=False, k=k: self.pin(k, self.cursor_z()))
            buttons.addWidget(b, 0, k)
            t = QtWidgets.QPushButton(f"Inspected point as {name}")
            t.clicked.connect(lambda _=False, k=k: self.pin(k, self.inspected_z()))
            buttons.addWidget(t, 1, k)
        self.spherical = QtWidgets.QCheckBox("spherical (slerp)")
        self.spherical.toggled.connect(lambda _: self._changed())
        self.steps = QtWidgets.QSpinBox(minimum=3, maximum=20, value=10)
        self.steps.valueChanged.connect(lambda _: self._changed())
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.spherical)
        row.addWidget(QtWidgets.QLabel("steps"))
        row.addWidget(self.steps)
        self.note = QtWidgets.QLabel("Pin two end points: the path is drawn on both plots.")
        self.note.setWordWrap(True)
        self.strips = {}
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addLayout(row)
        layout.addWidget(self.note)
        for which in MODELS:
            self.strips[which] = DecodedImage(f"{NAMES[which]} along the path")
            self.strips[which].setMinimumHeight(90)
            layout.addWidget(self.strips[which], 1)
        self.ctx: ToolContext | None = None

    def pin(self, k: int, z: np.ndarray | None) -> None:
        if z is None:
            self.note.setText("Click a test point first, then pin it.")
            return
        self.ends[k] = np.asarray(z, dtype=np.float32).copy()
        self._changed()

    def path(self) -> np.ndarray | None:
        """The latent points along the path, or None until both ends are pinned."""
        a, b = self.ends
        if a is None or b is None or len(a) != len(b):
            return None
        return interpolate(a, b, self.steps.value(), self.spherical.isChecked())

    def _changed(self) -> None:
        if self.ctx is not None:
            self.refresh(self.ctx)
        self.path_changed.emit()

    def refresh(self, ctx: ToolContext) -> None:
        self.ctx = ctx
        path = self.path()
        if path is None or path.shape[1] != ctx.latent_dim:
            return
        self.note.setText("Path drawn on both plots (A: \u25cb, B: \u25a1).")
        for which, strip in self.strips.items():
            images = decode_images(ctx.model(which), path, ctx.image_shape)
            strip.set_image(mosaic(images, 1, len(path), gap=1))


class DrawTab(QtWidgets.QWidget):
    """Draw a digit: it is encoded live into both spaces and reconstructed by both models."""

    encoded = QtCore.Signal()

    def __init__(self) -> None:
        super().__init__()
        self.canvas = DrawCanvas()
        self.canvas.changed.connect(self._changed)
        clear = QtWidgets.QPushButton("Clear")
        clear.clicked.connect(self.canvas.clear)
        left = QtWidgets.QVBoxLayout()
        left.addWidget(self.canvas)
        left.addWidget(clear)
        left.addStretch(1)
        self.views = {w: DecodedImage(f"{NAMES[w]} reconstruction") for w in MODELS}
        row = QtWidgets.QHBoxLayout()
        row.addLayout(left)
        for view in self.views.values():
            row.addWidget(view, 1)
        note = QtWidgets.QLabel("Your drawing is marked \u2605 on both plots, with the VAE's "
                                "posterior ellipse (\u03bc \u00b1 2\u03c3).")
        note.setWordWrap(True)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(row, 1)
        layout.addWidget(note)
        self.ctx: ToolContext | None = None
        self.codes: dict[str, np.ndarray] = {}
        self.vae_logvar: np.ndarray | None = None

    def _changed(self) -> None:
        if self.ctx is not None:
            self.refresh(self.ctx)
        self.encoded.emit()

    def refresh(self, ctx: ToolContext) -> None:
        self.ctx = ctx
        self.canvas.set_shape(ctx.image_shape)
        if self.canvas.is_empty():
            self.codes, self.vae_logvar = {}, None
            for view in self.views.values():
                view.clear_image()
            return
        x = self.canvas.image[None]
        for which in MODELS:
            code, logvar = encode_images(ctx.model(which), x)
            self.codes[which] = code[0]
            if which == "vae":
                self.vae_logvar = logvar[0]
            self.views[which].set_image(decode_images(ctx.model(which), code, ctx.image_shape)[0])


class ToolsPanel(QtWidgets.QTabWidget):
    """The tools, as tabs; only the visible tab is refreshed on each snapshot."""

    def __init__(self, region_of, cursor_z, inspected_z, parent=None) -> None:
        super().__init__(parent)
        self.samples = SamplesTab()
        self.manifold = ManifoldTab(region_of)
        self.inspect = InspectTab()
        self.interpolate = InterpolateTab(cursor_z, inspected_z)
        self.draw = DrawTab()
        for tab, name in ((self.samples, "Prior samples"), (self.manifold, "Manifold"),
                          (self.inspect, "Inspect"), (self.interpolate, "Interpolate"),
                          (self.draw, "Draw")):
            self.addTab(tab, name)
        self.ctx: ToolContext | None = None
        self.currentChanged.connect(lambda _: self.refresh_current())

    def set_context(self, ctx: ToolContext) -> None:
        self.ctx = ctx
        self.refresh_current()

    def refresh_current(self) -> None:
        if self.ctx is not None and self.isVisible():
            self.currentWidget().refresh(self.ctx)

    def show_tab(self, tab: QtWidgets.QWidget) -> None:
        self.setCurrentWidget(tab)
        parent = self.parentWidget()
        while parent is not None and not isinstance(parent, QtWidgets.QDockWidget):
            parent = parent.parentWidget()
        if parent is not None:
            parent.show()
            parent.raise_()
        self.refresh_current()
