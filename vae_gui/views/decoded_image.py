"""A decoded image, shown large with fixed levels so that brightness means probability."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg


class DecodedImage(pg.GraphicsLayoutWidget):
    """An (H, W) image in [0, 1] under a caption."""

    def __init__(self, caption: str, parent=None) -> None:
        super().__init__(parent=parent)
        self.setBackground("w")
        self.label = self.addLabel(caption, size="8pt", row=0, col=0)
        self.view = self.addViewBox(row=1, col=0, lockAspect=True, enableMouse=False,
                                    invertY=True, enableMenu=False)
        self.image = pg.ImageItem(axisOrder="row-major", levels=(0.0, 1.0))
        self.view.addItem(self.image)
        self.setMinimumSize(110, 120)
        self._shape: tuple[int, ...] = ()

    def set_image(self, image: np.ndarray) -> None:
        self.image.setImage(image, levels=(0.0, 1.0), autoLevels=False)
        if image.shape != self._shape:  # refit only when the size changes
            self._shape = image.shape
            self.view.autoRange(padding=0)

    def clear_image(self) -> None:
        self.image.clear()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if getattr(self, "_shape", ()):  # resize events also come during construction
            self.view.autoRange(padding=0)  # keep the whole image in view at any size

    def set_caption(self, text: str) -> None:
        self.label.setText(text, size="8pt")

    def current_image(self) -> np.ndarray | None:
        return None if self.image.image is None else np.array(self.image.image)
