"""Tools > β sweep, driven as a user would: the sweep trains in the background, its window
shows the clouds and the figures, and they save."""

from __future__ import annotations

import json

import numpy as np
import torch
from gui_helpers import make_window, type_into
from PIL import Image
from vae_gui.model.sweep import evaluate_vae

TIMEOUT = 120000


def test_a_sweep_shows_each_betas_figures_and_saves_them(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    assert window.sweep.action in window.menuBar().actions()[3].menu().actions()  # Tools
    type_into(qtbot, window.settings_panel.hidden, "32")
    with qtbot.waitSignal(window.sweep.shown, timeout=TIMEOUT) as shown:
        window.sweep.run([0.5, 8.0], epochs=1)
    sweep_window = shown.args[0]
    result = sweep_window.result
    assert result.betas == (0.5, 8.0) and len(result.history[0]) == 1
    assert result.models[0].encoder.net[0].out_features == 32  # the panel's hidden size
    # The figures are the models' own, measured again here on the test split.
    test_x = torch.tensor(window.state.origin.data.test_images).flatten(1)
    for model, rate, distortion in zip(result.models, result.rate, result.distortion,
                                       strict=True):
        again = evaluate_vae(model, test_x, "bce")
        np.testing.assert_allclose(again, (rate, distortion), rtol=1e-5)
    text = sweep_window.table.text()
    assert f"{result.rate[1]:.2f}" in text and f"{result.distortion[0]:.2f}" in text
    assert not sweep_window.image.pixmap().isNull()

    written = sweep_window.save(tmp_path / "sweep")
    assert sorted(p.name for p in written) == ["sweep.json", "sweep.png"]
    figures = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    assert [b["rate"] for b in figures["betas"]] == list(result.rate)
    with Image.open(tmp_path / "sweep" / "sweep.png") as png:
        assert png.size == sweep_window.picture.size
    sweep_window.close()


def test_a_sweep_with_a_bad_beta_says_why_and_starts_nothing(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    with qtbot.waitSignal(window.sweep.error) as error:
        window.sweep.run([1.0, -2.0], epochs=1)
    assert "beta" in error.args[1].lower() and not window.sweep.runner.busy
    with qtbot.waitSignal(window.sweep.error) as error:
        window.sweep.run([], epochs=1)
    assert "1 to 12" in error.args[1]
