"""The latent plot: the encoded test set by class, the prior's rings and a draggable cursor."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from vae_gui.views.palette import CURSOR_COLOR, PRIOR_COLOR, class_colors

RING_SIGMAS = (1, 2, 3)


def ring_label(s: float) -> str:
    """A ring's radius and the prior's mass inside it. In a plane N(0, I) has the mass
    1 - exp(-s²/2) within s σ (39, 86, 99%), not the 68/95/99.7% of one dimension; an
    orthonormal projection of N(0, I) is N(0, I) in the plane, so this holds for every view."""
    return f"{s:g}\u03c3: {100 * -math.expm1(-s * s / 2):.0f}%"


AXIS_WIDTH = 52  # pixels: the label and ticks such as "-150" or "-1.5"
RING_LABEL_MIN_PX = 45  # a ring's radius on screen below which it goes unlabelled
MIN_SIDE = 220  # pixels: the smallest a latent plot gets, on a 1280x720 screen
NUDGE_FRACTION = 0.01  # of the visible width, per arrow-key press

POINT_SIZE = 4  # pixels, as the dots of pyqtgraph's ScatterPlotItem(size=4) that came before
POINT_ALPHA = 170
# Above this many points a cloud is drawn as a density image: one dot per point costs time in
# proportion to the points, and 200k overlapping dots are a blob whose colour is that of the
# class drawn last (benchmarks/bench_gui.py, "Latent plot refresh").
DENSITY_THRESHOLD = 50_000
DENSITY_BIN = 2  # pixels per side of a density cell
DENSITY_MIN_ALPHA = 0.45  # a cell with a single point
DENSITY_REF_PERCENTILE = 90  # cells at least this dense (among non-empty ones) are opaque
RENDER_MODES = ("auto", "points", "density")
GRID_COLORS = ("#d9d9d9", "#eeeeee")  # major, minor lines: black at 15% and 7% on white

# One C++ call for all dots. The array type is not public pyqtgraph API: pyproject pins the
# pyqtgraph versions tested, and tests/test_latent_plot.py checks that this path is in use.
from pyqtgraph.Qt.internals import PrimitiveArray  # noqa: E402

# A pixmap of the item in screen pixels, copied when something moves over it.
CACHED = QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache


class _CloudItem(pg.GraphicsObject):
    """Every class's points in one item, painted straight from numpy arrays.

    Replacing the points (`set_data`) only sorts them by class: pyqtgraph's ScatterPlotItem
    spends about a microsecond of Python per point there (its symbol atlas), which is more
    than a whole redraw here. Below `threshold` points each is a dot of its class colour,
    drawn as pixmap fragments (later classes on top, as separate items would be); above, the
    visible region is binned into cells of DENSITY_BIN pixels, each coloured by the mean of
    its points' class colours and as opaque as it is dense, re-binned when the view changes
    (the threshold counts the points in view, so that zooming in brings the dots back).
    """

    def __init__(self) -> None:
        super().__init__()
        self.setFlag(QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption)
        self.mode = "auto"
        self.threshold = DENSITY_THRESHOLD
        # The points sorted by class, stably: class by class, each in the order given.
        self._x = np.zeros(0)
        self._y = np.zeros(0)
        self._cls = np.zeros(0, dtype=np.intp)
        self._alpha: np.ndarray | None = None  # per-point opacity, or None for all opaque
        self._n_classes = 0
        self._bounds = QtCore.QRectF()
        self._pad: float | None = None  # dot radius in data units, for boundingRect
        self._rgb = np.zeros((0, 3), dtype=np.float32)
        self._atlas: QtGui.QPixmap | None = None
        self._atlas_dpr = 0.0
        self._colors: list[QtGui.QColor] = []
        self._fragments = PrimitiveArray(QtGui.QPainter.PixmapFragment, 10)
        self.fragments_drawn = 0  # dots painted by the last paint (for tests)
        self._version = 0
        self._density_key = None
        self._visible_key = None
        self._visible = 0
        self._density: tuple[QtGui.QImage, QtCore.QRectF, np.ndarray] | None = None
        self.last_drawn = "points"

    # --- data ---------------------------------------------------------------------------
    def set_colors(self, colors: list[QtGui.QColor]) -> None:
        self._colors = list(colors)
        self._n_classes = len(colors)
        self._rgb = np.array([[c.redF(), c.greenF(), c.blueF()] for c in colors],
                             dtype=np.float32).reshape(-1, 3)
        self._atlas = None
        self.set_data(np.zeros((0, 2)), np.zeros(0, dtype=np.intp))

    def set_data(self, xy: np.ndarray, labels: np.ndarray,
                 alpha: np.ndarray | None = None) -> None:
        xy = np.asarray(xy).reshape(-1, 2)
        labels = np.asarray(labels).reshape(-1)
        keep = (labels >= 0) & (labels < self._n_classes)
        if not keep.all():
            xy, labels = xy[keep], labels[keep]
            alpha = None if alpha is None else np.asarray(alpha)[keep]
        # A stable sort by class; numpy sorts small integer types by radix, in linear time.
        small = labels.astype(np.uint16 if self._n_classes > 255 else np.uint8)
        order = np.argsort(small, kind="stable")
        # Separate contiguous columns: reductions across (N, 2) rows are several times slower.
        self._x = np.take(xy[:, 0], order).astype(np.float64, copy=False)
        self._y = np.take(xy[:, 1], order).astype(np.float64, copy=False)
        self._cls = np.take(small, order).astype(np.intp)
        self._alpha = None if alpha is None else np.take(np.asarray(alpha, dtype=np.float64),
                                                         order)
        self.prepareGeometryChange()
        x, y = self._x, self._y
        bounds = (x.min(initial=np.inf), x.max(initial=-np.inf), y.min(initial=np.inf),
                  y.max(initial=-np.inf))
        if not all(map(math.isfinite, bounds)) and len(x):  # NaN or inf: bound the others
            finite = np.isfinite(x) & np.isfinite(y)
            x, y = x[finite], y[finite]
            bounds = (x.min(initial=np.inf), x.max(initial=-np.inf), y.min(initial=np.inf),
                      y.max(initial=-np.inf))
        if all(map(math.isfinite, bounds)):
            x0, x1, y0, y1 = bounds
            self._bounds = QtCore.QRectF(x0, y0, x1 - x0, y1 - y0)
        else:  # no finite point
            self._bounds = QtCore.QRectF()
        self._pad = None
        self._version += 1
        self.cache_if_dots()
        self.update()

    def cache_if_dots(self) -> None:
        """Keeps a pixmap of the dots while they can only be dots, so that the cursor's
        repaints copy it (the density image bins the visible region, so it is never kept)."""
        dots = self.mode == "points" or (self.mode == "auto" and self.count() <= self.threshold)
        self.setCacheMode(CACHED if dots else QtWidgets.QGraphicsItem.CacheMode.NoCache)

    def points(self) -> np.ndarray:
        return np.column_stack([self._x, self._y])

    def count(self) -> int:
        return len(self._x)

    def uses_density(self) -> bool:
        """In 'auto' mode, a density image while more than `threshold` points are in view:
        zoomed in on a big cloud, the few points in view are dots again."""
        if self.mode != "auto":
            return self.mode == "density"
        if self.count() <= self.threshold:
            return False
        rect = self._visible_rect()
        key = (self._version, rect.getRect())
        if key != self._visible_key:
            x, y = self._x, self._y
            self._visible = int(np.count_nonzero(
                (x >= rect.left()) & (x <= rect.right()) & (y >= rect.top())
                & (y <= rect.bottom())))
            self._visible_key = key
        return self._visible > self.threshold

    # --- geometry -------------------------------------------------------------------------
    def dataBounds(self, ax: int, frac: float = 1.0, orthoRange=None):  # noqa: N802 - pyqtgraph
        if self._bounds.isNull():
            return None, None
        if ax == 0:
            return self._bounds.left(), self._bounds.right()
        return self._bounds.top(), self._bounds.bottom()

    def viewTransformChanged(self) -> None:  # noqa: N802 - pyqtgraph's hook
        self.prepareGeometryChange()
        self._pad = None

    def boundingRect(self) -> QtCore.QRectF:  # noqa: N802 - Qt's API
        if self._bounds.isNull():
            return QtCore.QRectF()
        if self._pad is None:
            px, py = self.pixelVectors()
            self._pad = 0.0 if px is None else POINT_SIZE * max(px.length(), py.length())
        pad = self._pad
        return self._bounds.adjusted(-pad, -pad, pad, pad)

    # --- painting -------------------------------------------------------------------------
    def paint(self, p: QtGui.QPainter, option, widget=None) -> None:
        if not len(self._x):
            return
        if self.uses_density():
            self._paint_density(p)
            self.last_drawn = "density"
        else:
            self._paint_points(p, option, widget)
            self.last_drawn = "points"

    def _device_xy(self, t: QtGui.QTransform) -> tuple[np.ndarray, np.ndarray]:
        x, y = self._x, self._y
        with np.errstate(invalid="ignore"):  # inf * 0 is NaN, which is drawn nowhere
            return x * t.m11() + y * t.m21() + t.dx(), x * t.m12() + y * t.m22() + t.dy()

    def _atlas_for(self, dpr: float) -> QtGui.QPixmap:
        """One anti-aliased dot per class, side by side, at the device's pixel ratio."""
        if self._atlas is None or self._atlas_dpr != dpr:
            cell = math.ceil((POINT_SIZE + 2) * dpr)
            image = QtGui.QImage(cell * max(self._n_classes, 1), cell,
                                 QtGui.QImage.Format.Format_ARGB32_Premultiplied)
            image.fill(0)
            painter = QtGui.QPainter(image)
            painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
            painter.setPen(QtCore.Qt.PenStyle.NoPen)
            r = POINT_SIZE * dpr / 2
            for i, color in enumerate(self._colors):
                c = QtGui.QColor(color)
                c.setAlpha(POINT_ALPHA)
                painter.setBrush(c)
                painter.drawEllipse(QtCore.QPointF(i * cell + cell / 2, cell / 2), r, r)
            painter.end()
            self._atlas, self._atlas_dpr = QtGui.QPixmap.fromImage(image), dpr
        return self._atlas

    def _paint_points(self, p: QtGui.QPainter, option, widget) -> None:
        t = p.transform()
        x, y = self._device_xy(t)
        # Only the dots in the exposed region: dragging the cursor repaints a small one.
        exposed = t.mapRect(option.exposedRect) if option is not None else None
        r = POINT_SIZE
        if exposed is not None and not exposed.isEmpty():
            show = ((x >= exposed.left() - r) & (x <= exposed.right() + r)
                    & (y >= exposed.top() - r) & (y <= exposed.bottom() + r))
        else:
            show = np.isfinite(x) & np.isfinite(y)
        idx = np.flatnonzero(show)
        if not len(idx):
            return
        dpr = widget.devicePixelRatioF() if widget is not None else p.device().devicePixelRatioF()
        atlas = self._atlas_for(dpr)
        cell = atlas.height()
        p.resetTransform()
        self._fragments.resize(len(idx))
        frags = self._fragments.ndarray()
        frags[:, 0] = x[idx]  # the centre of each dot
        frags[:, 1] = y[idx]
        frags[:, 2] = self._cls[idx] * cell  # its class's dot in the atlas
        frags[:, 3] = 0
        frags[:, 4:6] = cell
        frags[:, 6:10] = (1 / dpr, 1 / dpr, 0.0, 1.0)  # scale x, scale y, rotation, opacity
        if self._alpha is not None:
            frags[:, 9] = self._alpha[idx]
        p.drawPixmapFragments(*self._fragments.drawargs(), atlas)
        self.fragments_drawn = len(idx)

    def _visible_rect(self) -> QtCore.QRectF:
        vb = self.getViewBox()
        return vb.viewRect() if vb is not None else self.boundingRect()

    def _paint_density(self, p: QtGui.QPainter) -> None:
        t = p.transform()
        target = t.mapRect(self._visible_rect())
        key = (self._version, t.m11(), t.m12(), t.m21(), t.m22(), t.dx(), t.dy(),
               target.x(), target.y(), target.width(), target.height())
        if key != self._density_key:
            self._density = self._rasterise(t, target)
            self._density_key = key
        if self._density is None:
            return
        image, rect, _buffer = self._density
        p.resetTransform()
        p.drawImage(rect, image)  # nearest-neighbour scaling: crisp cells

    def _rasterise(self, t: QtGui.QTransform, target: QtCore.QRectF):
        """Bins the points in `target` (device pixels) by class; an image of cell colours."""
        b = DENSITY_BIN
        left, top = math.floor(target.left()), math.floor(target.top())
        w = max(1, min(4096, math.ceil((target.right() - left) / b)))
        h = max(1, min(4096, math.ceil((target.bottom() - top) / b)))
        x, y = self._device_xy(t)
        n_classes = max(self._n_classes, 1)
        outside = n_classes * w * h  # one extra bin for points outside the region
        with np.errstate(invalid="ignore"):  # NaN becomes a huge negative integer
            ix = np.floor((x - left) * (1 / b)).astype(np.intp)
            iy = np.floor((y - top) * (1 / b)).astype(np.intp)
        # Negative integers read as unsigned are huge: one comparison per axis.
        inside = (ix.view(np.uintp) < w) & (iy.view(np.uintp) < h)
        flat = self._cls * (w * h) + iy * w + ix
        flat[~inside] = outside
        counts = np.bincount(flat, minlength=outside + 1)[:outside].reshape(n_classes, w * h)
        total = counts.sum(axis=0)
        nz = np.flatnonzero(total)
        buffer = np.zeros((h, w, 4), dtype=np.uint8)  # B, G, R, A, premultiplied
        if len(nz):
            n = total[nz].astype(np.float32)
            # The mean class colour of each cell; a loop over classes beats a (k, C) @ (C, 3)
            # matrix product by far for so few classes.
            rgb = np.zeros((3, len(nz)), dtype=np.float32)
            for c in range(n_classes):
                count = counts[c, nz]
                if count.any():
                    rgb += self._rgb[c][:, None] * count
            rgb /= n
            # Opacity grows with the log of the count; the densest 10% of cells are opaque.
            ref = max(float(np.percentile(n, DENSITY_REF_PERCENTILE)), 2.0)
            alpha = DENSITY_MIN_ALPHA + (1 - DENSITY_MIN_ALPHA) * np.minimum(
                np.log(n) / math.log(ref), 1.0)
            flat_image = buffer.reshape(-1, 4)
            scale = alpha * 255.0
            for channel, row in ((0, 2), (1, 1), (2, 0)):  # B, G, R
                flat_image[nz, channel] = (rgb[row] * scale + 0.5).astype(np.uint8)
            flat_image[nz, 3] = (scale + 0.5).astype(np.uint8)
        image = QtGui.QImage(buffer.data, w, h, 4 * w,
                             QtGui.QImage.Format.Format_ARGB32_Premultiplied)
        return image, QtCore.QRectF(left, top, w * b, h * b), buffer


