"""One colour per class, for the window's views and the exported movies alike."""

from __future__ import annotations

import colorsys

# Tableau 10: distinct, readable on white and colour-blind tolerant.
TAB10 = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
         "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def class_color(index: int, n_classes: int) -> str:
    """Tableau 10 for up to ten classes, evenly spaced hues beyond that."""
    if n_classes <= len(TAB10):
        return TAB10[index]
    r, g, b = colorsys.hsv_to_rgb(index / n_classes, 0.75, 0.85)
    return f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}"


def rgb(color: str) -> tuple[int, int, int]:
    """'#rrggbb' as (r, g, b)."""
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)
