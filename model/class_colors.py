"""One colour per class, for the window's views and the exported movies alike."""

from __future__ import annotations

import colorsys
from collections.abc import Sequence

# Tableau 10: distinct, readable on white and colour-blind tolerant.
TAB10 = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
         "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def class_color(index: int, n_classes: int) -> str:
    """Tableau 10 for up to ten classes, evenly spaced hues beyond that."""
    if n_classes <= len(TAB10):
        return TAB10[index]
    r, g, b = colorsys.hsv_to_rgb(index / n_classes, 0.75, 0.85)
    return f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}"


def class_colors(class_names: Sequence[str]) -> list[str]:
    """One colour per class: the shapes demo's classes in their own hues, so that the dots
    of the circles have the circles' colour; any other classes as class_color gives them."""
    from vae_gui.model.shapes import CLASS_HUES, SHAPE_CLASSES

    if tuple(class_names) == SHAPE_CLASSES:
        # A little darker than the shapes, to read on the plots' white.
        return [_hex(colorsys.hsv_to_rgb(hue / 6, 0.9, 0.8)) for hue in CLASS_HUES]
    n = len(class_names)
    return [class_color(i, n) for i in range(n)]


def _hex(rgb_fractions: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{round(255 * c):02x}" for c in rgb_fractions)


def rgb(color: str) -> tuple[int, int, int]:
    """'#rrggbb' as (r, g, b)."""
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)
