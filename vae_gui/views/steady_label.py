"""A label whose text changes often without laying the window out again."""

from __future__ import annotations

from PySide6 import QtWidgets

QWIDGETSIZE_MAX = (1 << 24) - 1


class SteadyLabel(QtWidgets.QLabel):
    """A QLabel that can hold a fixed size while its text changes.

    A QLabel's setText asks its layout to run again, and in a status bar that lays out the
    whole window: several milliseconds, ten times a second while training reports its
    progress, each one in the way of a dragged cursor's next move. A widget of fixed size
    asks nothing of its layout, so `set_steady_text` fixes the size to fit the widest text
    the label will show in that role first.
    """

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._widest: str | None = None

    def set_steady_text(self, text: str, widest: str) -> None:
        """Shows `text` in a size that fits `widest` (fixed until it changes)."""
        if widest != self._widest:
            self._free()
            self._widest = widest
            self.setText(widest)
            self.setFixedSize(self.sizeHint())  # Qt's own measure of the widest text
        if text != self.text():
            self.setText(text)

    def set_free_text(self, text: str) -> None:
        """Shows `text` at its own size (texts that change seldom, such as loading notes)."""
        self._free()
        self.setText(text)

    def _free(self) -> None:
        if self._widest is not None:
            self._widest = None
            self.setMinimumSize(0, 0)
            self.setMaximumSize(QWIDGETSIZE_MAX, QWIDGETSIZE_MAX)
