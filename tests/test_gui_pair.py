"""Any two models side by side in the window, as a user gets them: VAE β=1 | VAE β=4 chosen
in the settings and trained, and two checkpoints opened beside each other."""

from __future__ import annotations

import numpy as np
import pytest
from gui_helpers import (  # noqa: F401 - the fixture is used by every test here
    collect_windows_after_test,
    drag,
    make_window,
    press,
    type_into,
    view_to_widget,
)
from PySide6 import QtCore, QtWidgets
from vae_gui.model.checkpoint import save_checkpoint
from vae_gui.model.config import TrainConfig
from vae_gui.model.latent import decode_images

TIMEOUT = 60000


def _choose_two_vaes(qtbot, window) -> None:
    panel = window.settings_panel
    panel.left_kind.setCurrentIndex(panel.left_kind.findData("vae"))
    type_into(qtbot, panel.left_beta, "1")
    type_into(qtbot, panel.beta, "4")
    type_into(qtbot, panel.epochs, "1")
    type_into(qtbot, panel.hidden, "32")


def _headings(window) -> list[str]:
    return [c.heading.text() for c in window.columns.values()]


def test_two_vaes_chosen_in_the_settings_train_side_by_side(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    assert "Autoencoder (AE)" in _headings(window)[0]
    _choose_two_vaes(qtbot, window)
    press(qtbot, window, window.train_action)
    qtbot.waitUntil(lambda: window.snapshot.step > 0 and not window.session.running
                    and window.snapshot.epoch == 1, timeout=TIMEOUT)
    left, right = window.snapshot.columns
    assert (left.name, right.name) == ("VAE \u03b2=1", "VAE \u03b2=4")
    assert window.state.origin.train_config.pair == ("vae:1", "vae")
    assert "Variational autoencoder (VAE \u03b2=1)" in _headings(window)[0]
    assert "Variational autoencoder (VAE \u03b2=4)" in _headings(window)[1]
    for which, column in window.columns.items():
        # Both have a prior: KL bars, not the AE's note, and a VAE's three loss curves.
        assert column.kl_stack.currentWidget() is column.kl_bars
        assert len(column.loss_curves._curves) == 3 and column.loss_curves.point_count() > 0
        assert "aggregate posterior" in column.hist_label.text()
        assert which in window.state.sampled_z
    # The linked cursor decodes each column's own VAE at the same z.
    plot = window.columns["left"].latent_plot
    start = view_to_widget(plot, *plot.cursor_position())
    drag(qtbot, plot, start, start + QtCore.QPoint(40, -30))
    z = np.array([plot.cursor_position()], np.float32)
    assert window.columns["right"].latent_plot.cursor_position() == pytest.approx(z[0])
    for column, model in zip(window.columns.values(), (left.model, right.model), strict=True):
        np.testing.assert_allclose(column.decoded.current_image(),
                                   decode_images(model, z, (28, 28))[0], atol=1e-6)
    # β (the right VAE's) changes a run as it goes; the models only with a new run.
    type_into(qtbot, window.settings_panel.beta, "2")
    assert "Changed" not in window.settings_panel.note.text()
    window.settings_panel.right_kind.setCurrentIndex(
        window.settings_panel.right_kind.findData("ae"))
    assert "Changed: models" in window.settings_panel.note.text()


def test_two_checkpoints_open_beside_each_other_with_their_figures(
        qtbot, tmp_path, make_checkpoint, monkeypatch):
    a = save_checkpoint(make_checkpoint(seed=1), tmp_path / "a.safetensors")
    b = save_checkpoint(make_checkpoint(seed=2, train_config=TrainConfig(seed=2, beta=4.0)),
                        tmp_path / "b.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a checkpoint")
    window = make_window(qtbot, tmp_path)
    file_menu = window.menuBar().actions()[0].menu()
    assert window.files.beside_action in file_menu.actions()
    window.files.beside_action.trigger()
    dialog = window.files.beside_dialog
    qtbot.waitExposed(dialog)
    ok = dialog.buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Ok)
    # Each Choose button asks for one file; a file that is no checkpoint says so.
    for k, path in enumerate((junk, b)):
        monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileName",
                            lambda *args, p=path, **kwargs: (str(p), ""))
        qtbot.mouseClick(dialog.choose_buttons[k], QtCore.Qt.MouseButton.LeftButton)
    assert "not a checkpoint vae-gui can open" in dialog.path_labels[0].text()
    assert not ok.isEnabled()
    monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileName",
                        lambda *args, **kwargs: (str(a), ""))
    qtbot.mouseClick(dialog.choose_buttons[0], QtCore.Qt.MouseButton.LeftButton)
    assert ok.isEnabled()
    assert [dialog.models[1].itemText(i) for i in range(2)] == [
        "AE (left column)", "VAE \u03b2=4 (right column)"]
    assert dialog.models[1].currentIndex() == 1  # each one's VAE unless chosen otherwise
    dialog.models[0].setCurrentIndex(0)  # A's AE
    with qtbot.waitSignal(window.files.beside_shown, timeout=TIMEOUT) as shown:
        qtbot.mouseClick(ok, QtCore.Qt.MouseButton.LeftButton)
    beside = shown.args[0]
    assert [p.name for p in beside.paths] == ["a.safetensors", "b.safetensors"]
    left, right = window.snapshot.columns
    assert (left.name, right.name) == ("A: AE", "B: VAE \u03b2=4")
    assert (left.variational, right.variational) == (False, True)
    assert "A: AE (a.safetensors) beside B: VAE" in window.source_label.text()
    assert "Autoencoder (A: AE)" in window.columns["left"].heading.text()
    # The columns hold A's AE and B's VAE: their points are each model's own encoding.
    images = np.asarray(window.state.origin.cloud_images.test_images()[:5])
    from vae_gui.model.latent import encode_images
    for column, model in zip((left, right), beside.loaded.checkpoint.models, strict=True):
        np.testing.assert_allclose(column.mu[:5], encode_images(model, images)[0], atol=1e-5)
    # Their evaluate figures are measured next to each other in the background; the same
    # architecture saves as one checkpoint of this pair.
    assert window.compare.runner.busy
    assert window.save_action.isEnabled()
    assert window.state.origin.train_config.pair == ("ae", "vae:4")
    window.compare.runner.shutdown()


