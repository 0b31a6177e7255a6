"""LatentPlot on its own: what it keeps, and what it draws as dots and as a density image."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6 import QtCore, QtGui  # noqa: E402

from vae_gui.views.latent_plot import DENSITY_THRESHOLD, LatentPlot  # noqa: E402
from vae_gui.views.palette import class_color  # noqa: E402

CLASSES = tuple(str(i) for i in range(10))


@pytest.fixture
def plot(qtbot):
    p = LatentPlot("test")
    qtbot.addWidget(p)
    p.resize(400, 400)
    p.set_classes(CLASSES)
    p.show()
    qtbot.waitExposed(p)
    return p


def pixels(plot) -> np.ndarray:
    """The plot's viewport as an (H, W, 3) array of RGB bytes."""
    image = plot.viewport().grab().toImage().convertToFormat(QtGui.QImage.Format.Format_RGB888)
    array = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(),
                                                                image.bytesPerLine())
    # A copy: the array must not outlive the image whose memory it views.
    return array[:, :3 * image.width()].reshape(image.height(), image.width(), 3).copy()


def count_near(rgb: np.ndarray, color: str, tol: int = 40) -> int:
    c = QtGui.QColor(color)
    target = np.array([c.red(), c.green(), c.blue()])
    return int((np.abs(rgb.astype(int) - target).max(axis=2) <= tol).sum())


def test_points_are_kept_class_by_class_in_the_order_given(plot):
    xy = np.array([[0, 0], [1, 1], [2, 2], [3, 3], [np.nan, 1]], dtype=np.float32)
    labels = np.array([2, 0, 2, 12, 0])  # 12 is no class: not plotted
    plot.set_points(xy, labels)
    assert plot.point_count() == 4
    np.testing.assert_array_equal(plot.plotted_points(),
                                  [[1, 1], [np.nan, 1], [0, 0], [2, 2]])
    plot.set_classes(CLASSES[:3])  # new classes: the old points go
    assert plot.point_count() == 0


def test_dots_below_the_threshold_and_a_density_image_above(plot, qtbot):
    rng = np.random.default_rng(0)
    few = rng.normal(0, 1, (2000, 2)).astype(np.float32)
    plot.fit(np.array([-3, -3]), np.array([3, 3]))
    plot.set_points(few, np.full(len(few), 3))  # all of class 3 (red)
    assert plot.render_mode == "points"
    dots = count_near(pixels(plot), class_color(3, 10))
    assert dots > 500

    many = rng.normal(0, 1, (2 * DENSITY_THRESHOLD, 2)).astype(np.float32)
    labels = (many[:, 0] > 0).astype(int)  # class 0 (blue) left, class 1 (orange) right
    plot.set_points(many, labels)
    assert plot.render_mode == "density"
    assert plot.point_count() == len(many)
    rgb = pixels(plot)
    x0 = plot.mapFromScene(plot.view_box.mapViewToScene(QtCore.QPointF(0, 0))).x()
    left, right = rgb[:, : x0 - 12], rgb[:, x0 + 12:]  # either side of x = 0 and the cursor
    blue, orange = class_color(0, 10), class_color(1, 10)
    assert count_near(left, blue) > 1000 and count_near(left, orange) < 50
    assert count_near(right, orange) > 1000 and count_near(right, blue) < 50

    # Zoomed in, with fewer points in view than the threshold, they are dots again; forced
    # to density, the visible region is binned anew.
    plot.fit(np.array([0.5, -0.5]), np.array([1.5, 0.5]))
    assert plot.render_mode == "points"
    assert count_near(pixels(plot), orange) > 5000
    plot.set_render_mode("density")
    assert plot.render_mode == "density"
    assert count_near(pixels(plot), orange, tol=120) > 5000
    plot.set_render_mode("points")
    assert plot.render_mode == "points"
    with pytest.raises(ValueError):
        plot.set_render_mode("hexbin")


