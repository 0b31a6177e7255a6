"""ExplorerState on its own: one place for what the window shows, announced by signals."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture
def snapshot(tiny_data):
    from vae_gui.model.config import ModelConfig
    from vae_gui.model.networks import build_models
    from vae_gui.model.training import snapshot_of

    config = ModelConfig(hidden=(32,), latent_dim=4)
    ae, vae = build_models(config, 0)
    return snapshot_of((ae, vae), tiny_data)


@pytest.fixture
def state(qtbot):
    from vae_gui.explorer_state import ExplorerState

    return ExplorerState()


def test_show_derives_projections_and_announces_a_refit_for_a_new_latent_size(
        qtbot, state, snapshot):
    with qtbot.waitSignal(state.models_changed) as shown:
        state.show(snapshot)
    assert shown.args == [True]  # the first models: fit the views to them
    assert state.projections["right"].description.startswith("PCA")
    with qtbot.waitSignal(state.models_changed) as shown:
        state.show(snapshot)
    assert shown.args == [False]


def test_the_sampled_cloud_is_its_own_value_and_the_snapshot_is_untouched(
        qtbot, state, snapshot):
    state.show(snapshot)
    means = snapshot.vae_mu.copy()
    with qtbot.waitSignal(state.options_changed):
        state.set_options(sampled_cloud=True)
    sampled = state.plotted("right")
    assert sampled.shape == means.shape and not np.allclose(sampled, means)
    np.testing.assert_array_equal(state.snapshot.vae_mu, means)
    np.testing.assert_array_equal(state.encoded("right"), means)
    # The draws are z = mu + sigma * eps: standardised, they look like N(0, 1).
    eps = (sampled - means) / np.exp(0.5 * snapshot.vae_logvar)
    assert abs(eps.mean()) < 0.1 and abs(eps.std() - 1) < 0.1
    np.testing.assert_array_equal(state.plotted("left"), snapshot.ae_codes)


def test_chosen_axes_replace_pca_and_ask_for_a_refit(qtbot, state, snapshot):
    state.show(snapshot)
    with qtbot.waitSignal(state.models_changed) as shown:
        state.set_options(projection_dims=(2, 3))
    assert shown.args == [True]
    xy = state.projections["left"].to_plane(snapshot.ae_codes)
    np.testing.assert_allclose(xy, snapshot.ae_codes[:, 2:4], rtol=1e-6)


def test_cursor_and_inspected_point_are_announced(qtbot, state, snapshot):
    state.show(snapshot)
    with qtbot.waitSignal(state.cursor_changed) as moved:
        state.move_cursor("right", np.ones(4))
    assert moved.args == ["right"]
    np.testing.assert_array_equal(state.cursor_z, np.ones(4, dtype=np.float32))
    with qtbot.waitSignal(state.inspected_changed) as inspected:
        state.inspect(7)
    assert inspected.args == [7] and state.inspected == 7
