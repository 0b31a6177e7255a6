"""Finding layout faults from widget geometry: widgets cut by their parent's edge, and
visible siblings that overlap (a layout squeezed below its minimum overflows like this)."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

# Widgets whose children are drawn in a scrolled or stacked area, or that overlap on
# purpose: their children are not compared.
SKIP_CHILDREN = (QtWidgets.QMenuBar, QtWidgets.QMenu, QtWidgets.QComboBox,
                 QtWidgets.QAbstractSpinBox, QtWidgets.QScrollBar, QtWidgets.QTabBar,
                 QtWidgets.QAbstractScrollArea, QtWidgets.QToolButton)


def _visible_children(widget: QtWidgets.QWidget) -> list[QtWidgets.QWidget]:
    return [c for c in widget.findChildren(QtWidgets.QWidget,
                                           options=QtCore.Qt.FindChildOption.FindDirectChildrenOnly)
            if c.isVisible() and not c.isWindow() and c.width() > 0 and c.height() > 0
            and not c.visibleRegion().isEmpty()]  # e.g. a dock behind another's tab


def layout_faults(window: QtWidgets.QWidget) -> list[str]:
    """Every visible widget that sticks out of its parent, and every pair of visible
    siblings whose rectangles overlap, as sentences."""
    faults: list[str] = []

    def name(w: QtWidgets.QWidget) -> str:
        return f"{type(w).__name__}({w.objectName() or ''})"

    def walk(parent: QtWidgets.QWidget) -> None:
        if isinstance(parent, SKIP_CHILDREN):
            return
        children = _visible_children(parent)
        inside = parent.rect()
        for child in children:
            if not inside.contains(child.geometry()):
                faults.append(f"{name(child)} {child.geometry().getRect()} is cut by "
                              f"{name(parent)} {inside.getRect()}")
        for i, a in enumerate(children):
            for b in children[i + 1:]:
                overlap = a.geometry().intersected(b.geometry())
                if overlap.width() > 1 and overlap.height() > 1:
                    faults.append(f"{name(a)} {a.geometry().getRect()} overlaps {name(b)} "
                                  f"{b.geometry().getRect()}")
        for child in children:
            walk(child)

    walk(window)
    return faults
