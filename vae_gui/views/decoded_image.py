"""A decoded image, shown large with fixed levels so that brightness means probability."""

from __future__ import annotations

import html

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from vae_gui.views.image_pixels import to_pixels, to_qimage

CAPTION_POINT_SIZE = 8


class _ImageArea(QtWidgets.QWidget):
    """Paints one grey or colour image as large as fits, square pixels, centred.

    A plain widget rather than a pyqtgraph view: each cursor move repaints two of these, and
    a QImage scaled by the painter costs a fraction of a view box's scene repaint."""

    def __init__(self) -> None:
        super().__init__()
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.qimage: QtGui.QImage | None = None
        self.pixels: np.ndarray | None = None  # what the QImage shows, 0..255

    def set_pixels(self, pixels: np.ndarray) -> None:
        self.pixels = np.ascontiguousarray(pixels)
        self.qimage = to_qimage(self.pixels)
        self.update()

    def clear(self) -> None:
        self.qimage, self.pixels = None, None
        self.update()

    def target(self) -> QtCore.QRectF:
        """Where the image lies in this widget: the largest centred rectangle of its aspect."""
        if self.qimage is None:
            return QtCore.QRectF()
        w, h = self.qimage.width(), self.qimage.height()
        scale = min(self.width() / w, self.height() / h)
        tw, th = w * scale, h * scale
        return QtCore.QRectF((self.width() - tw) / 2, (self.height() - th) / 2, tw, th)

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:  # noqa: N802 - Qt's API
        p = QtGui.QPainter(self)
        p.fillRect(self.rect(), QtCore.Qt.GlobalColor.white)
        if self.qimage is not None:
            # Nearest-neighbour: each pixel a sharp square, as the model outputs it.
            p.setRenderHint(QtGui.QPainter.RenderHint.SmoothPixmapTransform, False)
            p.drawImage(self.target(), self.qimage)
        p.end()


class _FixedCaption(QtWidgets.QWidget):
    """Plain text in a fixed number of centred lines ('<br>' breaks a line, as in a QLabel's
    rich text). Setting it repaints the caption alone: a QLabel's setText also asks its
    layout to run again, which cost a dragged cursor about a millisecond a move
    (benchmarks/bench_gui.py, drag)."""

    def __init__(self, lines: int, font: QtGui.QFont) -> None:
        super().__init__()
        self.setFont(font)
        self._text = ""
        self._lines = ""
        self.setFixedHeight(lines * QtGui.QFontMetrics(font).lineSpacing() + 2)
        # Whatever width the layout gives, asking for none: no text can widen the column.
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored,
                           QtWidgets.QSizePolicy.Policy.Fixed)

    def setText(self, text: str) -> None:  # noqa: N802 - QLabel's name
        self._text = text
        self._lines = html.unescape(text.replace("<br>", "\n"))
        self.update()

    def text(self) -> str:
        return self._text

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:  # noqa: N802 - Qt's API
        p = QtGui.QPainter(self)
        p.drawText(self.rect(), QtCore.Qt.AlignmentFlag.AlignCenter, self._lines)
        p.end()


class DecodedImage(QtWidgets.QWidget):
    """An (H, W) grey or (H, W, 3) colour image in [0, 1] under a caption (rich text: '<br>'
    breaks a line). With `caption_lines` the caption keeps that many lines whatever its
    text, for one that changes often (the cursor's z)."""

    def __init__(self, caption: str, parent=None, caption_lines: int | None = None) -> None:
        super().__init__(parent)
        self.setAutoFillBackground(True)
        palette = self.palette()
        palette.setColor(QtGui.QPalette.ColorRole.Window, QtGui.QColor("white"))
        palette.setColor(QtGui.QPalette.ColorRole.WindowText, QtGui.QColor("black"))
        self.setPalette(palette)
        font = self.font()
        font.setPointSize(CAPTION_POINT_SIZE)
        if caption_lines is None:
            self.label: QtWidgets.QLabel | _FixedCaption = QtWidgets.QLabel()
            self.label.setTextFormat(QtCore.Qt.TextFormat.RichText)
            self.label.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
            self.label.setFont(font)
        else:
            self.label = _FixedCaption(caption_lines, font)
        self.area = _ImageArea()
        self.area.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding,
                                QtWidgets.QSizePolicy.Policy.Expanding)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(1)
        layout.addWidget(self.label)
        layout.addWidget(self.area, 1)
        self.setMinimumSize(110, 120)
        self._caption = ""
        self._image: np.ndarray | None = None
        self.set_caption(caption)

    def set_image(self, image: np.ndarray) -> None:
        image = np.asarray(image, dtype=np.float32)
        self._image = image.copy()
        self.area.set_pixels(to_pixels(image))

    def clear_image(self) -> None:
        self._image = None
        self.area.clear()

    def shown_fully(self) -> bool:
        """Whether the whole image lies inside the visible area (for tests)."""
        if self.area.qimage is None:
            return True
        return QtCore.QRectF(self.area.rect()).contains(self.area.target())

    def set_caption(self, text: str) -> None:
        if text != self._caption:  # re-laying a label out costs more than comparing
            self._caption = text
            self.label.setText(text)

    def current_image(self) -> np.ndarray | None:
        return None if self._image is None else self._image.copy()
