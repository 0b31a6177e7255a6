"""The Tools dock: one tab per tool, found by name; only the visible tab redraws."""

from __future__ import annotations

from collections.abc import Callable

from PySide6 import QtWidgets

from vae_gui.controllers.evidence import EvidenceController
from vae_gui.explorer_state import ExplorerState
from vae_gui.tools.draw import DrawTab
from vae_gui.tools.evidence_tab import EvidenceTab
from vae_gui.tools.inspect_point import InspectTab
from vae_gui.tools.interpolate import InterpolateTab
from vae_gui.tools.manifold import ManifoldTab, Region
from vae_gui.tools.prior_samples import PriorSamplesTab


class ToolsPanel(QtWidgets.QTabWidget):
    """Prior samples, Manifold, Inspect, Interpolate, Draw and Evidence, each for both
    models."""

    def __init__(self, state: ExplorerState, region_of: Callable[[str], Region],
                 evidence: EvidenceController,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.samples = PriorSamplesTab(state)
        self.manifold = ManifoldTab(state, region_of)
        self.inspect = InspectTab(state)
        self.interpolate = InterpolateTab(state)
        self.draw = DrawTab(state)
        self.evidence = EvidenceTab(state, evidence)
        self.tabs = {tab.title: tab for tab in (self.samples, self.manifold, self.inspect,
                                                self.interpolate, self.draw, self.evidence)}
        for title, tab in self.tabs.items():
            self.addTab(tab, title)
        self.currentChanged.connect(lambda _: self.refresh_current())
        state.models_changed.connect(lambda _refit: state.update_view(self,
                                                                      self.refresh_current))
        state.inspected_changed.connect(self._on_inspected)

    def refresh_current(self, *_args) -> None:
        if self.isVisible():
            self.currentWidget().refresh()

    def show_tab(self, tab: QtWidgets.QWidget | str) -> None:
        """Brings a tab (or the tab of that title) to the front, with its dock."""
        self.setCurrentWidget(self.tabs[tab] if isinstance(tab, str) else tab)
        parent = self.parentWidget()
        while parent is not None:  # the tab of the side panel, and the dock, brought forward
            if hasattr(parent, "show_panel"):
                parent.show_panel(self)
            if isinstance(parent, QtWidgets.QDockWidget):
                parent.show()
                parent.raise_()
            parent = parent.parentWidget()
        self.refresh_current()

    def _on_inspected(self, index: int | None) -> None:
        if index is not None:
            self.show_tab(self.inspect)