class GridLines(pg.GraphicsObject):
    """Grid lines at a PlotItem's major and minor axis ticks, drawn opaque under the data.

    pyqtgraph's own grid (PlotItem.showGrid) draws translucent lines from the axes, which
    cost 5 to 10 ms per plot and repaint here; opaque lines of the same shade cost a small
    fraction of that, and look the same on a white background. The lines are computed once
    per view (dragging the cursor repaints the plot without moving them).
    """

    def __init__(self, plot_item: pg.PlotItem) -> None:
        super().__init__()
        self._plot_item = plot_item
        self._pens = [pg.mkPen(c, width=1) for c in GRID_COLORS]
        for pen in self._pens:
            pen.setCosmetic(True)
        self._key = None
        self._lines: list[list[QtCore.QLineF]] = [[], []]
        self.setZValue(-100)

    def boundingRect(self) -> QtCore.QRectF:  # noqa: N802 - Qt's API
        vb = self.getViewBox()
        return vb.viewRect() if vb is not None else QtCore.QRectF()

    def viewRangeChanged(self) -> None:  # noqa: N802 - pyqtgraph's hook
        self.prepareGeometryChange()
        self.update()

    def _compute(self, rect: QtCore.QRectF, t: QtGui.QTransform,
                 device: QtCore.QRectF) -> list[list[QtCore.QLineF]]:
        levels: list[list[QtCore.QLineF]] = [[], []]
        for axis_name, lo, hi, size in (("bottom", rect.left(), rect.right(), device.width()),
                                        ("left", rect.top(), rect.bottom(), device.height())):
            axis = self._plot_item.getAxis(axis_name)
            for level, (_spacing, values) in enumerate(axis.tickValues(lo, hi, size)[:2]):
                for v in values:
                    if axis_name == "bottom":
                        px = round(t.map(QtCore.QPointF(v, rect.top())).x()) + 0.5
                        levels[level].append(QtCore.QLineF(px, device.top(), px, device.bottom()))
                    else:
                        py = round(t.map(QtCore.QPointF(rect.left(), v)).y()) + 0.5
                        levels[level].append(QtCore.QLineF(device.left(), py, device.right(), py))
        return levels

    def paint(self, p: QtGui.QPainter, option, widget=None) -> None:
        vb = self.getViewBox()
        if vb is None:
            return
        rect = vb.viewRect()
        t = p.transform()
        device = t.mapRect(rect)
        if device.width() < 2 or device.height() < 2:
            return
        key = (rect.getRect(), device.getRect(), self._plot_item.getAxis("bottom").logMode,
               self._plot_item.getAxis("left").logMode)
        if key != self._key:
            self._lines, self._key = self._compute(rect, t, device), key
        p.resetTransform()
        for pen, lines in zip(reversed(self._pens), reversed(self._lines), strict=True):
            if lines:
                p.setPen(pen)
                p.drawLines(lines)


