"""A small canvas on which the user draws a digit with the mouse."""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

SCALE = 8  # screen pixels per image pixel


class DrawCanvas(QtWidgets.QWidget):
    """Draws white strokes on black into an (H, W) array in [0, 1]; emits `changed` live."""

    changed = QtCore.Signal()

    def __init__(self, shape: tuple[int, int] = (28, 28), parent=None) -> None:
        super().__init__(parent)
        self.image = np.zeros(shape, dtype=np.float32)
        self.setFixedSize(shape[1] * SCALE, shape[0] * SCALE)
        self.setCursor(QtCore.Qt.CursorShape.CrossCursor)
        self.setToolTip("Draw a digit (or any shape) with the left mouse button, white on "
                        "black; it is encoded as you draw.")
        self._last: QtCore.QPointF | None = None
        self.brush_radius = 1.3  # in image pixels; soft edges like MNIST's anti-aliasing

    def set_shape(self, shape: tuple[int, int]) -> None:
        if shape != self.image.shape:
            self.image = np.zeros(shape, dtype=np.float32)
            self.setFixedSize(shape[1] * SCALE, shape[0] * SCALE)
            self.update()

    def clear(self) -> None:
        self.image[:] = 0
        self.update()
        self.changed.emit()

    def is_empty(self) -> bool:
        return not self.image.any()

    def stroke(self, points: list[tuple[float, float]]) -> None:
        """Paints a polyline given in image coordinates (x, y); used by the mouse and tests."""
        for (x0, y0), (x1, y1) in zip(points[:-1], points[1:], strict=True):
            n = max(2, int(np.hypot(x1 - x0, y1 - y0) * 3))
            for t in np.linspace(0, 1, n):
                self._dab(x0 + t * (x1 - x0), y0 + t * (y1 - y0))
        if len(points) == 1:
            self._dab(*points[0])
        self.update()
        self.changed.emit()

    def _dab(self, x: float, y: float) -> None:
        h, w = self.image.shape
        yy, xx = np.mgrid[0:h, 0:w]
        d = np.hypot(xx + 0.5 - x, yy + 0.5 - y)
        ink = np.clip(self.brush_radius + 0.5 - d, 0.0, 1.0)
        np.maximum(self.image, ink, out=self.image)

    def _to_image(self, pos: QtCore.QPointF) -> tuple[float, float]:
        return pos.x() / SCALE, pos.y() / SCALE

    def mousePressEvent(self, event: QtGui.QMouseEvent) -> None:
        if event.button() == QtCore.Qt.MouseButton.LeftButton:
            self._last = event.position()
            self.stroke([self._to_image(self._last)])

    def mouseMoveEvent(self, event: QtGui.QMouseEvent) -> None:
        if self._last is not None and event.buttons() & QtCore.Qt.MouseButton.LeftButton:
            pos = event.position()
            self.stroke([self._to_image(self._last), self._to_image(pos)])
            self._last = pos

    def mouseReleaseEvent(self, event: QtGui.QMouseEvent) -> None:
        self._last = None

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        gray = (self.image * 255).astype(np.uint8)
        h, w = gray.shape
        qimage = QtGui.QImage(gray.data, w, h, w, QtGui.QImage.Format.Format_Grayscale8)
        painter = QtGui.QPainter(self)
        painter.drawImage(self.rect(), qimage)
        painter.setPen(QtGui.QPen(QtGui.QColor("#888")))
        painter.drawRect(self.rect().adjusted(0, 0, -1, -1))
        painter.end()
