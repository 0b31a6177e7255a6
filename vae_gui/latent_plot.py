"""The latent plot: the encoded test set by class, the prior's rings and a draggable cursor."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from vae_gui.palette import CURSOR_COLOR, PRIOR_COLOR, class_color

RING_SIGMAS = (1, 2, 3)
NUDGE_FRACTION = 0.01  # of the visible width, per arrow-key press


class LatentPlot(pg.PlotWidget):
    """Shows 2-D latent points coloured by class; emits `cursor_moved(x, y)` while dragging.

    One scatter item per class keeps redraws cheap (one brush each, set once); the points
    are replaced with setData on each snapshot.
    """

    cursor_moved = QtCore.Signal(float, float)
    activated = QtCore.Signal()

    def __init__(self, title: str, parent=None) -> None:
        super().__init__(parent=parent, background="w")
        self.setMinimumSize(260, 260)
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
        self.plot_item = self.getPlotItem()
        self.plot_item.setTitle(title)
        self.plot_item.showGrid(x=True, y=True, alpha=0.15)
        self.plot_item.setLabel("bottom", "z1")
        self.plot_item.setLabel("left", "z2")
        self.view_box = self.plot_item.getViewBox()
        self.view_box.setAspectLocked(True)
        self.view_box.setMenuEnabled(False)
        self._scatters: list[pg.ScatterPlotItem] = []
        self._class_names: tuple[str, ...] = ()
        self._rings = [pg.PlotCurveItem(pen=pg.mkPen(PRIOR_COLOR, width=1,
                                                     style=QtCore.Qt.PenStyle.DashLine))
                       for _ in RING_SIGMAS]
        for ring in self._rings:
            ring.setZValue(5)
            ring.setOpacity(0.5)
            self.plot_item.addItem(ring)
        self.set_prior_center((0.0, 0.0))
        self.cursor = pg.TargetItem(pos=(0, 0), size=20, symbol="o",
                                    pen=pg.mkPen(CURSOR_COLOR, width=3),
                                    hoverPen=pg.mkPen("k", width=3),
                                    brush=pg.mkBrush(255, 255, 255, 60), movable=True)
        self.cursor.setZValue(20)
        self.plot_item.addItem(self.cursor)
        self.cursor.sigPositionChanged.connect(self._on_cursor_dragged)
        self.scene().sigMouseClicked.connect(self._on_scene_clicked)
        self._user_moved_view = False
        self.view_box.sigRangeChangedManually.connect(self._on_range_changed_manually)

    # --- data -------------------------------------------------------------------------------
    def set_classes(self, class_names: tuple[str, ...]) -> None:
        """Builds one scatter item per class (only when the classes change)."""
        if class_names == self._class_names:
            return
        for item in self._scatters:
            self.plot_item.removeItem(item)
        self._class_names = tuple(class_names)
        n = len(class_names)
        self._scatters = []
        for i, name in enumerate(class_names):
            color = QtGui.QColor(class_color(i, n))
            color.setAlpha(170)
            item = pg.ScatterPlotItem(size=4, pen=None, brush=pg.mkBrush(color), name=name,
                                      pxMode=True, antialias=False)
            item.setZValue(1)
            self.plot_item.addItem(item)
            self._scatters.append(item)

    def set_points(self, xy: np.ndarray, labels: np.ndarray) -> None:
        """Replaces the plotted points: xy (N, 2) in plot coordinates, labels (N,)."""
        for i, item in enumerate(self._scatters):
            sel = labels == i
            item.setData(x=xy[sel, 0], y=xy[sel, 1])

    def point_count(self) -> int:
        return sum(len(item.data) for item in self._scatters)

    def plotted_points(self) -> np.ndarray:
        """All plotted points, class by class (for tests and exports)."""
        parts = [np.column_stack(item.getData()) for item in self._scatters]
        return np.concatenate(parts) if parts else np.zeros((0, 2))

    def set_prior_center(self, center: tuple[float, float]) -> None:
        t = np.linspace(0, 2 * np.pi, 97)
        for ring, s in zip(self._rings, RING_SIGMAS, strict=True):
            ring.setData(center[0] + s * np.cos(t), center[1] + s * np.sin(t))

    def set_axis_labels(self, x: str, y: str) -> None:
        self.plot_item.setLabel("bottom", x)
        self.plot_item.setLabel("left", y)

    # --- view -------------------------------------------------------------------------------
    @property
    def follows_data(self) -> bool:
        """False once the user has panned or zoomed, until they ask to fit again."""
        return not self._user_moved_view

    def fit(self, xy_min: np.ndarray, xy_max: np.ndarray) -> None:
        self._user_moved_view = False
        # Python floats: pyqtgraph compares ranges with float64 limits that overflow float32.
        self.view_box.setRange(xRange=(float(xy_min[0]), float(xy_max[0])),
                               yRange=(float(xy_min[1]), float(xy_max[1])), padding=0.02)

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
        self.activated.emit()
        x, y = self.cursor_position()
        self.cursor_moved.emit(x, y)

    def _on_scene_clicked(self, event) -> None:
        """A click on empty space moves the cursor there."""
        if event.button() != QtCore.Qt.MouseButton.LeftButton or event.isAccepted():
            return
        if not self.view_box.sceneBoundingRect().contains(event.scenePos()):
            return
        p = self.view_box.mapSceneToView(event.scenePos())
        self.setFocus()
        self.activated.emit()
        self.set_cursor(p.x(), p.y(), notify=True)

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
        self.activated.emit()
        self.set_cursor(x + dx * step, y + dy * step, notify=True)
        event.accept()
