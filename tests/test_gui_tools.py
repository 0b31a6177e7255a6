"""The exploration tools, driven as a user would: higher latent dimensions, the sampled
cloud, the manifold, interpolation, inspecting a point, prior samples, drawing, stepping,
exports, following a run and the help panel."""

from __future__ import annotations

import csv
import os

import numpy as np
import pytest
from gui_helpers import (  # noqa: F401 - the fixture is used by every test here
    click,
    collect_windows_after_test,
    drag,
    hover,
    make_window,
    toolbar_button,
    view_to_widget,
)
from PySide6 import QtCore, QtWidgets
from vae_gui.model.checkpoint import Checkpoint, save_checkpoint
from vae_gui.model.config import ModelConfig, TrainConfig
from vae_gui.model.data import load_dataset
from vae_gui.model.training import Trainer


def trained_checkpoint(path, latent_dim: int = 4, epochs: int = 1, dataset: str = "mnist5k"):
    data = load_dataset(dataset)
    mc = ModelConfig(data.image_shape, (64,), latent_dim)
    tc = TrainConfig(epochs=epochs, batch_size=256)
    trainer = Trainer(data, mc, tc)
    trainer.run()
    save_checkpoint(Checkpoint(trainer.ae, trainer.vae, mc, tc, dataset, data.class_names,
                               trainer.epoch, trainer.step, tuple(trainer.history)), path)
    return path


def open_and_wait(qtbot, window, path) -> None:
    before = window.snapshot
    window.open_checkpoint(str(path))
    qtbot.waitUntil(lambda: window.snapshot is not before, timeout=30000)


