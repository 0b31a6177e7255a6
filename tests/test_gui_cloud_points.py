"""View ▸ Cloud: training images too, used as a person would: on a loaded checkpoint and
while training; hover, Inspect, the export and the evidence keep to what each one says."""

from __future__ import annotations

import numpy as np
import pytest
from gui_helpers import hover, make_window, press, view_to_widget


def _plotted(window) -> int:
    return window.columns["right"].latent_plot.point_count()


def test_the_training_split_joins_the_clouds_and_leaves_them(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    assert _plotted(window) == 1000  # mnist5k's test split, whole
    shown = window.snapshot
    window.train_points_action.trigger()
    qtbot.waitUntil(lambda: _plotted(window) == 5000, timeout=30000)
    s = window.snapshot
    # The same (frozen) models, now encoding the 4,000 training images after the test ones.
    assert s.vae is shown.vae and s.cloud.include_train
    np.testing.assert_array_equal(s.vae_mu[:1000], shown.vae_mu)
    data = window.state.origin.data
    np.testing.assert_array_equal(s.labels[1000:], data.train_labels)
    assert "1,000 test + 4,000 training images" in window.statusBar().currentMessage()

    # The preview under the mouse names the split and shows that image.
    column, i = window.columns["left"], 1000 + 123
    x, y = window.state.projections["left"].to_plane(s.ae_codes[i][None])[0]
    hover(qtbot, column.latent_plot, view_to_widget(column.latent_plot, float(x), float(y)))
    qtbot.waitUntil(column.hover.isVisible, timeout=5000)
    j = column.hover.index
    split, k = s.cloud.split_of(j)
    assert column.hover.caption_label.text().startswith(f"{split} image {k:,}, class ")
    np.testing.assert_array_equal(window.cloud_images[j],
                                  (data.test_images if split == "test" else data.train_images)[k])

    # The export is of the encoded test set, as its name says.
    window.files.export_codes(str(tmp_path / "codes.npz"))
    with np.load(tmp_path / "codes.npz") as saved:
        assert len(saved["labels"]) == 1000

    window.train_points_action.trigger()  # and back to the test split alone
    qtbot.waitUntil(lambda: _plotted(window) == 1000, timeout=30000)
    assert not window.snapshot.cloud.include_train


@pytest.mark.slow  # a few seconds; the option on a shown checkpoint is checked quickly above
def test_a_run_started_with_the_option_and_one_switched_while_training(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    window.train_points_action.trigger()
    qtbot.waitUntil(lambda: _plotted(window) == 5000, timeout=30000)
    pretrained = window.snapshot
    press(qtbot, window, window.train_action)
    qtbot.waitUntil(lambda: window.snapshot is not pretrained and window.snapshot.step > 0,
                    timeout=30000)
    qtbot.waitUntil(lambda: _plotted(window) == 5000, timeout=5000)  # from the run's start
    assert window.snapshot.cloud.include_train
    window.train_points_action.trigger()  # the running trainer's next snapshot drops it
    # (The views draw a live snapshot piece by piece: wait for the plot too.)
    qtbot.waitUntil(lambda: not window.snapshot.cloud.include_train and _plotted(window) == 1000,
                    timeout=30000)
    assert window.session.running
    press(qtbot, window, window.stop_action)
    qtbot.waitUntil(lambda: not window.session.running, timeout=30000)
