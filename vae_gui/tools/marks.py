"""What the tools mark on both latent plots: the inspected point with the VAE's posterior
ellipse, the interpolation path, and the drawn digit's encoding."""

from __future__ import annotations

import numpy as np

from vae_gui.explorer_state import ExplorerState
from vae_gui.model.latent import Projection, ellipse
from vae_gui.tools.draw import DrawTab
from vae_gui.tools.interpolate import InterpolateTab
from vae_gui.tools.panel import ToolsPanel
from vae_gui.views.overlays import Overlays
from vae_gui.views.palette import DRAWN_COLOR, MARK_COLOR


def posterior_ellipse(projection: Projection, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """mu +/- 2 sigma in the plane: exact for axis projections, the spread along each
    plotted direction for PCA (the posterior is axis-aligned in z)."""
    center = projection.to_plane(mu[None])[0]
    radii = 2 * np.sqrt((projection.basis ** 2 * (sigma ** 2)[:, None]).sum(axis=0))
    return ellipse(center, radii)


class ToolMarks:
    """Redraws the marks whenever the state or a tool changes them."""

    def __init__(self, state: ExplorerState, overlays: dict[str, Overlays],
                 tools: ToolsPanel) -> None:
        self.state = state
        self.overlays = overlays  # which -> the Overlays of that plot
        self.tools = tools
        state.models_changed.connect(lambda _refit: state.update_view(self, self.draw))
        state.inspected_changed.connect(self.draw)
        tools.tab_built.connect(self._on_tab_built)  # a tab not yet built marks nothing

    def _on_tab_built(self, tab) -> None:
        if isinstance(tab, InterpolateTab):
            tab.path_changed.connect(self.draw)
        elif isinstance(tab, DrawTab):
            tab.encoded.connect(self.draw)

    def draw(self, *_args) -> None:
        s = self.state.snapshot
        if s is None:
            return
        for which, overlays in self.overlays.items():
            projection = self.state.projections[which]
            codes = self.state.encoded(which)
            self._inspected(which, overlays, projection, codes)
            interpolate = self.tools.built(InterpolateTab.title)
            path = None if interpolate is None else interpolate.path()
            if path is not None and path.shape[1] == codes.shape[1]:
                xy = projection.to_plane(path)
                overlays.line("path", xy, "#111111", width=2, dashed=True)
                overlays.markers("path-a", xy[:1], MARK_COLOR, symbol="o", size=12)
                overlays.markers("path-b", xy[-1:], MARK_COLOR, symbol="s", size=12)
            else:  # no path (its ends unpinned), or one of another latent dimension
                overlays.line("path", None, "#111111")
                overlays.markers("path-a", None, MARK_COLOR)
                overlays.markers("path-b", None, MARK_COLOR)
            draw_tab = self.tools.built(DrawTab.title)
            code = None if draw_tab is None else draw_tab.codes.get(which)
            logvar = None if draw_tab is None else draw_tab.logvars.get(which)
            if code is not None and len(code) == codes.shape[1]:
                overlays.markers("drawn", projection.to_plane(code[None]), MARK_COLOR)
                if logvar is not None:
                    overlays.line("drawn-ellipse", posterior_ellipse(
                        projection, code, np.exp(0.5 * logvar)), DRAWN_COLOR)
            else:
                overlays.markers("drawn", None, DRAWN_COLOR)
                overlays.line("drawn-ellipse", None, DRAWN_COLOR)

    def _inspected(self, which: str, overlays: Overlays, projection: Projection,
                   codes: np.ndarray) -> None:
        i = self.state.inspected
        if i is None or i >= len(codes):
            overlays.markers("inspected", None, MARK_COLOR)
            overlays.line("inspected-ellipse", None, "k")
            return
        overlays.markers("inspected", projection.to_plane(codes[i][None]), MARK_COLOR,
                         symbol="o", size=14)
        logvar = self.state.logvar(which)
        if logvar is not None:
            sigma = np.exp(0.5 * logvar[i])
            overlays.line("inspected-ellipse",
                          posterior_ellipse(projection, codes[i], sigma), "k", width=2)
