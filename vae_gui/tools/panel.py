"""The Tools dock: one tab per tool, found by name; only the visible tab redraws."""

from __future__ import annotations

from collections.abc import Callable

from PySide6 import QtCore, QtWidgets

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
    models.

    A tab is built the first time it is shown or asked for (`tab`, or the attributes
    `samples`, `manifold`, ...): five of the six are hidden when the window opens, and
    building their plots would delay its first frame (docs/benchmarks.md, Start-up)."""

    tab_built = QtCore.Signal(QtWidgets.QWidget)

    def __init__(self, state: ExplorerState, region_of: Callable[[str], Region],
                 evidence: EvidenceController,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self._factories: dict[str, Callable[[], QtWidgets.QWidget]] = {
            PriorSamplesTab.title: lambda: PriorSamplesTab(state),
            ManifoldTab.title: lambda: ManifoldTab(state, region_of),
            InspectTab.title: lambda: InspectTab(state),
            InterpolateTab.title: lambda: InterpolateTab(state),
            DrawTab.title: lambda: DrawTab(state),
            EvidenceTab.title: lambda: EvidenceTab(state, evidence),
        }
        self._built: dict[str, QtWidgets.QWidget] = {}
        for title in self._factories:
            self.addTab(QtWidgets.QWidget(), title)
        self.tab(PriorSamplesTab.title)  # the tab in front when the window opens
        self.currentChanged.connect(self.refresh_current)
        state.models_changed.connect(lambda _refit: state.update_view(self,
                                                                      self.refresh_current))
        state.inspected_changed.connect(self._on_inspected)

    @property
    def titles(self) -> list[str]:
        return list(self._factories)

    def tab(self, title: str) -> QtWidgets.QWidget:
        """The tab of that title, built now if it has not been yet."""
        if title not in self._built:
            widget = self._factories[title]()
            self._built[title] = widget
            index = self.titles.index(title)
            current = self.currentIndex()
            placeholder = self.widget(index)
            # Swapping the placeholder moves the current tab for a moment: nobody needs to
            # hear of it (it would build another tab).
            blocked = self.blockSignals(True)
            self.removeTab(index)
            self.insertTab(index, widget, title)
            self.setCurrentIndex(current)
            self.blockSignals(blocked)
            placeholder.deleteLater()
            self.tab_built.emit(widget)
        return self._built[title]

    def built(self, title: str) -> QtWidgets.QWidget | None:
        """The tab of that title if it has been built, else None (nothing to draw or stop)."""
        return self._built.get(title)

    samples = property(lambda self: self.tab(PriorSamplesTab.title))
    manifold = property(lambda self: self.tab(ManifoldTab.title))
    inspect = property(lambda self: self.tab(InspectTab.title))
    interpolate = property(lambda self: self.tab(InterpolateTab.title))
    draw = property(lambda self: self.tab(DrawTab.title))
    evidence = property(lambda self: self.tab(EvidenceTab.title))

    def refresh_current(self, *_args) -> None:
        if self.isVisible():
            self.tab(self.titles[self.currentIndex()]).refresh()

    def show_tab(self, tab: QtWidgets.QWidget | str) -> None:
        """Brings a tab (or the tab of that title) to the front, with its dock."""
        self.setCurrentWidget(self.tab(tab) if isinstance(tab, str) else tab)
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
