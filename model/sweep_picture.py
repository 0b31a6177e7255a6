"""A β sweep as one picture, drawn with Pillow: one panel of test means per β, all at the
same scale (so a cloud that β squeezed onto the prior looks small), and the rate-distortion
curve that the βs trace."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from vae_gui.model.class_colors import class_colors, rgb
from vae_gui.model.latent import Projection, pca_projection
from vae_gui.model.movie import (
    FONT_PX,
    FRAME_GREY,
    REACH_QUANTILE,
    RING_GREY,
    TEXT,
    draw_caption_and_legend,
    movie_font,
    paint_dots,
)

if TYPE_CHECKING:
    from vae_gui.model.sweep import SweepResult

MARGIN_PX, TITLE_PX, LEGEND_PX = 8, 20, 24
MIN_SIDE_PX = 60  # a panel smaller than this could not hold its title or tick labels
GRID_GREY = (232, 232, 232)
CURVE_GREY = (110, 110, 110)
# The rate-distortion panel's plot area, inset from its square for the tick and axis labels.
CURVE_INSET = {"left": 58, "right": 16, "top": 12, "bottom": 40}


@dataclass(frozen=True)
class Layout:
    """Where a sweep picture's square panels go: the βs' in order, then the curve's."""

    width: int
    height: int
    side: int  # of every panel, in pixels
    panels: tuple[tuple[int, int], ...]  # (left, top) of each panel's square

    def box(self, k: int) -> tuple[int, int, int, int]:
        """Panel k's square as (left, top, right, bottom), edges included."""
        left, top = self.panels[k]
        return left, top, left + self.side, top + self.side


