"""A picture drawn by vae_gui.model (Pillow) as a QPixmap, for the windows that show one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6 import QtGui

if TYPE_CHECKING:
    from PIL import Image


def pixmap_of(picture: Image.Image) -> QtGui.QPixmap:
    """The picture's RGB pixels, copied (the QImage would otherwise borrow a temporary)."""
    rgb = picture.convert("RGB")
    image = QtGui.QImage(rgb.tobytes(), rgb.width, rgb.height, 3 * rgb.width,
                         QtGui.QImage.Format.Format_RGB888)
    return QtGui.QPixmap.fromImage(image.copy())
