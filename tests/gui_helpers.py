"""Helpers for GUI tests: a window on the pretrained models, and real mouse drags."""

from __future__ import annotations

import gc
import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6 import QtCore, QtGui, QtWidgets  # noqa: E402

LOAD_TIMEOUT_MS = 60000


def make_window(qtbot, tmp_path, load: bool = True, ask_before_discarding: bool = False):
    """A MainWindow with its own settings file, showing the pretrained models. It does not
    ask before discarding trained models unless told to (tests of that question answer it;
    others would wait for an answer)."""
    from vae_gui.main_window import MainWindow

    settings = QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat)
    settings.setValue("ask_before_discarding", ask_before_discarding)
    window = MainWindow(settings)
    # Closing hides the window at once and closes it for good when its threads have ended:
    # let them end before pytest-qt deletes it.
    qtbot.addWidget(window, before_close_func=lambda w: _close_and_wait(qtbot, w))
    window.show()
    qtbot.waitExposed(window)
    if load:
        with qtbot.waitSignal(window.models_shown, timeout=LOAD_TIMEOUT_MS):
            window.load_initial()
    return window


def _close_and_wait(qtbot, window) -> None:
    window.close()
    qtbot.waitUntil(lambda: not window.busy, timeout=LOAD_TIMEOUT_MS)


def view_to_widget(plot, x: float, y: float) -> QtCore.QPoint:
    """Widget (viewport) pixel coordinates of the data point (x, y) on a pyqtgraph plot."""
    scene_pos = plot.view_box.mapViewToScene(QtCore.QPointF(x, y))
    return plot.mapFromScene(scene_pos)


def _send(widget: QtWidgets.QWidget, kind, pos: QtCore.QPoint, button, buttons) -> None:
    local = QtCore.QPointF(pos)
    event = QtGui.QMouseEvent(kind, local, QtCore.QPointF(widget.mapToGlobal(pos)), button,
                              buttons, QtCore.Qt.KeyboardModifier.NoModifier)
    QtWidgets.QApplication.sendEvent(widget, event)


def drag(qtbot, plot, start: QtCore.QPoint, end: QtCore.QPoint, steps: int = 12,
         release: bool = True) -> None:
    """A real left-button drag on a plot's viewport, with pauses longer than the move limit;
    with `release` False the button stays down (`release_drag` lets it go)."""
    left, none = QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.MouseButton.NoButton
    viewport = plot.viewport()
    _send(viewport, QtCore.QEvent.Type.MouseMove, start, none, none)
    _send(viewport, QtCore.QEvent.Type.MouseButtonPress, start, left, left)
    for i in range(1, steps + 1):
        qtbot.wait(12)  # pyqtgraph drops moves closer than 10 ms apart
        p = start + (end - start) * (i / steps)
        _send(viewport, QtCore.QEvent.Type.MouseMove, p, none, left)
    if release:
        release_drag(plot, end)


def release_drag(plot, pos: QtCore.QPoint) -> None:
    left, none = QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.MouseButton.NoButton
    _send(plot.viewport(), QtCore.QEvent.Type.MouseButtonRelease, pos, left, none)


def hover(qtbot, plot, pos: QtCore.QPoint) -> None:
    """The mouse moved over a plot's viewport with no button held."""
    none = QtCore.Qt.MouseButton.NoButton
    qtbot.wait(15)  # pyqtgraph drops moves closer than 10 ms apart
    _send(plot.viewport(), QtCore.QEvent.Type.MouseMove, pos, none, none)


def click(qtbot, plot, pos: QtCore.QPoint) -> None:
    left, none = QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.MouseButton.NoButton
    viewport = plot.viewport()
    _send(viewport, QtCore.QEvent.Type.MouseMove, pos, none, none)
    _send(viewport, QtCore.QEvent.Type.MouseButtonPress, pos, left, left)
    _send(viewport, QtCore.QEvent.Type.MouseButtonRelease, pos, left, none)
    qtbot.wait(5)


def press(qtbot, window, action) -> None:
    """A left click on the toolbar button of `action` (a disabled button ignores it)."""
    qtbot.mouseClick(toolbar_button(window, action), QtCore.Qt.MouseButton.LeftButton)


def toolbar_button(window, action) -> QtWidgets.QToolButton:
    """The toolbar button a user presses for `action`."""
    toolbar = window.findChild(QtWidgets.QToolBar, "main-toolbar")
    return toolbar.widgetForAction(action)


def type_into(qtbot, widget, text: str) -> None:
    """Selects what the field holds and types `text` over it, then presses Enter."""
    editor = widget.lineEdit() if isinstance(widget, QtWidgets.QComboBox) else widget
    widget.setFocus()
    editor.selectAll()
    qtbot.keyClicks(editor, text)
    qtbot.keyClick(editor, QtCore.Qt.Key.Key_Return)


def answer_question(button_text: str, dont_ask_again: bool = False) -> list[str]:
    """Answers the next question box by clicking the button whose text starts with
    `button_text`, as a user would; returns a list that gets the question's text."""
    seen: list[str] = []

    def answer() -> None:
        box = QtWidgets.QApplication.activeModalWidget()
        if not isinstance(box, QtWidgets.QMessageBox):
            QtCore.QTimer.singleShot(20, answer)  # not open yet: look again
            return
        seen.append(box.text())
        if dont_ask_again:
            box.checkBox().setChecked(True)
        (button,) = [b for b in box.buttons() if b.text().startswith(button_text)]
        button.click()

    QtCore.QTimer.singleShot(0, answer)
    return seen


def wait_until_unchanged(qtbot, read, for_ms: int, timeout: int):
    """Waits until `read()` has returned the same value for `for_ms` (events processed
    meanwhile), and returns that value; fails if it keeps changing for `timeout` ms.

    For checks that something has stopped: on a busy machine it waits longer instead of
    failing, where a fixed wait followed by a comparison would flake."""
    value, since = read(), QtCore.QElapsedTimer()
    since.start()

    def settled() -> bool:
        nonlocal value
        now = read()
        if now != value:
            value = now
            since.restart()
        return since.elapsed() >= for_ms

    qtbot.waitUntil(settled, timeout=timeout)
    return value


@pytest.fixture(autouse=True)
def collect_windows_after_test():
    """Collects each test's closed windows at once, so no test inherits another's leftovers."""
    yield
    gc.collect()
