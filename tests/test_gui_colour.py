"""Colour models in the window, driven as a user would: every view that shows images (the
decoded cursor, inspect, prior samples, manifold, interpolation, draw) shows the three
channels the decoder gives, and the shapes demo trains from the settings panel."""

from __future__ import annotations

import signal

import numpy as np
import pytest
import torch
from gui_helpers import (  # noqa: F401 - the fixture is used by every test here
    click,
    collect_windows_after_test,
    drag,
    make_window,
    press,
    type_into,
    view_to_widget,
)
from PySide6 import QtCore, QtGui, QtWidgets
from vae_gui.model.checkpoint import Checkpoint, save_checkpoint
from vae_gui.model.config import ModelConfig, TrainConfig
from vae_gui.model.data import DatasetBundle, load_dataset
from vae_gui.model.training import Trainer

TIMEOUT = 120000  # a cold start and an epoch on two shared cores
SHAPE = (32, 32, 3)


@pytest.fixture(scope="module")
def colour_checkpoint(tmp_path_factory):
    """A conv pair trained for an epoch on 600 images of the shapes demo, saved."""
    full = load_dataset("shapes")
    data = DatasetBundle("shapes", full.train_images[:600], full.train_labels[:600],
                         full.test_images[:200], full.test_labels[:200], full.class_names)
    mc = ModelConfig(data.image_shape, (8, 16), 2, arch="conv")
    tc = TrainConfig(epochs=1, batch_size=100)
    trainer = Trainer(data, mc, tc)
    trainer.run()
    path = tmp_path_factory.mktemp("colour") / "shapes.safetensors"
    save_checkpoint(Checkpoint(trainer.ae, trainer.vae, mc, tc, "shapes", data.class_names,
                               trainer.epoch, trainer.step, tuple(trainer.history)), path)
    return path


def decoded(model, z: np.ndarray) -> np.ndarray:
    """The image the model's decoder gives at `z`, applied directly, channels last."""
    with torch.no_grad():
        logits = model.decode(torch.tensor(np.array(z), dtype=torch.float32).reshape(1, -1))
    return torch.sigmoid(logits).reshape(*SHAPE).numpy()


def painted_rgb(view) -> np.ndarray:
    """The pixels a DecodedImage paints, read back from its QImage as (H, W, 3)."""
    image = view.area.qimage.convertToFormat(QtGui.QImage.Format.Format_RGB888)
    h, w = image.height(), image.width()
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(h, image.bytesPerLine())
    return rows[:, :3 * w].reshape(h, w, 3)


def assert_colour(view, expected: np.ndarray) -> None:
    image = view.current_image()
    assert image is not None and image.shape == expected.shape
    np.testing.assert_allclose(image, expected, atol=1e-6)
    # What reaches the screen is the same colour, channel by channel.
    np.testing.assert_allclose(painted_rgb(view), expected * 255, atol=1)