def sweep_layout(n_betas: int, width: int, height: int | None = None) -> Layout:
    """Panels in rows of three or more (nearly square as a whole), as large as `width` and
    `height` allow; without `height`, as tall as the panels need. ValueError when too small."""
    n = n_betas + 1
    cols = min(n, max(3, math.ceil(math.sqrt(n))))
    rows = math.ceil(n / cols)
    cell_w = width // cols
    side = cell_w - 2 * MARGIN_PX
    if height is not None:
        side = min(side, (height - LEGEND_PX - MARGIN_PX) // rows - TITLE_PX - MARGIN_PX)
    if side < MIN_SIDE_PX:
        raise ValueError(f"a sweep picture of {n_betas} values of beta needs panels of at "
                         f"least {MIN_SIDE_PX} pixels: make it larger than {width} x "
                         f"{height if height is not None else 'auto'}")
    row_h = TITLE_PX + side + MARGIN_PX
    if height is None:
        height = MARGIN_PX + rows * row_h + LEGEND_PX
    panels = tuple((k % cols * cell_w + (cell_w - side) // 2,
                    MARGIN_PX + k // cols * row_h + TITLE_PX) for k in range(n))
    return Layout(width, height, side, panels)


def beta_symbol(font: ImageFont.ImageFont | ImageFont.FreeTypeFont) -> str:
    """"β" where `font` has the glyph, else "beta" (Pillow's default font has no Greek and
    would draw a box)."""
    try:
        # A noncharacter no font has: the glyph drawn for a missing one, to compare against.
        missing = font.getmask("\uffff")
        beta = font.getmask("β")
    except (UnicodeError, OSError, ValueError):
        return "beta"
    if beta.size == missing.size and bytes(beta) == bytes(missing):
        return "beta"
    return "β"


def _projection(mu: np.ndarray) -> Projection:
    return pca_projection(mu) if mu.shape[1] > 2 else Projection.axes(mu.shape[1])


def _reach(xy: np.ndarray, centre: np.ndarray) -> float:
    """The half-width that shows the points around `centre`, strays aside (REACH_QUANTILE)."""
    offsets = np.abs(xy[np.isfinite(xy).all(axis=1)] - centre)
    return float(np.quantile(offsets, REACH_QUANTILE)) if offsets.size else 0.0


def sweep_picture(result: SweepResult, width: int = 1200,
                  height: int | None = None) -> Image.Image:
    """The sweep's test means, one panel per β with the prior's 1, 2 and 3 sd rings, all at
    one scale; then rate against distortion for every β; a class legend under them."""
    layout = sweep_layout(len(result.betas), width, height)
    image = Image.new("RGB", (layout.width, layout.height), "white")
    draw = ImageDraw.Draw(image)
    font = movie_font()
    beta = beta_symbol(font)
    colors = np.array([rgb(c) for c in class_colors(result.class_names)], np.uint8)

    projections = [_projection(mu) for mu in result.mu]
    planes = [p.to_plane(mu) for p, mu in zip(projections, result.mu, strict=True)]
    centres = [p.prior_center() for p in projections]
    # One reach for all panels, never less than the 3 sd ring: the scale is shared so that
    # the panels compare, and the rings are the same size in each.
    reach = 1.05 * max([3.0] + [_reach(xy, c) for xy, c in zip(planes, centres, strict=True)])
    scale = layout.side / (2 * reach)  # pixels per latent unit
    side = layout.side
    for k, b in enumerate(result.betas):
        left, top, right, bottom = layout.box(k)
        cx, cy = left + side / 2, top + side / 2
        draw.rectangle((left, top, right, bottom), outline=FRAME_GREY)
        for r in (1, 2, 3):
            rr = r * scale
            draw.ellipse((cx - rr, cy - rr, cx + rr, cy + rr), outline=RING_GREY)
        title = f"{beta} = {b:g}: R {result.rate[k]:.1f}, D {result.distortion[k]:.1f}"
        draw.text((left, top - TITLE_PX + 3), title, fill=TEXT, font=font)
    _draw_curve(draw, font, layout, result, beta)
    _draw_legend(draw, font, layout, result, colors)

    pixels = np.array(image)
    dot = 2 if side < 240 else 3  # square dots of 2 or 3 pixels, as in the movies
    order = np.argsort(np.asarray(result.labels), kind="stable")  # a later class on top
    labels = np.asarray(result.labels)[order]
    for k, (xy, centre) in enumerate(zip(planes, centres, strict=True)):
        left, top, _, _ = layout.box(k)
        paint_dots(pixels, xy[order] - centre, colors[labels], (left, top, side), scale, dot)
    return Image.fromarray(pixels)


def nice_ticks(lo: float, hi: float, count: int = 4) -> list[float]:
    """About `count` round values (steps of 1, 2 or 5 times a power of ten) in [lo, hi]."""
    span = hi - lo
    if not span > 0:
        return [lo]
    raw = span / count
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9)
    return [v * step for v in range(first, math.floor(hi / step + 1e-9) + 1)]


def _tick_text(value: float, ticks: list[float]) -> str:
    step = ticks[1] - ticks[0] if len(ticks) > 1 else abs(value) or 1.0
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    return f"{value:.{decimals}f}"


def _padded_range(values: list[float]) -> tuple[float, float]:
    """The values' range with a margin, so that no marker sits on the plot's edge."""
    lo, hi = min(values), max(values)
    pad = 0.1 * (hi - lo) if hi > lo else max(0.05 * abs(hi), 0.5)
    return lo - pad, hi + pad


def _draw_curve(draw: ImageDraw.ImageDraw, font, layout: Layout, result: SweepResult,
                beta: str) -> None:
    """The last panel: distortion against rate, one labelled marker per β, joined in order."""
    k = len(result.betas)
    left, top, right, bottom = layout.box(k)
    draw.rectangle((left, top, right, bottom), outline=FRAME_GREY)
    draw.text((left, top - TITLE_PX + 3), f"rate and distortion by {beta} (test split)",
              fill=TEXT, font=font)
    x0, x1 = left + CURVE_INSET["left"], right - CURVE_INSET["right"]
    y0, y1 = top + CURVE_INSET["top"], bottom - CURVE_INSET["bottom"]
    points = [(b, r, d) for b, r, d in zip(result.betas, result.rate, result.distortion,
                                          strict=True) if math.isfinite(r) and math.isfinite(d)]
    if not points or x1 - x0 < 20 or y1 - y0 < 20:
        return
    rlo, rhi = _padded_range([p[1] for p in points])
    dlo, dhi = _padded_range([p[2] for p in points])

    def at(rate: float, distortion: float) -> tuple[float, float]:
        return (x0 + (rate - rlo) / (rhi - rlo) * (x1 - x0),
                y1 - (distortion - dlo) / (dhi - dlo) * (y1 - y0))

    x_ticks, y_ticks = nice_ticks(rlo, rhi), nice_ticks(dlo, dhi)
    for t in x_ticks:
        x = at(t, dlo)[0]
        draw.line((x, y0, x, y1), fill=GRID_GREY)
        text = _tick_text(t, x_ticks)
        draw.text((x - draw.textlength(text, font=font) / 2, y1 + 3), text, fill=TEXT,
                  font=font)
    for t in y_ticks:
        y = at(rlo, t)[1]
        draw.line((x0, y, x1, y), fill=GRID_GREY)
        text = _tick_text(t, y_ticks)
        draw.text((x0 - 4 - draw.textlength(text, font=font), y - FONT_PX / 2 - 1), text,
                  fill=TEXT, font=font)
    draw.rectangle((x0, y0, x1, y1), outline=TEXT)
    x_label = "rate: KL(q(z|x) || p(z)), nats"
    draw.text(((x0 + x1 - draw.textlength(x_label, font=font)) / 2, bottom - FONT_PX - 6),
              x_label, fill=TEXT, font=font)
    _draw_vertical_text(draw, font, "distortion: reconstruction, nats", left + 3,
                        (y0 + y1) / 2)

    xy = [at(r, d) for _, r, d in points]
    if len(xy) > 1:
        draw.line(xy, fill=CURVE_GREY, width=2)
    for (b, _, _), (x, y) in zip(points, xy, strict=True):
        draw.ellipse((x - 4, y - 4, x + 4, y + 4), fill=TEXT)
        label = f"{b:g}"
        # Right of the marker, or left of it where the plot ends.
        lx = x + 6 if x + 6 + draw.textlength(label, font=font) < x1 else (
            x - 6 - draw.textlength(label, font=font))
        draw.text((lx, y - FONT_PX - 2), label, fill=TEXT, font=font)


def _draw_vertical_text(draw: ImageDraw.ImageDraw, font, text: str, left: float,
                        middle: float) -> None:
    """`text` turned a quarter to the left, its top at `left`, centred on `middle`."""
    w = int(draw.textlength(text, font=font)) + 2
    strip = Image.new("L", (w, FONT_PX + 4), 0)
    ImageDraw.Draw(strip).text((1, 0), text, fill=255, font=font)
    strip = strip.rotate(90, expand=True)
    draw.bitmap((int(left), int(middle - strip.height / 2)), strip, fill=TEXT)


def _draw_legend(draw: ImageDraw.ImageDraw, font, layout: Layout, result: SweepResult,
                 colors: np.ndarray) -> None:
    """The bottom line: what the panels show, then one coloured square per class."""
    y = layout.height - LEGEND_PX + 4
    plane = " on each panel's PCA plane" if result.mu and result.mu[0].shape[1] > 2 else ""
    caption = f"{result.dataset}: test means{plane}; rings at 1, 2, 3 sd of the prior"
    draw_caption_and_legend(draw, font, y, layout.width, caption, result.class_names, colors)
