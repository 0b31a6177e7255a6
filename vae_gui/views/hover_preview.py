"""The test image under the mouse, shown beside it with its class, without a click."""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from vae_gui.views.image_pixels import to_pixels, to_qimage

SCALE = 3  # screen pixels per image pixel
OFFSET = 14  # pixels between the mouse and the preview's corner


class HoverPreview(QtWidgets.QFrame):
    """A small framed image over its caption, floating over a plot (a child of it)."""

    def __init__(self, parent: QtWidgets.QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("hover-preview")
        self.setStyleSheet("#hover-preview { background: white; border: 1px solid #888; }")
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.image_label = QtWidgets.QLabel()
        self.caption_label = QtWidgets.QLabel()
        # Plain text: the caption holds a class name from a folder or a checkpoint.
        self.caption_label.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        self.caption_label.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(3, 3, 3, 3)
        layout.setSpacing(1)
        layout.addWidget(self.image_label)
        layout.addWidget(self.caption_label)
        self.index: int | None = None
        self.hide()

    def show_image(self, index: int, image: np.ndarray, caption: str,
                   at: QtCore.QPoint) -> None:
        """Shows `image` (H, W) or (H, W, 3) in [0, 1] with `caption`, near `at` (parent
        coordinates)."""
        if index != self.index:
            self.index = index
            pixels = to_pixels(image)
            h, w = pixels.shape[:2]
            qimage = to_qimage(pixels)
            self.image_label.setPixmap(QtGui.QPixmap.fromImage(qimage).scaled(
                w * SCALE, h * SCALE, QtCore.Qt.AspectRatioMode.KeepAspectRatio,
                QtCore.Qt.TransformationMode.FastTransformation))
            self.caption_label.setText(caption)
            self.adjustSize()
        # Beside the mouse, on the other side where the plot's edge is near.
        bounds = self.parentWidget().rect()
        x, y = at.x() + OFFSET, at.y() + OFFSET
        if x + self.width() > bounds.right():
            x = at.x() - OFFSET - self.width()
        if y + self.height() > bounds.bottom():
            y = at.y() - OFFSET - self.height()
        self.move(max(0, x), max(0, y))
        self.show()
        self.raise_()

    def hide_image(self) -> None:
        self.index = None
        self.hide()
