"""The live explorer, driven as a user would: drag, click, press Train, open and save files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from app_process import MODELS_SHOWN, TRAINING_STARTED, AppProcess
from gui_helpers import (  # noqa: F401 - the fixture is used by every test here
    click,
    collect_windows_after_test,
    drag,
    make_window,
    press,
    release_drag,
    toolbar_button,
    view_to_widget,
    wait_until_unchanged,
)
from PySide6 import QtCore, QtWidgets
from vae_gui.model.checkpoint import load_checkpoint

REPO = Path(__file__).resolve().parent.parent


def images(window) -> dict[str, np.ndarray]:
    return {k: c.decoded.current_image() for k, c in window.columns.items()}


def test_window_opens_with_the_pretrained_models_drawn(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    n_test = len(window.snapshot.labels)
    assert n_test == 1000
    for column in window.columns.values():
        assert column.latent_plot.point_count() == n_test
        image = column.decoded.current_image()
        assert image.shape == (28, 28) and image.min() >= 0.0 and image.max() <= 1.0
        assert column.loss_curves.point_count() > 0  # the pretrained run's history
    assert "pretrained" in window.source_label.text()
    assert window.train_action.isEnabled() and not window.stop_action.isEnabled()


def test_dragging_the_vae_cursor_decodes_both_models_at_the_same_z(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    ae_plot, vae_plot = window.columns["left"].latent_plot, window.columns["right"].latent_plot
    before = images(window)
    start = view_to_widget(vae_plot, *vae_plot.cursor_position())
    drag(qtbot, vae_plot, start, start + QtCore.QPoint(60, -45))

    vx, vy = vae_plot.cursor_position()
    assert abs(vx) + abs(vy) > 0.1, "the VAE cursor did not follow the drag"
    assert ae_plot.cursor_position() == pytest.approx((vx, vy), abs=1e-5)
    after = images(window)
    for k in ("left", "right"):
        assert not np.allclose(before[k], after[k]), f"the {k} image did not change"
    z = np.array([[vx, vy]], dtype=np.float32)
    from vae_gui.model.latent import decode_images
    expected = decode_images(window.snapshot.vae, z, (28, 28))[0]
    np.testing.assert_allclose(after["right"], expected, atol=1e-6)


def test_unlinked_cursors_move_independently(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    window.link_action.trigger()
    assert not window.link_action.isChecked()
    ae_plot, vae_plot = window.columns["left"].latent_plot, window.columns["right"].latent_plot
    ae_before, ae_image = ae_plot.cursor_position(), images(window)["left"]
    start = view_to_widget(vae_plot, *vae_plot.cursor_position())
    drag(qtbot, vae_plot, start, start + QtCore.QPoint(-50, 40))
    assert vae_plot.cursor_position() != pytest.approx(ae_before)
    assert ae_plot.cursor_position() == ae_before
    np.testing.assert_array_equal(images(window)["left"], ae_image)


def test_click_on_empty_space_and_arrow_keys_move_the_cursor(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    plot = window.columns["left"].latent_plot
    (x0, x1), (y0, y1) = plot.view_box.viewRange()
    target = (x0 + 0.8 * (x1 - x0), y0 + 0.2 * (y1 - y0))
    click(qtbot, plot, view_to_widget(plot, *target))
    assert plot.cursor_position() == pytest.approx(target, rel=0.05, abs=0.05 * (x1 - x0))
    assert window.columns["right"].latent_plot.cursor_position() == pytest.approx(
        plot.cursor_position())
    x, y = plot.cursor_position()
    qtbot.keyClick(plot, QtCore.Qt.Key.Key_Right)
    qtbot.keyClick(plot, QtCore.Qt.Key.Key_Up)
    nx, ny = plot.cursor_position()
    assert nx > x and ny > y


def test_train_updates_the_views_live_and_stop_ends_the_thread(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    pretrained = window.snapshot
    pretrained_points = window.columns["right"].latent_plot.plotted_points().copy()
    press(qtbot, window, window.train_action)
    assert window.session.running
    qtbot.waitUntil(lambda: window.snapshot is not pretrained and window.snapshot.step >= 60,
                    timeout=60000)
    assert window.stop_action.isEnabled() and window.train_action.text() == "\u275a\u275a Pause"
    points = window.columns["right"].latent_plot.plotted_points()
    assert points.shape == pretrained_points.shape
    assert not np.allclose(points, pretrained_points)
    assert len(window.snapshot.train_curve) > 1
    # Curves are redrawn at most once a second while training.
    qtbot.waitUntil(lambda: window.columns["right"].loss_curves.point_count() > 1, timeout=5000)
    assert "samples/s" in window.progress_label.text()

    # The cursor still decodes while training runs.
    plot = window.columns["right"].latent_plot
    before = images(window)["right"]
    start = view_to_widget(plot, *plot.cursor_position())
    drag(qtbot, plot, start, start + QtCore.QPoint(40, 40))
    assert not np.allclose(before, images(window)["right"])

    press(qtbot, window, window.stop_action)
    qtbot.waitUntil(lambda: not window.session.running, timeout=5000)
    assert window.train_action.text().endswith("Continue")
    step = window.snapshot.step
    qtbot.wait(300)
    assert window.snapshot.step == step  # nothing trains after Stop


def test_pause_resume_and_reset(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    assert window.train_action.text() == "\u25b6 Train from scratch"
    press(qtbot, window, window.reset_action)
    pretrained = window.snapshot
    qtbot.waitUntil(lambda: window.snapshot is not pretrained, timeout=30000)
    assert window.snapshot.step == 0
    assert window.session.running and window.session.paused
    assert window.train_action.text() == "\u25b6 Continue"  # the untrained models, paused
    qtbot.wait(300)
    assert window.snapshot.step == 0  # reset shows the untrained models and waits
    press(qtbot, window, window.train_action)
    qtbot.waitUntil(lambda: window.snapshot.step > 20, timeout=30000)
    assert window.train_action.text() == "\u275a\u275a Pause"
    press(qtbot, window, window.train_action)
    # Paused: the step shown stops moving (once the last snapshot before the pause is drawn).
    step = wait_until_unchanged(qtbot, lambda: window.snapshot.step, for_ms=800,
                                timeout=30000)
    assert window.train_action.text() == "\u25b6 Continue"
    press(qtbot, window, window.train_action)
    qtbot.waitUntil(lambda: window.snapshot.step > step, timeout=30000)
    window.close()
    assert not window.session.running

def test_closing_the_window_mid_training_stops_the_thread(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    press(qtbot, window, window.train_action)
    pretrained = window.snapshot
    qtbot.waitUntil(lambda: window.snapshot is not pretrained and window.snapshot.step > 10,
                    timeout=30000)
    (thread,) = window.session.threads()
    with qtbot.waitSignal(window.closed, timeout=30000):
        window.close()  # returns at once: the window hides, and closes once the thread ends
        assert not window.isVisible() and not window.session.running
    assert thread.isFinished() and not window.busy


def test_opening_a_corrupt_file_shows_the_reason_and_keeps_the_models(qtbot, tmp_path,
                                                                     monkeypatch):
    window = make_window(qtbot, tmp_path)
    shown = window.snapshot
    bad = tmp_path / "corrupt.safetensors"
    bad.write_bytes(os.urandom(4096))
    monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileName",
                        lambda *a, **k: (str(bad), ""))
    with qtbot.waitSignal(window.load_failed, timeout=30000):
        window.open_action.trigger()
    assert window.error_box is not None and window.error_box.isVisible()
    assert "corrupt.safetensors" in window.error_box.text()
    assert "kept" in window.error_box.text()
    assert window.snapshot is shown
    assert window.columns["right"].latent_plot.point_count() == 1000


def test_save_then_open_restores_the_same_models(qtbot, tmp_path, monkeypatch):
    window = make_window(qtbot, tmp_path)
    target = tmp_path / "mine.safetensors"
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName",
                        lambda *a, **k: (str(tmp_path / "mine"), ""))
    window.save_action.trigger()
    qtbot.waitUntil(target.exists, timeout=10000)
    qtbot.waitUntil(lambda: not window.runner.busy, timeout=10000)
    saved = load_checkpoint(target)
    import torch
    z = torch.randn(4, 2)
    assert torch.equal(saved.vae.decode(z), window.snapshot.vae.decode(z))
    assert window.recent_files()[0] == str(target.resolve())
    assert not window.session.running


def test_export_png_writes_an_image(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    path = tmp_path / "window.png"
    assert window.export_png(str(path))
    assert path.stat().st_size > 10000


def test_a_plot_exports_at_twice_its_size_with_the_class_legend_or_as_svg(qtbot, tmp_path,
                                                                          monkeypatch):
    from PySide6 import QtGui

    window = make_window(qtbot, tmp_path)
    column = window.columns["right"]
    plot, legend = column.latent_plot, column.legend
    target = tmp_path / "vae-plot"
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName",
                        lambda *a, **k: (str(target), "PNG image (*.png)"))
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&File")
    export = next(a.menu() for a in menu.actions() if a.menu() is not None
                  and a.text().startswith("Export &plot"))
    next(a for a in export.actions() if a.text() == "VAE latent plot").trigger()
    image = QtGui.QImage(str(target) + ".png")
    assert (image.width(), image.height()) == (2 * max(plot.width(), legend.width()),
                                               2 * (plot.height() + legend.height()))
    # The legend's class 0 dot (blue) is drawn above the plot.
    top = [image.pixelColor(x, y) for x in range(0, 80) for y in range(0, 2 * legend.height())]
    assert any(c.blue() > 150 and c.red() < 80 for c in top)
    svg = tmp_path / "vae-plot.svg"
    assert window.export_png(str(svg), plot, legend)
    text = svg.read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text

def run_app(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.run([sys.executable, "-m", "vae_gui.app", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow  # a real process: seconds of start-up; runs in .ci/run
def test_screenshot_mode_writes_a_png_and_exits_0(tmp_path):
    path = tmp_path / "shot.png"
    result = run_app(["--screenshot", str(path)])
    assert result.returncode == 0, result.stderr
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert result.stderr == ""  # no traceback, and none of Qt's noise either


def test_a_screenshot_that_cannot_be_written_is_a_usage_error(tmp_path):
    # Refused before any window opens: a missing folder, a folder, and a pipe (whose save
    # would block for ever).
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    for path, why in ((tmp_path / "no-such-folder" / "shot.png", "its folder does not exist"),
                      (tmp_path, "is a folder"), (fifo, "is not a regular file")):
        result = run_app(["--screenshot", str(path)], timeout=60)
        assert result.returncode == 2, result.stderr
        assert why in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow  # a real process: seconds of start-up; runs in .ci/run
def test_a_screenshot_into_an_unwritable_folder_says_why_and_exits_1(tmp_path):
    path = tmp_path / "shot.png"
    # Denied by the kernel even to root: a write into a folder mounted read-only is not
    # available here, so the save is made to fail as a full disk would.
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    code = ("import errno, os, sys; import vae_gui.model.atomic_write as a\n"
            "def full(*args): raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))\n"
            "a.os.fsync = full\n"
            "from vae_gui.app import main; sys.exit(main(sys.argv[1:]))")
    result = subprocess.run([sys.executable, "-c", code, "--screenshot", str(path)], cwd=REPO,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip() == (f"vae-gui: could not save the screenshot to {path}: "
                                      "No space left on device.")
    assert not path.exists() and not list(tmp_path.iterdir())


@pytest.mark.slow  # a real process: seconds of start-up; runs in .ci/run
def test_interrupting_the_real_app_while_training_exits_cleanly(tmp_path):
    # The app says when its models are shown and when training has started
    # (VAE_GUI_REPORT_EVENTS=1, see tests/app_process.py); Ctrl-C then closes it cleanly.
    with AppProcess(["--train"]) as app:
        app.wait_for_line(MODELS_SHOWN)
        app.wait_for_line(TRAINING_STARTED)
        app.proc.send_signal(signal.SIGINT)  # as Ctrl-C in a terminal
        code = app.wait(timeout=30)  # a bound for a hang, not a speed limit
        stderr = app.stderr
    assert code == 0, f"exit status {code}\n{stderr}"
    for bad in ("QThread: Destroyed", "deallocating", "Traceback", "Fatal"):
        assert bad not in stderr, stderr


def test_a_drag_while_training_holds_new_snapshots_until_the_button_is_released(
        qtbot, tmp_path, monkeypatch):
    """While training, a dragged cursor's moves never wait behind a redraw: a snapshot that
    comes mid-drag waits (cloud, projection and models stay those on screen, so the decoded
    images match the cloud under the cursor) and is shown once the button is released."""
    import copy
    import dataclasses

    import torch
    from vae_gui.model.latent import decode_images

    from vae_gui import explorer_state

    # Only the release ends this drag's hold, however slow the machine is between moves.
    monkeypatch.setattr(explorer_state, "DRAG_QUIET_S", 600.0)
    monkeypatch.setattr(explorer_state, "DRAG_MOST_S", 600.0)
    window = make_window(qtbot, tmp_path)
    state, plot = window.state, window.columns["right"].latent_plot
    left, right = state.snapshot.columns
    newer_vae = copy.deepcopy(right.model)
    with torch.no_grad():
        list(newer_vae.parameters())[-1].add_(0.5)  # the decoder's output bias: other images
    first = dataclasses.replace(state.snapshot, columns=(
        left, dataclasses.replace(right, mu=right.mu + 1.0)))
    second = dataclasses.replace(state.snapshot, columns=(
        left, dataclasses.replace(right, model=newer_vae, mu=right.mu + 2.0)))
    state.show(first, live=True)  # training: a live snapshot
    qtbot.waitUntil(lambda: state._turns.pending() == 0, timeout=5000)
    shown = plot.plotted_points().copy()

    def decoded_by(model) -> np.ndarray:
        return decode_images(model, state.cursors["right"], state.image_shape)[0]

    start = view_to_widget(plot, *plot.cursor_position())
    drag(qtbot, plot, start, start + QtCore.QPoint(30, 10), steps=4, release=False)
    state.show(second, live=True)  # a snapshot comes mid-drag
    drag(qtbot, plot, start + QtCore.QPoint(30, 10), start + QtCore.QPoint(40, -20),
         steps=4, release=False)
    qtbot.wait(50)
    assert state.snapshot is first  # held back
    np.testing.assert_array_equal(plot.plotted_points(), shown)
    image = window.columns["right"].decoded.current_image()
    np.testing.assert_allclose(image, decoded_by(right.model), atol=1e-6)
    assert not np.allclose(image, decoded_by(newer_vae), atol=1e-3)

    release_drag(plot, start + QtCore.QPoint(40, -20))
    qtbot.waitUntil(lambda: state.snapshot is second and state._turns.pending() == 0,
                    timeout=5000)
    expected = state.projections["right"].to_plane(second.columns[1].mu)
    np.testing.assert_allclose(np.sort(plot.plotted_points(), axis=0),
                               np.sort(expected, axis=0), rtol=1e-6)
    np.testing.assert_allclose(window.columns["right"].decoded.current_image(),
                               decoded_by(newer_vae), atol=1e-6)


def test_a_live_snapshot_is_drawn_piece_by_piece_and_ends_on_the_newest(qtbot, tmp_path):
    """While training, what a snapshot brings is drawn over several event-loop turns (see
    vae_gui.workers.pacing.Turns); the plots end up showing the newest snapshot."""
    import dataclasses

    window = make_window(qtbot, tmp_path)
    state, plot = window.state, window.columns["left"].latent_plot
    before = plot.plotted_points().copy()
    left, right = state.snapshot.columns
    shifted = [dataclasses.replace(state.snapshot, columns=(
        dataclasses.replace(left, mu=left.mu + k), right)) for k in (1.0, 2.0)]
    state.show(shifted[0], live=True)
    state.show(shifted[1], live=True)  # a newer one before the first was drawn
    assert state._turns.pending() >= 4  # two clouds, the fit and cursors, the tools, ...
    np.testing.assert_array_equal(plot.plotted_points(), before)  # nothing drawn yet
    qtbot.waitUntil(lambda: state._turns.pending() == 0, timeout=5000)
    expected = state.projections["left"].to_plane(shifted[1].ae_codes)
    np.testing.assert_allclose(np.sort(plot.plotted_points(), axis=0),
                               np.sort(expected, axis=0), rtol=1e-6)
