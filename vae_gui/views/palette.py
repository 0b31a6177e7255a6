"""Colours shared by every view, so that a class has one colour everywhere."""

from __future__ import annotations

import html

# The class colours live with the model, whose exported movies use them too.
from vae_gui.model.class_colors import TAB10, class_color, class_colors  # noqa: F401 - shared here

AE_COLOR = "#d62728"
VAE_COLOR = "#1f77b4"
# Each column's own colour, whatever model it holds: the default pair's AE and VAE colours.
COLUMN_COLORS = {"left": AE_COLOR, "right": VAE_COLOR}
PRIOR_COLOR = "#404040"
CURSOR_COLOR = "#000000"  # no class uses black: the cursor never looks like a point
DRAWN_COLOR = "#000000"  # the Draw tool's star (white-filled) and ellipse
MARK_COLOR = "#ffffff"  # the inspected point and the ends of an interpolation path

LEGEND_CLASSES = 30  # more would not fit on the legend's one line anyway
LEGEND_NAME_CHARS = 24


def legend_html(class_names: tuple[str, ...]) -> str:
    """A one-line legend of class colours, for a QLabel: the first LEGEND_CLASSES classes,
    each name cut to LEGEND_NAME_CHARS, then how many more. The names are escaped: they come
    from folder names and checkpoints, and a name such as "<img width=20000>" must show as
    the text it is, not widen the window."""
    n = len(class_names)
    shown = class_names[:LEGEND_CLASSES]
    parts = [f"<span style='color:{color}; font-size:14pt'>\u25cf</span>"
             f"{html.escape(_short(name))}"
             for name, color in zip(shown, class_colors(class_names), strict=False)]
    if n > LEGEND_CLASSES:
        parts.append(f"and {n - LEGEND_CLASSES:,} more classes")
    return " ".join(parts)


def _short(name: str) -> str:
    return name if len(name) <= LEGEND_NAME_CHARS else name[:LEGEND_NAME_CHARS - 1] + "\u2026"
