"""The log axis of the loss curves and the Evidence tab: few labels, never overlapping, never
none."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.mark.parametrize(("lo", "hi", "expected"), [
    (4.0, 300.0, {"10¹", "10²"}),  # two decades: the decades alone, no crowd of 2·10¹ ...
    (3.0, 60.0, {"5", "10¹", "2·10¹", "5·10¹"}),  # fewer: 2 and 5 times them too
    (151.0, 199.0, {"160", "180"}),  # no such tick in view: round values instead of none
])
def test_the_loss_axis_labels_few_ticks_and_never_none(qtbot, lo, hi, expected):
    """The loss curves' log axis, short as in the window (pyqtgraph labels up to eight
    ticks per decade there, which overlap, or none at all in a narrow view)."""
    from vae_gui.views.loss_curves import LossCurves

    curves = LossCurves("left")
    qtbot.addWidget(curves)
    curves.resize(400, 120)
    curves.show()
    qtbot.waitExposed(curves)
    curves.getPlotItem().setYRange(np.log10(lo), np.log10(hi), padding=0)
    axis = curves.getPlotItem().getAxis("left")
    shown = set()
    lo_log, hi_log = sorted(axis.range)
    for spacing, values in axis.tickValues(lo_log, hi_log, 120):
        shown |= {t for t in axis.tickStrings(values, 1.0, spacing) if t}
    assert shown == expected