@pytest.mark.slow  # trains a pair, then waits for the exact posteriors at close: ~8 s
def test_every_image_view_shows_a_colour_model_in_colour(qtbot, tmp_path, colour_checkpoint):
    window = make_window(qtbot, tmp_path, load=False)
    before = window.snapshot
    window.open_checkpoint(str(colour_checkpoint))
    qtbot.waitUntil(lambda: window.snapshot is not before and window.snapshot is not None,
                    timeout=TIMEOUT)
    snapshot = window.snapshot
    assert window.state.image_shape == SHAPE

    # The cursor, dragged: both decoded images are the decoders' colour images.
    plot = window.columns["right"].latent_plot
    start = view_to_widget(plot, *plot.cursor_position())
    drag(qtbot, plot, start, start + QtCore.QPoint(40, -30))
    z = window.cursor_z()
    for which, model in (("left", snapshot.ae), ("right", snapshot.vae)):
        view = window.columns[which].decoded
        qtbot.waitUntil(lambda v=view: v.current_image() is not None, timeout=TIMEOUT)
        assert_colour(view, decoded(model, z))
    rgb = window.columns["right"].decoded.current_image()
    assert np.abs(rgb[..., 0] - rgb[..., 2]).max() > 0.01  # the channels really differ

    # Inspect: the clicked test image in its own colours, and both reconstructions.
    i = 5
    click(qtbot, plot, view_to_widget(plot, *snapshot.vae_mu[i]))
    j = window.inspected
    assert j is not None
    inspect = window.tools.inspect
    assert_colour(inspect.views["original"], window.cloud_images[j])
    assert_colour(inspect.views["right"], decoded(snapshot.vae, snapshot.vae_mu[j]))

    # Prior samples: an 8 x 8 colour mosaic, each tile the decoder's image of its z.
    window.sample_action.trigger()
    samples = window.tools.samples
    mosaic = samples.views["right"].current_image()
    assert mosaic.shape == (8 * 33 - 1, 8 * 33 - 1, 3)
    np.testing.assert_allclose(mosaic[:32, :32], decoded(snapshot.vae, samples.z[0]),
                               atol=1e-6)

    # The manifold: its mosaic image holds three channels.
    manifold = window.tools.manifold
    window.tools.show_tab(manifold)
    qtbot.waitUntil(lambda: manifold.views["right"].image.image is not None, timeout=TIMEOUT)
    assert manifold.views["right"].image.image.shape[2:] == (3,)

    # Interpolate: the cursor pinned as A, the inspected point as B; a strip of ten colour
    # images, the first the decoder's image of A.
    interpolate = window.tools.interpolate
    window.tools.show_tab(interpolate)
    buttons = {b.text(): b for b in interpolate.findChildren(QtWidgets.QPushButton)}
    qtbot.mouseClick(buttons["Pin cursor as A"], QtCore.Qt.MouseButton.LeftButton)
    qtbot.mouseClick(buttons["Inspected point as B"], QtCore.Qt.MouseButton.LeftButton)
    strip = interpolate.strips["right"].current_image()
    assert strip.shape == (32, 10 * 33 - 1, 3)
    np.testing.assert_allclose(strip[:, :32], decoded(snapshot.vae, window.cursor_z()),
                               atol=1e-6)

    # Draw: white strokes on black go to a colour model as white in every channel.
    draw = window.tools.draw
    window.tools.show_tab(draw)
    draw.canvas.stroke([(16.0, 6.0), (16.0, 26.0)])
    code = draw.codes["right"]
    assert_colour(draw.views["right"], decoded(snapshot.vae, code))


@pytest.mark.slow
def test_the_shapes_demo_trains_in_colour_from_the_settings_panel(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path, load=False)
    panel = window.settings_panel
    assert panel.dataset.findText("shapes") >= 0
    panel.dataset.setCurrentIndex(panel.dataset.findText("shapes"))
    panel.arch.setCurrentIndex(panel.arch.findText("Convolutional"))
    type_into(qtbot, panel.hidden, "8 16")
    type_into(qtbot, panel.epochs, "1")
    press(qtbot, window, window.train_action)
    qtbot.waitUntil(lambda: window.snapshot is not None and window.snapshot.epoch == 1.0,
                    timeout=TIMEOUT)
    assert window.state.image_shape == SHAPE
    assert window.snapshot.vae.config.image_shape == SHAPE
    qtbot.waitUntil(lambda: not window.session.running, timeout=TIMEOUT)
    view = window.columns["right"].decoded
    # The view follows the last snapshot once it is drawn (snapshots are drawn over turns).
    qtbot.waitUntil(lambda: view.current_image() is not None and np.allclose(
        view.current_image(), decoded(window.snapshot.vae, window.cursor_z()), atol=1e-6),
        timeout=TIMEOUT)
    assert_colour(view, decoded(window.snapshot.vae, window.cursor_z()))


def test_the_colour_shapes_demo_is_one_menu_click_away(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)  # the pretrained MNIST models on screen
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Training")
    assert window.shapes_demo_action in menu.actions()
    window.shapes_demo_action.trigger()
    qtbot.waitUntil(lambda: window.snapshot is not None
                    and window.snapshot.vae.config.image_shape == SHAPE, timeout=TIMEOUT)
    spec = window.settings_panel.spec()
    assert spec.dataset == "shapes" and spec.model_config.arch == "conv"
    assert window.state.origin.class_names[:3] == ("circle", "square", "triangle")
    view = window.columns["right"].decoded
    qtbot.waitUntil(lambda: view.current_image() is not None
                    and view.current_image().shape == SHAPE, timeout=TIMEOUT)


@pytest.mark.slow  # a real process: seconds of start-up; runs in .ci/run
def test_the_shapes_demo_starts_training_from_the_command_line():
    from app_process import MODELS_SHOWN, TRAINING_STARTED, AppProcess

    with AppProcess(["--demo", "shapes"]) as app:
        app.wait_for_line(MODELS_SHOWN)
        app.wait_for_line(TRAINING_STARTED)
        app.proc.send_signal(signal.SIGINT)  # as Ctrl-C in a terminal
        code = app.wait(timeout=60)  # a bound for a hang, not a speed limit
        stderr = app.stderr
    assert code == 0, f"exit status {code}\n{stderr}"
    assert "Traceback" not in stderr, stderr
