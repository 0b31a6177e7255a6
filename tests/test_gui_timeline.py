"""The run's timeline, driven as a user would: train, drag the slider back, Play, Present."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from checkpoint_files import write_run
from gui_helpers import make_window, press, type_into
from PIL import Image
from PySide6 import QtCore
from vae_gui.model.checkpoint import load_checkpoint
from vae_gui.model.movie_settings import MovieSettings

TIMEOUT = 60000


def decoded(model, z: np.ndarray) -> np.ndarray:
    """The decoder applied directly: what the decoded image must show."""
    with torch.no_grad():
        return torch.sigmoid(model.decoder(torch.as_tensor(z[None]))).reshape(28, 28).numpy()


def shown(window) -> dict[str, np.ndarray]:
    return {k: c.decoded.current_image() for k, c in window.columns.items()}


@pytest.mark.slow  # trains a run and renders a movie: ~5 s
def test_a_finished_run_scrubs_back_replays_returns_and_exports_a_movie(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    timeline, bar = window.timeline.timeline, window.timeline.bar
    assert len(timeline) == 0 and not bar.slider.isEnabled()  # the pretrained models
    assert not window.movie.action.isEnabled()
    type_into(qtbot, window.settings_panel.epochs, "2")
    press(qtbot, window, window.train_action)
    qtbot.waitUntil(lambda: window.session.has_run and not window.session.running,
                    timeout=TIMEOUT)
    final = window.snapshot
    # The run's moments from its start to its end; the present is its last snapshot.
    assert len(timeline) >= 3 and timeline[0].epoch < 1.0
    assert timeline[len(timeline) - 1] is final and final.epoch == 2.0
    assert bar.slider.isEnabled() and bar.slider.value() == len(timeline) - 1
    assert "now" in bar.label.text() and not bar.present_button.isEnabled()

    # Back to the first moment: every view shows the models as they were then.
    bar.slider.setFocus()
    qtbot.keyClick(bar.slider, QtCore.Qt.Key.Key_Home)
    first = timeline[0]
    qtbot.waitUntil(lambda: window.snapshot is first, timeout=TIMEOUT)
    assert first.epoch < 1.0 and bar.present_button.isEnabled()
    assert f"1/{len(timeline)}" in bar.label.text()
    for which, codes in (("left", first.ae_codes), ("right", first.vae_mu)):
        by_class = codes[np.argsort(first.labels, kind="stable")]  # the plot's order
        np.testing.assert_array_equal(window.columns[which].latent_plot.plotted_points(),
                                      by_class)
    z = window.cursor_z()
    images = shown(window)
    np.testing.assert_allclose(images["right"], decoded(first.vae, z), atol=1e-6)
    np.testing.assert_allclose(images["left"], decoded(first.ae, z), atol=1e-6)
    assert not np.allclose(images["right"], decoded(final.vae, z), atol=1e-3)
    assert window.columns["right"].loss_curves.point_count() < len(final.history) * 2 + 1

    # Play replays every kept moment in order, then rests at the present.
    seen: list[int] = []
    window.timeline.moment_shown.connect(
        lambda s: seen.append(-1 if s is None else s.step))
    bar.speed.setCurrentIndex(bar.speed.count() - 1)  # the fastest
    qtbot.mouseClick(bar.play_button, QtCore.Qt.MouseButton.LeftButton)
    assert bar.play_button.isChecked()
    qtbot.waitUntil(lambda: not bar.play_button.isChecked(), timeout=TIMEOUT)
    assert seen[:-1] == timeline.steps[1:-1] and seen[-1] == -1
    assert window.snapshot is final and window.timeline.index is None
    np.testing.assert_allclose(shown(window)["right"], decoded(final.vae, window.cursor_z()),
                               atol=1e-6)

    # File > Export run as movie: one frame per kept moment, in the background.
    assert window.movie.action.isEnabled()
    path = tmp_path / "run.gif"
    with qtbot.waitSignal(window.movie.saved, timeout=TIMEOUT):
        window.movie.export(path, MovieSettings(width=400, height=220, fps=10))
    with Image.open(path) as gif:
        assert gif.n_frames == len(timeline) and gif.size == (400, 220)
    assert "Saved the movie" in window.statusBar().currentMessage()

    # File > Save with the run's timeline, then Open: the same moments on the timeline.
    kept = [(s.step, s.epoch) for s in timeline]
    saved = tmp_path / "with-timeline.safetensors"
    window.files.save_checkpoint(str(saved), list(timeline))
    qtbot.waitUntil(lambda: "Saved" in window.statusBar().currentMessage(), timeout=TIMEOUT)
    assert len(load_checkpoint(saved).timeline) == len(kept) - 1
    window.open_checkpoint(str(saved))
    qtbot.waitUntil(lambda: window.source.endswith(saved.name), timeout=TIMEOUT)
    assert [(s.step, s.epoch) for s in timeline] == kept
    assert window.timeline.save_action.isEnabled()


@pytest.mark.slow
def test_while_training_a_past_moment_stays_until_present_is_pressed(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    timeline, bar = window.timeline.timeline, window.timeline.bar
    window.training.pace.setCurrentText("50 steps/s")
    type_into(qtbot, window.settings_panel.epochs, "1000")
    press(qtbot, window, window.train_action)
    qtbot.waitUntil(lambda: len(timeline) >= 3, timeout=TIMEOUT)
    bar.slider.setFocus()
    qtbot.keyClick(bar.slider, QtCore.Qt.Key.Key_Home)
    first = timeline[0]
    qtbot.waitUntil(lambda: window.snapshot is first, timeout=TIMEOUT)
    kept = len(timeline)
    # Training goes on and is recorded, but the moment chosen stays on screen.
    qtbot.waitUntil(lambda: len(timeline) >= kept + 2, timeout=TIMEOUT)
    assert window.session.running and window.snapshot is first
    assert bar.slider.value() == 0 and bar.slider.maximum() == len(timeline) - 1
    qtbot.mouseClick(bar.present_button, QtCore.Qt.MouseButton.LeftButton)
    newest = timeline[len(timeline) - 1]
    assert window.snapshot.step >= newest.step
    # ... and the window follows training again.
    qtbot.waitUntil(lambda: window.snapshot.step > newest.step, timeout=TIMEOUT)
    press(qtbot, window, window.stop_action)
    qtbot.waitUntil(lambda: not window.session.running, timeout=TIMEOUT)

def test_opening_a_run_folders_newest_checkpoint_reads_its_epochs(qtbot, tmp_path,
                                                                    make_checkpoint):
    run = write_run(tmp_path / "run", make_checkpoint, epochs=3)
    window = make_window(qtbot, tmp_path)
    timeline, bar = window.timeline.timeline, window.timeline.bar
    window.open_checkpoint(str(run / "checkpoint.safetensors"))
    qtbot.waitUntil(lambda: len(timeline) == 3, timeout=TIMEOUT)
    assert [s.epoch for s in timeline] == [1.0, 2.0, 3.0]
    assert bar.slider.value() == 2 and "now" in bar.label.text()
    bar.slider.setFocus()
    qtbot.keyClick(bar.slider, QtCore.Qt.Key.Key_Home)
    qtbot.waitUntil(lambda: window.snapshot is timeline[0], timeout=TIMEOUT)
    first = load_checkpoint(run / "epoch-0001.safetensors")
    z = window.cursor_z()
    np.testing.assert_allclose(shown(window)["right"], decoded(first.vae, z), atol=1e-6)
    qtbot.mouseClick(bar.present_button, QtCore.Qt.MouseButton.LeftButton)
    assert window.snapshot is timeline[2] and window.timeline.index is None
    # An epoch in the middle of the run is shown alone: its later epochs are not its past.
    window.open_checkpoint(str(run / "epoch-0002.safetensors"))
    qtbot.waitUntil(lambda: window.source.endswith("epoch-0002.safetensors"),
                    timeout=TIMEOUT)
    assert len(timeline) == 0

