"""The right-hand side of the window: the settings and the tools, stacked one above the
other on a tall screen, or as two tabs (Tools first) on a short one."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets


class SidePanel(QtWidgets.QWidget):
    """Holds the settings and tools panels and arranges them for the screen."""

    def __init__(self, settings: QtWidgets.QWidget, tools: QtWidgets.QWidget,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("side-panel")
        self.panels = {"Settings": settings, "Tools": tools}
        self._layout = QtWidgets.QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._container: QtWidgets.QWidget | None = None
        self.tabbed = False
        self.arrange(tabbed=False)

    def arrange(self, tabbed: bool) -> None:
        """Stacks the panels (Settings above Tools) or puts them in tabs."""
        if self._container is not None and tabbed == self.tabbed:
            return
        self.tabbed = tabbed
        old = self._container
        if tabbed:
            container = QtWidgets.QTabWidget()
            container.setDocumentMode(True)
            for title in ("Tools", "Settings"):
                container.addTab(self.panels[title], title)
        else:
            container = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
            container.setChildrenCollapsible(False)
            for title in ("Settings", "Tools"):
                box = QtWidgets.QGroupBox(title)
                box.setFlat(True)
                QtWidgets.QVBoxLayout(box).addWidget(self.panels[title])
                box.layout().setContentsMargins(2, 2, 2, 2)
                container.addWidget(box)
            # Settings at their natural height (nothing of them cut), the tools take the rest.
            container.setStretchFactor(0, 0)
            container.setStretchFactor(1, 1)
        self._layout.addWidget(container)
        self._container = container
        if old is not None:
            self._layout.removeWidget(old)
            old.deleteLater()  # the panels have moved into the new container already

    def show_panel(self, panel: QtWidgets.QWidget) -> None:
        """Makes `panel` visible: its tab, when tabbed."""
        if isinstance(self._container, QtWidgets.QTabWidget):
            self._container.setCurrentWidget(panel)
