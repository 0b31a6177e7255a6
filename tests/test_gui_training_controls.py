"""The training controls say what they will do: one primary button whose label is its
action, changed settings marked until a new run takes them, β and the learning rate live,
and a pace control."""

from __future__ import annotations

import numpy as np
import pytest
from gui_helpers import (  # noqa: F401 - the fixture is used by every test here
    collect_windows_after_test,
    make_window,
    press,
    toolbar_button,
    type_into,
)

TRAIN, CONTINUE, PAUSE = "\u25b6 Train from scratch", "\u25b6 Continue", "\u275a\u275a Pause"


def test_changed_settings_are_marked_and_a_press_trains_with_them(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    panel = window.settings_panel
    press(qtbot, window, window.reset_action)
    qtbot.waitUntil(lambda: window.snapshot.step == 0 and window.session.running,
                    timeout=30000)
    assert window.train_action.text() == CONTINUE and "Changed" not in panel.note.text()
    type_into(qtbot, panel.latent_dim, "8")
    type_into(qtbot, panel.dropout, "0.5")
    type_into(qtbot, panel.batch_size, "64")
    # The old run cannot take these: the button says a new run starts, the panel says why.
    assert window.train_action.text() == TRAIN
    assert "Changed: latent dimension, encoder dropout, batch size" in panel.note.text()
    press(qtbot, window, window.train_action)
    qtbot.waitUntil(lambda: window.snapshot.ae_codes.shape[1] == 8
                    and window.snapshot.step > 0, timeout=60000)
    assert window.snapshot.steps_per_epoch == int(np.ceil(4000 / 64))
    # Every setting reaches the run (the dropout was once dropped on the way).
    config = window.state.origin.model_config
    assert (config.latent_dim, config.encoder_dropout) == (8, 0.5)
    assert "Changed" not in panel.note.text() and window.train_action.text() == PAUSE


def test_no_two_controls_share_a_label_and_the_primary_button_keeps_its_place(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    button = toolbar_button(window, window.train_action)
    geometry, pretrained = button.geometry(), window.snapshot
    press(qtbot, window, window.train_action)
    qtbot.waitUntil(lambda: window.snapshot is not pretrained and window.snapshot.step > 0,
                    timeout=30000)
    assert window.train_action.text() == PAUSE
    labels = [a.text() for a in window.training.actions]
    assert len(set(labels)) == len(labels)
    qtbot.waitUntil(lambda: button.geometry() == geometry, timeout=5000)
    press(qtbot, window, window.stop_action)
    qtbot.waitUntil(lambda: not window.session.running, timeout=30000)
    assert window.train_action.text() == CONTINUE and button.geometry() == geometry
    # One line says what is shown: the step of the models on screen, not a stale progress.
    assert window.progress_label.text() == ""
    assert window.source_label.text().startswith(f"Stopped: step {window.snapshot.step:,}, ")


def test_beta_and_the_learning_rate_change_a_running_run_and_are_marked(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    panel, pretrained = window.settings_panel, window.snapshot
    press(qtbot, window, window.train_action)
    qtbot.waitUntil(lambda: window.snapshot is not pretrained and window.snapshot.step > 5,
                    timeout=60000)
    type_into(qtbot, panel.beta, "4")
    qtbot.waitUntil(lambda: any(c.beta == 4.0 for c in window.snapshot.changes),
                    timeout=60000)
    assert window.train_action.text() == PAUSE  # the same run goes on
    change = next(c for c in window.snapshot.changes if c.beta == 4.0)
    curves = window.columns["right"].loss_curves
    qtbot.waitUntil(lambda: bool(curves.marked_changes()), timeout=10000)
    epoch, label = curves.marked_changes()[-1]
    # The AE has no KL term: its curves mark the learning rate alone.
    ae_curves = window.columns["left"].loss_curves
    qtbot.waitUntil(lambda: bool(ae_curves.marked_changes()), timeout=10000)
    assert ae_curves.marked_changes()[-1][1].startswith("lr ")
    assert label.startswith("\u03b2 4, lr") and epoch >= change.step / (
        window.snapshot.steps_per_epoch) - 1e-9
    # The loss trains with β = 4 from there on: the VAE's loss weighs its KL term by 4.
    press(qtbot, window, window.stop_action)
    qtbot.waitUntil(lambda: not window.session.running, timeout=30000)
    step, _, _, _, vae_loss, vae_recon, vae_kl = window.snapshot.train_curve[-1]
    assert step > change.step
    assert vae_loss == np.float64(vae_loss) and abs(vae_loss - (vae_recon + 4.0 * vae_kl)) < (
        1e-4 * vae_loss)


def test_the_pace_reaches_the_run(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    window.training.pace.setCurrentText("2 steps/s")
    press(qtbot, window, window.train_action)
    qtbot.waitUntil(lambda: window.session.running, timeout=30000)
    assert window.session.pace == 2.0
    window.training.pace.setCurrentText("full speed")
    assert window.session.pace is None


@pytest.mark.slow  # a few seconds; test_gui_reliability checks a divergence quickly
def test_after_a_divergence_a_lower_learning_rate_continues_the_run(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    panel = window.settings_panel
    type_into(qtbot, panel.lr, "10")
    with qtbot.waitSignal(window.session.failed, timeout=60000) as failed:
        press(qtbot, window, window.train_action)
    assert "lower the learning rate (now 10)" in failed.args[0]
    qtbot.waitUntil(lambda: not window.session.running, timeout=30000)
    window.error_box.close()
    type_into(qtbot, panel.lr, "0.001")
    assert window.train_action.text() == CONTINUE  # the learning rate needs no new run
    step = window.snapshot.step
    failures = []
    window.session.failed.connect(failures.append)
    press(qtbot, window, window.train_action)
    qtbot.waitUntil(lambda: window.snapshot.step >= step + 40, timeout=60000)
    assert not failures
    assert window.snapshot.changes[-1].lr == 0.001
    press(qtbot, window, window.stop_action)
    qtbot.waitUntil(lambda: not window.session.running, timeout=30000)


@pytest.mark.slow  # trains at batch 1 until 100 steps are shown (8 s)
def test_the_progress_bar_survives_a_run_of_hundreds_of_millions_of_steps(qtbot, tmp_path):
    # Batch 1 for 100,000 epochs of mnist5k is 400 million steps (60,000 images: 6 billion,
    # past what Qt's 32-bit progress bar holds); before, each progress update raised
    # OverflowError. The bar now shows the share of the run done, and the label the counts.
    window = make_window(qtbot, tmp_path)
    panel = window.settings_panel
    type_into(qtbot, panel.batch_size, "1")
    type_into(qtbot, panel.epochs, "100000")
    press(qtbot, window, window.train_action)
    qtbot.waitUntil(lambda: window.snapshot.steps_per_epoch == 4000
                    and window.snapshot.step > 100, timeout=60000)
    label = window.progress_label.text()
    assert "epoch 1/100000" in label and "/4000" in label
    bar = window.progress_bar
    assert bar.maximum() == 10_000 and 0 <= bar.value() < bar.maximum()
    press(qtbot, window, window.stop_action)
    qtbot.waitUntil(lambda: not window.session.running, timeout=30000)
    # The largest run the bounds allow, as the training thread reports it, still fits.
    from vae_gui.model.training import Progress

    window.training._on_progress(Progress(100_000, 100_000, 60_000 * 100_000 - 1, 59_999,
                                          60_000, 1.0))
    assert bar.value() == 10_000 and "epoch 100000/100000" in window.progress_label.text()
