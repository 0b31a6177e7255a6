"""Images in [0, 1], grey (H, W) or colour (H, W, 3), as 8-bit pixels and QImages."""

from __future__ import annotations

import numpy as np
from PySide6 import QtGui


def to_pixels(image: np.ndarray) -> np.ndarray:
    """uint8 pixels, C-contiguous, with fixed levels: 0 is black and 1 white (or full colour)
    whatever the image holds; NaN shows as black."""
    image = np.asarray(image, dtype=np.float32)
    pixels = np.nan_to_num(np.clip(image, 0.0, 1.0), nan=0.0) * 255.0 + 0.5
    return np.ascontiguousarray(pixels.astype(np.uint8))


def to_qimage(pixels: np.ndarray) -> QtGui.QImage:
    """A QImage over uint8 pixels (H, W) grey or (H, W, 3) RGB; it shares their memory, so
    the caller keeps `pixels` alive while the QImage is used."""
    h, w = pixels.shape[:2]
    if pixels.ndim == 3:
        return QtGui.QImage(pixels.data, w, h, 3 * w, QtGui.QImage.Format.Format_RGB888)
    return QtGui.QImage(pixels.data, w, h, w, QtGui.QImage.Format.Format_Grayscale8)
