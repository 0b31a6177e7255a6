"""The settings panel's Architecture choice trains a convolutional pair from scratch, and the
window shows it as it shows the MLPs: the test points, and the image decoded at the cursor."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gui_helpers import (  # noqa: F401 - the fixture is used by every test here
    collect_windows_after_test,
    drag,
    make_window,
    press,
    type_into,
    view_to_widget,
)
from PySide6 import QtCore
from torch import nn
from vae_gui.model.config import ModelConfig, TrainConfig

TIMEOUT = 120000  # a cold start and one epoch of mnist5k on two shared cores


def decoded(model, z: np.ndarray, side: int) -> np.ndarray:
    """The image the model's decoder gives at `z`, applied directly."""
    with torch.no_grad():
        logits = model.decode(torch.as_tensor(z, dtype=torch.float32)[None])
        return torch.sigmoid(logits).reshape(side, side).numpy()


@pytest.mark.slow  # a few seconds; the convolutional networks are checked quickly in test_conv
def test_convolutional_chosen_in_the_panel_trains_and_is_shown(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path, load=False)
    panel = window.settings_panel
    combo = panel.arch
    assert [combo.itemText(i) for i in range(combo.count())] == ["MLP", "Convolutional"]
    assert combo.currentText() == "MLP" and "channel count" in combo.toolTip()
    combo.setCurrentIndex(combo.findText("Convolutional"))
    type_into(qtbot, panel.hidden, "8 16")
    type_into(qtbot, panel.epochs, "1")
    spec = panel.spec()
    assert spec.model_config.arch == "conv" and spec.model_config.hidden == (8, 16)

    press(qtbot, window, window.train_action)
    qtbot.waitUntil(lambda: window.session.has_run and not window.session.running,
                    timeout=TIMEOUT)
    qtbot.waitUntil(lambda: window.snapshot is not None and window.snapshot.epoch == 1.0,
                    timeout=TIMEOUT)
    snapshot = window.snapshot
    for model in (snapshot.ae, snapshot.vae):
        assert any(isinstance(m, nn.Conv2d) for m in model.modules())
        assert any(isinstance(m, nn.ConvTranspose2d) for m in model.modules())
    assert window.state.origin.model_config.arch == "conv"

    # The latent plots show every test point where the conv encoders put them.
    n_test = len(snapshot.labels)
    assert n_test > 0
    order = np.argsort(snapshot.labels, kind="stable")  # the plot draws class by class
    for which, codes in (("left", snapshot.ae_codes), ("right", snapshot.vae_mu)):
        plot = window.columns[which].latent_plot
        qtbot.waitUntil(lambda plot=plot: plot.point_count() == n_test, timeout=TIMEOUT)
        np.testing.assert_array_equal(plot.plotted_points(), codes[order])

    # Dragged elsewhere, the cursor shows the conv decoders' images, applied directly.
    vae_plot = window.columns["right"].latent_plot
    start = view_to_widget(vae_plot, *vae_plot.cursor_position())
    drag(qtbot, vae_plot, start, start + QtCore.QPoint(60, -45))
    z = window.cursor_z()
    assert abs(z).sum() > 0.01, "the cursor did not follow the drag"
    side = snapshot.vae.config.image_shape[0]
    for which, model in (("left", snapshot.ae), ("right", snapshot.vae)):
        expected = decoded(model, z, side)
        column = window.columns[which]
        qtbot.waitUntil(lambda c=column, e=expected: c.decoded.current_image() is not None
                        and np.allclose(c.decoded.current_image(), e, atol=1e-6),
                        timeout=TIMEOUT)


def test_a_loaded_conv_configuration_shows_in_the_panel_and_comes_back(qtbot):
    from vae_gui.views.settings_panel import SettingsPanel

    panel = SettingsPanel()
    qtbot.addWidget(panel)
    model = ModelConfig(hidden=(16, 32), latent_dim=3, arch="conv")
    train = TrainConfig(epochs=4)
    panel.show_configs("mnist5k", model, train)
    assert panel.arch.currentText() == "Convolutional"
    assert panel.spec().model_config == model
    panel.show_configs("mnist5k", ModelConfig(), train)  # an MLP checkpoint: back to MLP
    assert panel.arch.currentText() == "MLP" and panel.spec().model_config.arch == "mlp"
