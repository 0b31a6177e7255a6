"""The progress line's label (vae_gui/views/steady_label.py): new text, no window relayout."""

from __future__ import annotations

import gui_helpers  # noqa: F401 - offscreen platform before Qt starts
from PySide6 import QtCore, QtWidgets


class LayoutRequests(QtCore.QObject):
    """Counts the LayoutRequest events Qt sends to any widget (the window laid out again)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, _obj, event) -> bool:  # noqa: N802 - Qt's API
        if event.type() == QtCore.QEvent.Type.LayoutRequest:
            self.count += 1
        return False


def settle() -> None:
    """Delivers what is posted, and what that posts in turn (a relayout asks for another)."""
    for _ in range(5):
        QtWidgets.QApplication.processEvents()


def test_a_steady_label_changes_its_text_without_a_relayout_and_fits_the_widest(qtbot):
    from vae_gui.controllers.training import WIDEST_RATE, progress_text
    from vae_gui.views.steady_label import SteadyLabel

    window = QtWidgets.QMainWindow()
    window.setCentralWidget(QtWidgets.QLabel("the window"))
    label = SteadyLabel()
    window.statusBar().addPermanentWidget(label)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    requests = LayoutRequests()
    app = QtWidgets.QApplication.instance()
    app.installEventFilter(requests)
    try:
        widest = progress_text(100, 100, 32, 32, WIDEST_RATE)
        texts = [progress_text(e, 100, s, 32, 1000.0 * s + e) for e in (1, 2) for s in (1, 9, 31)]
        label.set_steady_text(texts[0], widest)  # the size is fixed here, once
        settle()
        first = requests.count
        for text in texts[1:]:
            label.set_steady_text(text, widest)
            settle()
            assert label.text() == text
        assert requests.count == first  # no relayout for any new text
        width = label.fontMetrics().horizontalAdvance(widest)
        assert label.width() >= width and label.minimumWidth() == label.maximumWidth()

        # A plain QLabel in its place asks for a relayout on every new text (the cost
        # SteadyLabel avoids), and so does the steady label once it is freed.
        label.set_free_text("Reading the folder: 10 of 200 images")
        QtWidgets.QApplication.processEvents()
        freed = requests.count
        label.set_free_text("Reading the folder: 20 of 200 images, and more text")
        QtWidgets.QApplication.processEvents()
        assert requests.count > freed
        assert label.minimumWidth() == 0
    finally:
        app.removeEventFilter(requests)