def test_a_non_finite_point_does_not_hide_the_others(plot):
    xy = np.array([[0, 0], [1, 1], [np.inf, 0], [np.nan, np.nan]], dtype=np.float32)
    plot.fit(np.array([-2, -2]), np.array([2, 2]))
    plot.set_cursor(50, 50)  # out of view: its orange is not a red dot
    plot.set_points(xy, np.array([3, 3, 3, 3]))
    assert plot.point_count() == 4
    rgb = pixels(plot).astype(int)
    assert ((rgb[..., 0] - rgb[..., 1] > 60) & (rgb[..., 2] < 200)).sum() > 10  # red dots


def test_opacity_and_unchanged_labels(plot):
    plot.set_points_opacity(0.25)
    assert plot.points_opacity() == pytest.approx(0.25)
    plot.set_axis_labels("z1", "z2")
    plot.set_axis_labels("PC1", "PC2")
    assert plot.plot_item.getAxis("bottom").labelText == "PC1"


def test_dots_are_painted_by_the_fast_path_in_one_call(plot):
    # PrimitiveArray is private pyqtgraph API (pinned in pyproject): all dots in view must go
    # through one drawPixmapFragments call, not a Python loop.
    rng = np.random.default_rng(0)
    plot.set_points(rng.normal(size=(500, 2)), rng.integers(0, 10, 500))
    plot.fit(np.array([-5.0, -5.0]), np.array([5.0, 5.0]))
    pixels(plot)
    assert plot.dots_painted() == 500


def test_a_click_on_a_point_reports_its_index(plot, qtbot):
    plot.set_points(np.array([[0.0, 0.0], [2.0, 1.0], [-1.0, 2.0]]), np.array([0, 1, 2]))
    plot.fit(np.array([-3.0, -3.0]), np.array([3.0, 3.0]))
    scene_pos = plot.view_box.mapViewToScene(QtCore.QPointF(2.0, 1.0))
    assert plot.point_near(scene_pos) == 1
    far = plot.view_box.mapViewToScene(QtCore.QPointF(1.0, -2.0))
    assert plot.point_near(far) is None



def test_nice_lengths_are_round_and_near_a_fifth():
    from vae_gui.views.latent_plot import nice_length

    assert nice_length(10) == 2 and nice_length(60) == 10 and nice_length(7) == 1
    assert nice_length(0.3) == pytest.approx(0.05) and nice_length(float("nan")) == 1


def test_the_scale_bar_follows_the_view_in_prior_sigmas(plot, qtbot):
    plot.fit(np.array([-30.0, -30.0]), np.array([30.0, 30.0]))
    qtbot.waitUntil(lambda: plot.scale_bar.size == 10, timeout=5000)
    assert plot.scale_bar.text.toPlainText() == "10\u03c3 of the prior"
    plot.fit(np.array([-3.0, -3.0]), np.array([3.0, 3.0]))
    qtbot.waitUntil(lambda: plot.scale_bar.size == 1, timeout=5000)
    assert plot.scale_bar.text.toPlainText() == "1\u03c3 of the prior"


def test_following_a_drifting_cloud_refits_only_past_the_tolerance(plot):
    plot.fit(np.array([-4.0, -4.0]), np.array([4.0, 4.0]))
    view = plot.view_box.viewRange()
    plot.fit(np.array([-4.2, -3.9]), np.array([4.1, 4.3]), tolerance=0.05)  # moved by < 5%
    assert plot.view_box.viewRange() == view
    plot.fit(np.array([-4.0, -4.0]), np.array([6.0, 4.0]), tolerance=0.05)  # by 25%: follows
    (x0, x1), _ = plot.view_box.viewRange()
    assert x1 > 5.9
    plot.fit(np.array([-4.0, -4.0]), np.array([6.1, 4.0]))  # no tolerance: always fitted
    assert plot.view_box.viewRange()[0][1] > x1