def nice_length(span: float, fraction: float = 0.2) -> float:
    """A round length (1, 2 or 5 times a power of ten) near `fraction` of `span`."""
    if not math.isfinite(span) or span <= 0:
        return 1.0
    target = span * fraction
    power = 10.0 ** math.floor(math.log10(target))
    return min((power * m for m in (1, 2, 5, 10)), key=lambda v: abs(v - target))


class ScaleBar(pg.ScaleBar):
    """A bar of a round length in z units, kept near a fifth of the visible width, with its
    length against the prior's sigma (1), so two plots at their own scales compare."""

    def __init__(self) -> None:
        super().__init__(size=1.0, width=4, brush=PRIOR_COLOR, suffix="", offset=(-12, -12))
        self.text.setColor(PRIOR_COLOR)

    def updateBar(self) -> None:  # noqa: N802 - pyqtgraph's name
        view = self.parentItem()
        if view is not None:
            (x0, x1), _ = view.viewRange()
            size = nice_length(x1 - x0)
            if size != self.size:
                self.size = size
                self.text.setText(f"{size:g}\u03c3 of the prior")
        super().updateBar()
        self.text.setAnchor((1, 1))  # right-aligned over the bar's right end: never cut
        self.text.setPos(0, 0)


class LatentPlot(pg.PlotWidget):
    """Shows 2-D latent points coloured by class; emits `cursor_moved(x, y)` while dragging.

    All classes share one item that paints straight from numpy arrays (dots, or a density
    image above DENSITY_THRESHOLD points); the points are replaced on each snapshot.
    """

    cursor_moved = QtCore.Signal(float, float)
    drag_finished = QtCore.Signal()  # the mouse button that dragged the cursor was released
    point_clicked = QtCore.Signal(int)  # the index (as given to set_points) of a clicked point
    point_hovered = QtCore.Signal(int, QtCore.QPoint)  # index (-1: none) and mouse position

    def __init__(self, title: str, parent=None) -> None:
        super().__init__(parent=parent, background="w", enableMenu=False)
        self.setMinimumSize(MIN_SIDE, MIN_SIDE)
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
        self.plot_item = self.getPlotItem()
        self.plot_item.setTitle(title)
        self._axis_labels = ("z1", "z2")
        self.plot_item.setLabel("bottom", "z1")
        self.plot_item.setLabel("left", "z2")
        # A fixed width: sized to its tick labels, the axis flips between two widths when
        # the aspect-locked range it causes changes the labels ("-2" vs "-1.5"), and the
        # view's range changes dozens of times a second.
        self.plot_item.getAxis("left").setWidth(AXIS_WIDTH)
        self.view_box = self.plot_item.getViewBox()
        self.view_box.setAspectLocked(True)
        self._grid = GridLines(self.plot_item)
        self.plot_item.addItem(self._grid, ignoreBounds=True)
        self._cloud = _CloudItem()
        self._cloud.setZValue(1)
        self.plot_item.addItem(self._cloud)
        self._class_names: tuple[str, ...] = ()
        self._xy = np.zeros((0, 2))
        self._rings = [pg.PlotCurveItem(pen=pg.mkPen(PRIOR_COLOR, width=1,
                                                     style=QtCore.Qt.PenStyle.DashLine))
                       for _ in RING_SIGMAS]
        self._ring_labels = [pg.TextItem(ring_label(s), color=PRIOR_COLOR, anchor=(0, 1))
                             for s in RING_SIGMAS]
        for ring, label in zip(self._rings, self._ring_labels, strict=True):
            ring.setZValue(5)
            ring.setOpacity(0.5)
            self.plot_item.addItem(ring)
            label.setFont(QtGui.QFont(label.textItem.font().family(), 7))
            label.setOpacity(0.7)
            label.setZValue(5)
            self.plot_item.addItem(label, ignoreBounds=True)
        self._prior_center: tuple[float, float] | None = None
        self.set_prior_center((0.0, 0.0))
        self.cursor = pg.TargetItem(pos=(0, 0), size=22, symbol="crosshair",
                                    pen=pg.mkPen(CURSOR_COLOR, width=2.5),
                                    hoverPen=pg.mkPen("k", width=3),
                                    brush=pg.mkBrush(255, 255, 255, 60), movable=True)
        self.cursor.setZValue(20)
        self.plot_item.addItem(self.cursor)
        # Dragging the cursor repaints the small rectangles it leaves and enters; the grid, the
        # rings and the dots under it are then copied from a pixmap of each instead of painted
        # again (a pixmap is redrawn only when its item changes or the view moves; the cloud
        # keeps one only while it is dots: _CloudItem.cache_if_dots).
        for under in (self._grid, *self._rings, *self._ring_labels):
            under.setCacheMode(CACHED)
        self._skip_hover_while_dragging()
        self.scale_bar = ScaleBar()
        self.scale_bar.setParentItem(self.view_box)
        self.scale_bar.setZValue(25)
        self.cursor.sigPositionChanged.connect(self._on_cursor_dragged)
        self.cursor.sigPositionChangeFinished.connect(lambda _item: self.drag_finished.emit())
        self.scene().sigMouseClicked.connect(self._on_scene_clicked)
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self._hovered = -1
        self._user_moved_view = False
        self._fitted: np.ndarray | None = None  # the last box fitted (see fit)
        self.view_box.sigRangeChangedManually.connect(self._on_range_changed_manually)
        self.view_box.sigRangeChanged.connect(self._fit_ring_labels)
        self.view_box.sigResized.connect(self._fit_ring_labels)

    # --- data -------------------------------------------------------------------------------
    def set_classes(self, class_names: tuple[str, ...]) -> None:
        """Sets one colour per class (only when the classes change; clears the points)."""
        if tuple(class_names) == self._class_names:
            return
        self._class_names = tuple(class_names)
        self._cloud.set_colors([QtGui.QColor(c) for c in class_colors(class_names)])

    def set_points(self, xy: np.ndarray, labels: np.ndarray,
                   alpha: np.ndarray | None = None) -> None:
        """Replaces the plotted points: xy (N, 2) in plot coordinates, labels (N,), and
        optionally an opacity in [0, 1] per point (dots only; the density image ignores it)."""
        self._xy = np.asarray(xy).reshape(-1, 2)
        self._cloud.set_data(xy, labels, alpha)

    def point_near(self, scene_pos: QtCore.QPointF, max_pixels: float = 6) -> int | None:
        """The index of the plotted point nearest `scene_pos`, if within `max_pixels`."""
        if not len(self._xy):
            return None
        vb = self.view_box
        click = vb.mapSceneToView(scene_pos)
        px = vb.viewPixelSize()  # distances in screen pixels: view units over a pixel's size
        with np.errstate(invalid="ignore"):
            d = np.hypot((self._xy[:, 0] - click.x()) / px[0],
                         (self._xy[:, 1] - click.y()) / px[1])
        i = int(np.nanargmin(d)) if np.isfinite(d).any() else -1
        return i if i >= 0 and d[i] <= max_pixels else None

    def point_count(self) -> int:
        return self._cloud.count()

    def plotted_points(self) -> np.ndarray:
        """All plotted points, class by class (for tests and exports)."""
        return self._cloud.points().copy()

    def set_render_mode(self, mode: str, threshold: int | None = None) -> None:
        """'auto' (dots up to `threshold` points, a density image above), 'points' or
        'density'; for benchmarks and for anyone who prefers one look."""
        if mode not in RENDER_MODES:
            raise ValueError(f"render mode must be one of {RENDER_MODES}, not {mode!r}")
        self._cloud.mode = mode
        if threshold is not None:
            self._cloud.threshold = int(threshold)
        self._cloud.cache_if_dots()
        self._cloud.update()

    @property
    def render_mode(self) -> str:
        """What the points are drawn as now: 'points' or 'density'."""
        return "density" if self._cloud.uses_density() else "points"

    def set_points_opacity(self, opacity: float) -> None:
        """Dims the cloud (e.g. under an overlay drawn beneath it)."""
        self._cloud.setOpacity(opacity)

    def points_opacity(self) -> float:
        return float(self._cloud.opacity())

    def dots_painted(self) -> int:
        """How many dots the last paint drew in one drawPixmapFragments call (the fast path)."""
        return self._cloud.fragments_drawn

    def _fit_ring_labels(self, *_args) -> None:
        """Labels only on rings large enough to carry them: a zoomed-out plot (the AE's
        sprawling cloud) would otherwise pile the three labels on top of its points."""
        width = self.view_box.width()
        (x0, x1), _ = self.view_box.viewRange()
        if width <= 0 or x1 <= x0:
            return
        pixels_per_unit = width / (x1 - x0)
        for label, s in zip(self._ring_labels, RING_SIGMAS, strict=True):
            label.setVisible(s * pixels_per_unit >= RING_LABEL_MIN_PX)

    def set_prior_center(self, center: tuple[float, float]) -> None:
        center = (float(center[0]), float(center[1]))
        if center == self._prior_center:
            return
        self._prior_center = center
        t = np.linspace(0, 2 * np.pi, 97)
        for ring, label, s in zip(self._rings, self._ring_labels, RING_SIGMAS, strict=True):
            ring.setData(center[0] + s * np.cos(t), center[1] + s * np.sin(t))
            label.setPos(center[0] + s * 0.71, center[1] + s * 0.71)

    def set_axis_labels(self, x: str, y: str) -> None:
        # Only on a change: setting a label, even the same one, lays the axes out anew,
        # which cost about 3 ms per plot on every snapshot.
        if (x, y) == self._axis_labels:
            return
        self._axis_labels = (x, y)
        self.plot_item.setLabel("bottom", x)
        self.plot_item.setLabel("left", y)

    # --- view -------------------------------------------------------------------------------
    @property
    def follows_data(self) -> bool:
        """False once the user has panned or zoomed, until they ask to fit again."""
        return not self._user_moved_view

    def fit(self, xy_min: np.ndarray, xy_max: np.ndarray, tolerance: float = 0.0) -> None:
        """Shows the box [xy_min, xy_max]; with a `tolerance`, leaves the view as it is when
        the box differs from the last one fitted by at most that share of its size (while
        training, the cloud drifts a little with every snapshot: refitting the view each time
        costs a relayout of both axes, and moves the ground under a dragged cursor)."""
        box = np.array([xy_min, xy_max], dtype=np.float64)
        last = self._fitted
        if (tolerance and last is not None and not self._user_moved_view
                and np.all(np.abs(box - last) <= tolerance * (last[1] - last[0]))):
            return
        self._fitted = box
        self._user_moved_view = False
        # Python floats: pyqtgraph compares ranges with float64 limits that overflow float32.
        self.view_box.setRange(xRange=(float(xy_min[0]), float(xy_max[0])),
                               yRange=(float(xy_min[1]), float(xy_max[1])), padding=0.02)
        # Apply the new range now rather than in the next paint: applied there, it makes the
        # items update during the paint, and the plot is painted a second time.
        self.view_box.prepareForPaint()

    def _on_range_changed_manually(self, *_args) -> None:
        self._user_moved_view = True

    # --- cursor -----------------------------------------------------------------------------
    def cursor_position(self) -> tuple[float, float]:
        p = self.cursor.pos()
        return float(p.x()), float(p.y())

    def set_cursor(self, x: float, y: float, notify: bool = False) -> None:
        """Moves the cursor; `notify` emits cursor_moved as if the user had moved it."""
        blocker = QtCore.QSignalBlocker(self.cursor)
        self.cursor.setPos(x, y)
        del blocker
        if notify:
            self.cursor_moved.emit(float(x), float(y))

    def _on_cursor_dragged(self) -> None:
        x, y = self.cursor_position()
        self.cursor_moved.emit(x, y)

    def _on_scene_clicked(self, event) -> None:
        """A click moves the cursor there; a click on a point also reports that point."""
        if event.button() != QtCore.Qt.MouseButton.LeftButton or event.isAccepted():
            return
        if not self.view_box.sceneBoundingRect().contains(event.scenePos()):
            return
        p = self.view_box.mapSceneToView(event.scenePos())
        self.setFocus()
        self.set_cursor(p.x(), p.y(), notify=True)
        index = self.point_near(event.scenePos())
        if index is not None:
            self.point_clicked.emit(index)

    def _skip_hover_while_dragging(self) -> None:
        """pyqtgraph's scene looks for the items near the mouse on every move, to send them
        hover events, even in a drag, where none may take the hover: about a millisecond of
        each dragged cursor move (benchmarks/bench_gui.py). In a drag it is skipped; the
        first move after the button is released hovers again."""
        scene = self.scene()
        send_hover_events = scene.sendHoverEvents

        def unless_dragging(event, exitOnly: bool = False) -> None:  # noqa: N803 - pyqtgraph's
            if exitOnly or not scene.dragButtons:
                send_hover_events(event, exitOnly)

        scene.sendHoverEvents = unless_dragging

    def _on_mouse_moved(self, scene_pos: QtCore.QPointF) -> None:
        """Reports the point under the mouse (none while a button is held: a drag)."""
        index = -1
        dragging = QtWidgets.QApplication.mouseButtons() or self.scene().dragButtons
        if not dragging and self.view_box.sceneBoundingRect().contains(scene_pos):
            found = self.point_near(scene_pos)
            index = -1 if found is None else found
        if index != -1 or self._hovered != -1:
            self._hovered = index
            self.point_hovered.emit(index, self.mapFromScene(scene_pos))

    def leaveEvent(self, event: QtCore.QEvent) -> None:  # noqa: N802 - Qt's API
        super().leaveEvent(event)
        if self._hovered != -1:
            self._hovered = -1
            self.point_hovered.emit(-1, QtCore.QPoint())

    def keyPressEvent(self, event: QtGui.QKeyEvent) -> None:
        """Arrow keys nudge the cursor by 1% of the visible width (10% with Shift)."""
        steps = {QtCore.Qt.Key.Key_Left: (-1, 0), QtCore.Qt.Key.Key_Right: (1, 0),
                 QtCore.Qt.Key.Key_Up: (0, 1), QtCore.Qt.Key.Key_Down: (0, -1)}
        if event.key() not in steps:
            super().keyPressEvent(event)
            return
        (x0, x1), _ = self.view_box.viewRange()
        step = (x1 - x0) * NUDGE_FRACTION
        if event.modifiers() & QtCore.Qt.KeyboardModifier.ShiftModifier:
            step *= 10
        dx, dy = steps[event.key()]
        x, y = self.cursor_position()
        self.set_cursor(x + dx * step, y + dy * step, notify=True)
        event.accept()
