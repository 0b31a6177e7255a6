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
        # The view box changes size without the widget doing so too (a caption of another
        # height, a layout after an error dialog): fit the image whenever it does, or part
        # of it stays clipped until the window is resized.
        self.view.sigResized.connect(self._fit)

    def set_image(self, image: np.ndarray) -> None:
        self.image.setImage(image, levels=(0.0, 1.0), autoLevels=False)
        if image.shape != self._shape:  # refit only when the size changes
            self._shape = image.shape
            self.view.autoRange(padding=0)

    def clear_image(self) -> None:
        self.image.clear()

    def _fit(self, *_args) -> None:
        if self._shape:
            self.view.autoRange(padding=0)  # the whole image in view, at any size

    def shown_fully(self) -> bool:
        """Whether the whole image lies inside the visible range (for tests)."""
        if not self._shape:
            return True
        (x0, x1), (y0, y1) = self.view.viewRange()
        h, w = self._shape[:2]
        eps = 1e-6 * max(h, w)
        return x0 <= eps and x1 >= w - eps and y0 <= eps and y1 >= h - eps

    def set_caption(self, text: str) -> None:
        self.label.setText(text, size="8pt")

    def current_image(self) -> np.ndarray | None:
        return None if self.image.image is None else np.array(self.image.image)