def test_a_pair_of_two_image_sizes_is_refused_and_the_models_stay(
        qtbot, tmp_path, make_checkpoint):
    from vae_gui.model.config import ModelConfig

    a = save_checkpoint(make_checkpoint(), tmp_path / "a.safetensors")
    small = ModelConfig(image_shape=(16, 16), hidden=(8,))
    b = save_checkpoint(make_checkpoint(config=small), tmp_path / "b.safetensors")
    window = make_window(qtbot, tmp_path)
    before = window.snapshot
    with qtbot.waitSignal(window.files.error, timeout=TIMEOUT) as error:
        window.files.open_beside(str(a), str(b))
    assert "28x28 and 16x16" in error.args[1] and "were kept" in error.args[1]
    assert window.snapshot is before


def test_two_networks_beside_each_other_say_why_they_cannot_be_saved_as_one(
        qtbot, tmp_path, make_checkpoint):
    from vae_gui.model.config import ModelConfig

    a = save_checkpoint(make_checkpoint(seed=1), tmp_path / "a.safetensors")
    narrow = ModelConfig(hidden=(16,), latent_dim=2)
    b = save_checkpoint(make_checkpoint(seed=2, config=narrow), tmp_path / "b.safetensors")
    window = make_window(qtbot, tmp_path)
    with qtbot.waitSignal(window.files.beside_shown, timeout=TIMEOUT):
        window.files.open_beside(str(a), str(b), ask=False)
    window.compare.runner.shutdown()
    assert not window.save_action.isEnabled()
    assert "different networks" in window.save_action.statusTip()
    from vae_gui.workers.loading import PRETRAINED

    with qtbot.waitSignal(window.files.loaded, timeout=TIMEOUT):
        window.files.open_checkpoint(str(PRETRAINED), ask=False)  # one checkpoint saves again
    assert window.save_action.isEnabled()
    assert window.save_action.statusTip() == "Save both models shown to a checkpoint"


@pytest.mark.slow  # measures both checkpoints as evaluate does: ~20 s
def test_the_figures_of_two_models_opened_beside_compare_just_those_two(
        qtbot, tmp_path, make_checkpoint):
    a = save_checkpoint(make_checkpoint(seed=1), tmp_path / "a.safetensors")
    b = save_checkpoint(make_checkpoint(seed=2, train_config=TrainConfig(seed=2, beta=4.0)),
                        tmp_path / "b.safetensors")
    window = make_window(qtbot, tmp_path)
    with qtbot.waitSignal(window.compare.shown, timeout=300000) as shown:
        window.files.open_beside(str(a), str(b), (0, 1), ask=False)
    compared = shown.args[0]
    labels = [label for label, *_ in compared.rows]
    # A's AE against B's VAE, and nothing of the models not shown (A's VAE, B's AE).
    assert labels and all(label.startswith("AE (A) / VAE (B):") for label in labels)
    recon = next(row for row in compared.rows if row[0].endswith("reconstruction, nats"))
    reports = compared.comparison.reports
    assert recon[1:3] == (f"{reports[0]['sets']['test']['left']['recon']:.2f}",
                          f"{reports[1]['sets']['test']['right']['recon']:.2f}")
    compared.close()
