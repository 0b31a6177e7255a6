"""Making the window's QActions in one way: text, shortcut, tips, checkable, slot."""

from __future__ import annotations

from PySide6 import QtCore, QtGui


def make_action(parent: QtCore.QObject, text: str, slot, shortcut: str | None = None,
                tip: str = "", checkable: bool = False) -> QtGui.QAction:
    """A QAction with its shortcut, tooltip and status tip, connected to `slot`."""
    action = QtGui.QAction(text, parent)
    if shortcut:
        action.setShortcut(QtGui.QKeySequence(shortcut))
    action.setToolTip(tip or text)
    action.setStatusTip(tip)
    action.setCheckable(checkable)
    action.triggered.connect(slot)
    return action
