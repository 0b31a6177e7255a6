"""A log-scale axis whose labels never crowd a short plot and never all vanish."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg


class LogAxis(pg.AxisItem):
    """A log axis that labels its decades only. pyqtgraph labels every tick between them too
    (2 to 9 times a power of ten) when few decades are in view, as after an epoch or two:
    eight labels per decade overlap in plots as short as the window's. With fewer than two
    decades in view, 2 and 5 times a power of ten keep theirs too; and where not even two of
    those ticks are in view (a loss between 150 and 200, say), evenly spaced round values are
    ticked and labelled instead, where pyqtgraph would label nothing."""

    def __init__(self, orientation: str) -> None:
        super().__init__(orientation)
        self._fine: set[float] = set()  # the round values ticked in a narrow view

    def logTickValues(self, minVal, maxVal, size, stdTicks):  # noqa: N802, N803 - pyqtgraph
        ticks = super().logTickValues(minVal, maxVal, size, stdTicks)
        if sum(len(values) for _, values in ticks) >= 2 or not maxVal > minVal:
            return ticks
        lo, hi = 10.0 ** minVal, 10.0 ** maxVal
        step = _round_step((hi - lo) / 3)
        values = np.arange(math.ceil(lo / step) * step, hi, step)
        fine = [float(np.log10(v)) for v in values if v > 0]
        self._fine = {round(v, 9) for v in fine}
        return [(None, fine)]

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph's API
        if self.logMode and values and all(round(v, 9) in self._fine for v in values):
            return [f"{10.0 ** v:g}" for v in values]
        strings = super().tickStrings(values, scale, spacing)
        if not self.logMode or spacing is not None:  # spacing None: the level between decades
            return strings
        lo, hi = sorted(self.range)
        decades_in_view = math.floor(hi) - math.ceil(lo) + 1
        keep = (1, 2, 5) if decades_in_view < 2 else (1,)  # the level holds the decades too
        return [text if round(10 ** (v - math.floor(v))) in keep else ""
                for text, v in zip(strings, values, strict=True)]


def _round_step(span: float) -> float:
    """1, 2 or 5 times a power of ten, at least `span`."""
    power = 10.0 ** math.floor(math.log10(span))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= span)