def test_four_latent_dimensions_are_shown_by_pca_or_chosen_axes(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    open_and_wait(qtbot, window, trained_checkpoint(tmp_path / "d4.safetensors"))
    vae = window.columns["right"]
    assert window.snapshot.vae_mu.shape[1] == 4
    assert vae.latent_plot.plot_item.getAxis("bottom").labelText == "PCA 1"
    assert "held at the cloud's mean" in vae.latent_plot.plot_item.titleLabel.text
    assert len(vae.histograms._plots) == 4
    assert len(vae.kl_bars.bars.opts["height"]) == 4
    before = vae.decoded.current_image()
    start = view_to_widget(vae.latent_plot, *vae.latent_plot.cursor_position())
    drag(qtbot, vae.latent_plot, start, start + QtCore.QPoint(50, -30))
    z = window.cursor_z()
    assert z.shape == (4,)
    assert not np.allclose(before, vae.decoded.current_image())

    window.show_dimensions(2, 3)
    assert vae.latent_plot.plot_item.getAxis("bottom").labelText == "z3"
    assert vae.latent_plot.plot_item.getAxis("left").labelText == "z4"
    assert "held at 0" in vae.latent_plot.plot_item.titleLabel.text
    np.testing.assert_allclose(np.sort(vae.latent_plot.plotted_points()[:, 0]),
                               np.sort(window.snapshot.vae_mu[:, 2]), rtol=1e-6)


def test_sampled_cloud_replaces_the_means_with_draws(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    means = window.columns["right"].latent_plot.plotted_points().copy()
    ae_points = window.columns["left"].latent_plot.plotted_points().copy()
    window.sampled_action.trigger()
    sampled = window.columns["right"].latent_plot.plotted_points()
    assert sampled.shape == means.shape and not np.allclose(sampled, means)
    np.testing.assert_array_equal(window.columns["left"].latent_plot.plotted_points(), ae_points)
    window.sampled_action.trigger()
    np.testing.assert_allclose(window.columns["right"].latent_plot.plotted_points(), means)


def test_kl_bars_come_from_the_posteriors_even_when_the_cloud_shows_samples(qtbot, tmp_path):
    # The one-sample cloud is a separate value: the snapshot's means stay means, and the KL
    # bars stay the closed-form KL of each posterior (checked against torch.distributions),
    # not a KL computed as if the samples were means (which reads far higher).
    import torch
    from torch.distributions import Normal, kl_divergence

    window = make_window(qtbot, tmp_path)
    snapshot = window.snapshot
    mu = torch.tensor(snapshot.vae_mu, dtype=torch.float64)
    logvar = torch.tensor(snapshot.vae_logvar, dtype=torch.float64)
    expected = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).mean(0).numpy()
    bars = window.columns["right"].kl_bars
    np.testing.assert_allclose(bars.values, expected, rtol=1e-4)
    means = snapshot.vae_mu.copy()
    window.sampled_action.trigger()
    assert window.snapshot is snapshot
    np.testing.assert_array_equal(window.snapshot.vae_mu, means)
    assert not np.allclose(window.state.plotted("right"), means)
    np.testing.assert_allclose(bars.values, expected, rtol=1e-4)


def test_each_plot_has_its_own_scale_and_states_its_spread(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    assert not window.same_scale_action.isChecked()
    ranges = {}
    for which, column in window.columns.items():
        codes = window.state.plotted(which).astype(np.float64)
        spread = np.sqrt(np.mean(codes.var(axis=0)))  # 1 for a sample of N(0, I)
        title = column.latent_plot.plot_item.titleLabel.text
        assert f"spread {spread:.1f} (prior: 1)" in title
        ranges[which] = column.latent_plot.view_box.viewRange()[0]
    # The AE's cloud is spread far wider than the VAE's, and each plot is fitted to its own.
    assert ranges["left"][1] - ranges["left"][0] > 2 * (ranges["right"][1] - ranges["right"][0])
    window.same_scale_action.trigger()
    # Both plots now show the same region, centred alike and holding both clouds (with the
    # aspect locked, a plot of another shape may show a little more along one axis).
    ae_xy = window.state.plotted("left")
    lo, hi = np.percentile(ae_xy, 1, axis=0), np.percentile(ae_xy, 99, axis=0)

    def same_region() -> bool:
        views = [c.latent_plot.view_box.viewRange() for c in window.columns.values()]
        centres = [(np.mean(x), np.mean(y)) for x, y in views]
        holds = all(x[0] <= lo[0] and x[1] >= hi[0] and y[0] <= lo[1] and y[1] >= hi[1]
                    for x, y in views)
        return holds and np.allclose(centres[0], centres[1], atol=1e-6 * (hi - lo).max())

    qtbot.waitUntil(same_region)


def test_clouds_can_be_drawn_as_density_images(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    plot = window.columns["right"].latent_plot
    assert plot.render_mode == "points"  # 1,000 points: dots in auto mode
    window.density_action.trigger()
    assert plot.render_mode == "density" and plot.point_count() == 1000
    window.density_action.trigger()
    assert plot.render_mode == "points"


def test_fading_uncertain_points_uses_the_posterior_spread(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    cloud = window.columns["right"].latent_plot._cloud
    assert cloud._alpha is None
    window.fade_action.trigger()
    alpha = cloud._alpha
    assert alpha is not None and alpha.min() == pytest.approx(0.12) and alpha.max() == 1.0
    # The faintest point is the one whose posterior is widest.
    sigma = np.exp(0.5 * window.snapshot.vae_logvar).mean(axis=1)
    order = np.argsort(window.snapshot.labels, kind="stable")
    assert sigma[order][np.argmin(alpha)] == pytest.approx(sigma.max())
    assert window.columns["left"].latent_plot._cloud._alpha is None
    window.fade_action.trigger()
    assert cloud._alpha is None


def test_manifold_overlay_follows_zoom(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    qtbot.mouseClick(toolbar_button(window, window.manifold_action),
                     QtCore.Qt.MouseButton.LeftButton)
    item = window.manifold_items["right"]
    assert item.isVisible() and item.image.shape == (20 * 28, 20 * 28)
    rect = item.mapRectToParent(item.boundingRect())
    window.columns["right"].latent_plot.view_box.scaleBy((0.5, 0.5))
    qtbot.waitUntil(lambda: item.mapRectToParent(item.boundingRect()).width()
                    < 0.75 * rect.width(), timeout=5000)
    window.manifold_action.trigger()
    assert not item.isVisible()


def test_interpolation_between_two_pinned_points(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    tab = window.tools.interpolate
    window.tools.show_tab(tab)
    plot = window.columns["right"].latent_plot
    plot.set_cursor(-1.5, -1.0, notify=True)
    tab.pin(0, window.cursor_z())
    plot.set_cursor(1.5, 1.0, notify=True)
    tab.pin(1, window.cursor_z())
    for which in ("left", "right"):
        path = window.overlays[which].data("path")
        assert path is not None and len(path) == 10
        np.testing.assert_allclose(path[0], (-1.5, -1.0), atol=1e-5)
        np.testing.assert_allclose(path[-1], (1.5, 1.0), atol=1e-5)
        assert tab.strips[which].current_image().shape == (28, 10 * 29 - 1)
    linear = window.overlays["right"].data("path").copy()
    tab.spherical.setChecked(True)
    assert not np.allclose(window.overlays["right"].data("path"), linear)
    # These ends point in opposite directions, where plain slerp divided by sin(pi), about
    # 1e-16, and drew rounding noise: it turns along a circle, its length the ends'.
    path = tab.path()
    norms = np.linalg.norm(path, axis=1)
    assert np.isfinite(path).all() and np.all(np.abs(norms - np.hypot(1.5, 1.0)) < 1e-5)
    assert np.isfinite(tab.strips["right"].current_image()).all()
    tip = tab.spherical.toolTip()
    assert "great circle" in tip and "straight line from |A| to |B|" in tip
    assert "In one dimension" in tip and "slerp" not in tab.spherical.text()
    # Ends no longer pinned: no path is drawn any more.
    tab.ends = [None, None]
    tab.path_changed.emit()
    assert not any(window.overlays[which].visible(name) for which in ("left", "right")
                   for name in ("path", "path-a", "path-b"))


def test_the_reconstruction_choice_names_its_likelihood(qtbot, tmp_path):
    # MSE was a bare sum of squared errors labelled nats; now it is a Gaussian's -log p.
    panel = make_window(qtbot, tmp_path, load=False).settings_panel
    names = [panel.loss.itemText(i) for i in range(panel.loss.count())]
    assert names == ["BCE (Bernoulli)", "MSE (Gaussian, \u03c3\u00b2 = 1/2)"]
    assert "\u03c3\u00b2 = 0.5" in panel.loss.toolTip()
    panel.loss.setCurrentIndex(1)
    assert panel.spec().train_config.loss == "mse"
    spec = panel.spec()
    panel.loss.setCurrentIndex(0)
    panel.show_configs(spec.dataset, spec.model_config, spec.train_config)
    assert panel.loss.currentText().startswith("MSE")


def test_clicking_a_point_inspects_it(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    plot = window.columns["right"].latent_plot
    i = 17
    target = tuple(window.snapshot.vae_mu[i])
    click(qtbot, plot, view_to_widget(plot, *target))
    assert window.inspected is not None
    j = window.inspected
    assert np.hypot(*(window.snapshot.vae_mu[j] - target)) < 0.2  # the nearest point
    np.testing.assert_array_equal(window.tools.inspect.views["original"].current_image(),
                                  window.cloud_images[j])
    assert window.tools.inspect.views["right"].current_image().shape == (28, 28)
    ellipse = window.overlays["right"].data("inspected-ellipse")
    assert ellipse is not None
    assert np.allclose(ellipse.mean(axis=0), window.snapshot.vae_mu[j], atol=0.05)
    assert window.tools.currentWidget() is window.tools.inspect


def test_prior_samples_differ_between_models_and_draws(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    qtbot.mouseClick(toolbar_button(window, window.sample_action),
                     QtCore.Qt.MouseButton.LeftButton)
    tab = window.tools.samples
    ae, vae = (tab.views[k].current_image() for k in ("left", "right"))
    assert ae.shape == vae.shape == (8 * 29 - 1, 8 * 29 - 1)
    assert not np.allclose(ae, vae)
    window.sample_action.trigger()
    assert not np.allclose(vae, tab.views["right"].current_image())


def test_drawing_a_digit_encodes_it_in_both_spaces(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    tab = window.tools.draw
    window.tools.show_tab(tab)
    canvas = tab.canvas
    qtbot.waitExposed(canvas)
    # A vertical stroke, like a 1, drawn with the mouse.
    start, end = QtCore.QPoint(112, 40), QtCore.QPoint(112, 190)
    qtbot.mousePress(canvas, QtCore.Qt.MouseButton.LeftButton, pos=start)
    for k in range(1, 11):
        event_pos = start + (end - start) * (k / 10)
        move = QtGui_mouse_move(canvas, event_pos)
        QtWidgets.QApplication.sendEvent(canvas, move)
    qtbot.mouseRelease(canvas, QtCore.Qt.MouseButton.LeftButton, pos=end)
    assert canvas.image.sum() > 20
    for which in ("left", "right"):
        assert window.overlays[which].data("drawn") is not None
        assert tab.views[which].current_image().shape == (28, 28)
    assert window.overlays["right"].data("drawn-ellipse") is not None
    qtbot.mouseClick(tab.findChild(QtWidgets.QPushButton), QtCore.Qt.MouseButton.LeftButton)
    assert canvas.is_empty() and window.overlays["right"].data("drawn") is None
    assert tab.views["right"].current_image() is None


def QtGui_mouse_move(widget, pos):
    from PySide6 import QtGui

    return QtGui.QMouseEvent(QtCore.QEvent.Type.MouseMove, QtCore.QPointF(pos),
                             QtCore.QPointF(widget.mapToGlobal(pos)),
                             QtCore.Qt.MouseButton.NoButton, QtCore.Qt.MouseButton.LeftButton,
                             QtCore.Qt.KeyboardModifier.NoModifier)


def test_step_trains_exactly_one_batch_per_press(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    pretrained = window.snapshot
    qtbot.mouseClick(toolbar_button(window, window.step_action), QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.snapshot is not pretrained and window.snapshot.step == 1,
                    timeout=30000)
    assert window.session.paused
    # The loss curves show the run from epoch 0, not one point centred in a wide range.
    window.columns["right"].draw_panels()
    (x0, x1), _ = window.columns["right"].loss_curves.getPlotItem().viewRange()
    assert -0.1 <= x0 <= 0 and 1 <= x1 <= 1.1
    for expected in (2, 3):
        window.step_action.trigger()
        qtbot.waitUntil(lambda e=expected: window.snapshot.step == e, timeout=10000)
    qtbot.wait(300)
    assert window.snapshot.step == 3


def test_export_encoded_test_set_as_csv_and_npz(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    window.export_codes(str(tmp_path / "codes.csv"))
    window.export_codes(str(tmp_path / "codes.npz"))
    with open(tmp_path / "codes.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1000
    assert float(rows[3]["vae_mu2"]) == pytest.approx(float(window.snapshot.vae_mu[3, 1]),
                                                      rel=1e-5)
    with np.load(tmp_path / "codes.npz") as npz:
        np.testing.assert_array_equal(npz["ae_codes"], window.snapshot.ae_codes)
        np.testing.assert_array_equal(npz["labels"], window.snapshot.labels)


@pytest.mark.slow  # trains two runs (5 to 10 s); test_run_follower.py is the quick one
def test_following_a_run_shows_each_new_checkpoint(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    run = tmp_path / "run"
    run.mkdir()
    window.follow(str(run))
    trained_checkpoint(run / "checkpoint.safetensors", latent_dim=2, epochs=1)
    qtbot.waitUntil(lambda: window.source.endswith("checkpoint.safetensors")
                    and len(window.snapshot.history) == 1, timeout=20000)
    trained_checkpoint(run / "checkpoint.safetensors", latent_dim=2, epochs=2)
    qtbot.waitUntil(lambda: len(window.snapshot.history) == 2, timeout=20000)
    assert "Following" in window.source_label.text()
    # Each checkpoint that landed is a moment of the run's timeline.
    assert [s.epoch for s in window.timeline.timeline] == [1.0, 2.0]


def test_help_explains_the_model(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    window.help_action.trigger()
    dialogs = [w for w in QtWidgets.QApplication.topLevelWidgets()
               if w.windowTitle() == "How this works" and w.isVisible()]
    assert dialogs
    text = dialogs[0].text.toPlainText()
    for phrase in ("p(z) = N(0, I)", "q(z|x)", "z = \u03bc + \u03c3", "KL", "Sample"):
        assert phrase in text
    dialogs[0].close()


def test_training_on_your_own_npz_follows_its_image_size(qtbot, tmp_path):
    rng = np.random.default_rng(0)
    images = (rng.random((60, 16, 16)) > 0.7).astype(np.uint8) * 255
    labels = np.repeat(np.arange(3), 20)
    path = tmp_path / "mine.npz"
    np.savez(path, images=images, labels=labels)
    window = make_window(qtbot, tmp_path)
    window.settings_panel.dataset.setCurrentText(str(path))
    pretrained = window.snapshot
    window.reset_action.trigger()
    qtbot.waitUntil(lambda: window.snapshot is not pretrained, timeout=30000)
    assert window.image_shape == (16, 16)
    assert window.columns["right"].decoded.current_image().shape == (16, 16)
    assert window.class_names == ("0", "1", "2")
    # Saved and opened again, the checkpoint finds its data by the path it records.
    saved = tmp_path / "own.safetensors"
    window.save_checkpoint(str(saved))
    qtbot.waitUntil(lambda: saved.exists() and not window.runner.busy, timeout=10000)
    before = window.snapshot
    window.open_checkpoint(str(saved))
    qtbot.waitUntil(lambda: window.snapshot is not before, timeout=30000)
    assert window.source == str(saved) and window.image_shape == (16, 16)


def test_training_on_a_folder_of_images_resized_to_the_chosen_size(qtbot, tmp_path):
    from PIL import Image

    rng = np.random.default_rng(1)
    for name in ("circle", "square"):
        (tmp_path / "shapes" / name).mkdir(parents=True)
        for k in range(10):
            pixels = (rng.random((20, 30, 3)) * 255).astype(np.uint8)
            Image.fromarray(pixels).save(tmp_path / "shapes" / name / f"{k}.png")
    window = make_window(qtbot, tmp_path)
    panel = window.settings_panel
    panel.dataset.setCurrentText(str(tmp_path / "shapes"))
    panel.image_size.setValue(12)
    pretrained = window.snapshot
    qtbot.mouseClick(toolbar_button(window, window.reset_action),
                     QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.snapshot is not pretrained, timeout=30000)
    assert window.image_shape == (12, 12, 3)  # colour pictures keep their channels
    assert window.class_names == ("circle", "square")
    assert window.columns["left"].decoded.current_image().shape == (12, 12, 3)


def test_kl_bar_labels_never_run_together(qtbot):
    from vae_gui.views.kl_bars import LABEL_PIXELS, KLBars

    bars = KLBars()
    qtbot.addWidget(bars)
    bars.resize(120, 100)
    bars.show()
    qtbot.waitExposed(bars)
    bars.set_kl(np.linspace(0.0, 3.0, 16))
    labels = bars.tick_labels()
    assert labels[0] == "z1" and len(labels) <= 120 // LABEL_PIXELS + 1
    bars.resize(600, 100)
    qtbot.waitUntil(lambda: len(bars.tick_labels()) == 16, timeout=5000)


def test_following_a_folder_that_does_not_exist_yet_says_it_waits(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    folder = tmp_path / "later"
    window.follow(str(folder))
    assert window.statusBar().currentMessage().startswith(f"Waiting for {folder} to appear")


def test_following_a_pipe_or_a_file_says_it_is_not_a_folder(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    pipe = tmp_path / "checkpoints"
    os.mkfifo(pipe)
    window.follow(str(pipe))
    qtbot.waitUntil(lambda: window.error_box is not None, timeout=5000)
    assert "is not a folder" in window.error_box.text() and window.files.follower.folder is None


def test_hovering_a_point_shows_its_test_image_and_class(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    column = window.columns["left"]
    plot = column.latent_plot
    i = 17
    x, y = window.state.projections["left"].to_plane(window.snapshot.ae_codes[i][None])[0]
    hover(qtbot, plot, view_to_widget(plot, float(x), float(y)))
    preview = column.hover
    qtbot.waitUntil(preview.isVisible, timeout=5000)
    j = preview.index  # the point under the mouse: this one, or one drawn on top of it
    xy = window.state.projections["left"].to_plane(window.snapshot.ae_codes)
    assert np.hypot(*(xy[j] - xy[i])) < 0.05 * np.ptp(xy[:, 0])
    label = window.class_names[int(window.snapshot.labels[j])]
    assert preview.caption_label.text() == f"test image {j:,}, class {label}"
    shown = preview.image_label.pixmap().toImage()
    assert (shown.width(), shown.height()) == (84, 84)
    expected = (window.cloud_images[j] * 255).astype(np.uint8)
    assert shown.pixelColor(14 * 3 + 1, 14 * 3 + 1).red() == expected[14, 14]
    # Away from every point, the preview goes.
    (x0, x1), (y0, y1) = plot.view_box.viewRange()
    empty = np.array([x1 - 0.02 * (x1 - x0), y0 + 0.02 * (y1 - y0)])
    assert np.hypot(*(xy - empty).T).min() > 0.05 * (x1 - x0)
    hover(qtbot, plot, view_to_widget(plot, *empty))
    qtbot.waitUntil(lambda: not preview.isVisible(), timeout=5000)


def test_dragging_the_cursor_over_points_shows_no_preview_and_hovering_after_does(qtbot,
                                                                                 tmp_path):
    # In a drag the scene sends no hover events (vae_gui/views/latent_plot.py skips them, a
    # millisecond a move); hovering works again once the button is released. (That the
    # cursor follows a drag: tests/test_gui_conv.py and test_gui_colour.py.)
    window = make_window(qtbot, tmp_path)
    column = window.columns["left"]
    plot, preview = column.latent_plot, column.hover
    xy = window.state.projections["left"].to_plane(window.snapshot.ae_codes)
    (x0, x1), (y0, y1) = plot.view_box.viewRange()
    empty = np.array([x1 - 0.05 * (x1 - x0), y0 + 0.05 * (y1 - y0)])  # no point near
    assert np.hypot(*(xy - empty).T).min() > 0.05 * (x1 - x0)
    plot.set_cursor(*empty, notify=True)
    start = view_to_widget(plot, *empty)
    over = view_to_widget(plot, *xy[17])  # the drag ends on a point
    shown = []
    preview.installEventFilter(watcher := _ShowWatcher(shown))
    drag(qtbot, plot, start, over)
    assert shown == [] and not preview.isVisible()
    # Released, the mouse over the point (where it is drawn now) shows its preview.
    hover(qtbot, plot, view_to_widget(plot, *xy[17]))
    qtbot.waitUntil(preview.isVisible, timeout=5000)
    preview.removeEventFilter(watcher)


class _ShowWatcher(QtCore.QObject):
    """Records each time the watched widget is shown."""

    def __init__(self, shown: list) -> None:
        super().__init__()
        self.shown = shown

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's API
        if event.type() == QtCore.QEvent.Type.Show:
            self.shown.append(obj)
        return False


def test_a_decoded_image_stays_whole_when_its_caption_grows(qtbot):
    from vae_gui.views.decoded_image import DecodedImage

    view = DecodedImage("one line")
    qtbot.addWidget(view)
    view.resize(130, 160)
    view.show()
    qtbot.waitExposed(view)
    view.set_image(np.linspace(0, 1, 28 * 28).reshape(28, 28))
    assert view.shown_fully()
    size = view.size()
    view.set_caption("a caption<br>of three<br>lines")  # the view box shrinks, the widget not
    qtbot.waitUntil(view.shown_fully, timeout=5000)
    assert view.size() == size


def test_the_manifold_tab_shows_one_model_large_with_latent_axes(qtbot, tmp_path):
    from statistics import NormalDist

    from vae_gui.model.latent import decode_images

    window = make_window(qtbot, tmp_path)
    window.tools.show_tab("Manifold")
    tab = window.tools.manifold
    tab.size.setValue(5)
    vae, ae = tab.views["right"], tab.views["left"]
    assert vae.isVisible() and not ae.isVisible()  # one model at the tab's full width
    # Prior quantiles: the tick under column i names z1 = Phi^-1((i + 0.5) / n).
    xs, _ys = vae.tick_values
    assert xs[0] == f"{NormalDist().inv_cdf(0.1):.2g}" and xs[2] == "0"
    # The tile in the top-left corner decodes the grid's top-left point.
    z = np.array([[NormalDist().inv_cdf(0.1), NormalDist().inv_cdf(0.9)]], dtype=np.float32)
    tile = decode_images(window.snapshot.vae, z, (28, 28))[0]
    shown = vae.image.image[::-1]  # the item holds the mosaic bottom row first
    np.testing.assert_allclose(shown[:28, :28], tile, atol=1e-6)
    tab.shown.setCurrentText("both")
    assert vae.isVisible() and ae.isVisible()


def test_small_multiples_get_room_for_each_row(qtbot):
    from vae_gui.views.histograms import MIN_HEIGHT, ROW_HEIGHT, MarginalHistograms

    histograms = MarginalHistograms("#1f77b4")
    qtbot.addWidget(histograms)
    rng = np.random.default_rng(0)
    histograms.set_codes(rng.normal(size=(500, 2)))
    assert histograms.minimumHeight() == MIN_HEIGHT
    histograms.set_codes(rng.normal(size=(500, 8)))  # two rows of four
    assert histograms.minimumHeight() == 2 * ROW_HEIGHT
