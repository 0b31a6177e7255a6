"""The lesson measured on screen: the Evidence tab, the exact posterior under Inspect, the
aggregate-posterior histograms and the rings' labels, driven as a user would."""

from __future__ import annotations

import math

import numpy as np
import pytest
from gui_helpers import (  # noqa: F401 - the fixture is used by every test here
    click,
    collect_windows_after_test,
    make_window,
    press,
    view_to_widget,
)
from PySide6 import QtGui
from vae_gui.model.evidence import aggregate_variance, moment_matched_kl
from vae_gui.model.evidence_report import vae_points

MEASURE_TIMEOUT_MS = 120_000


def _open_evidence(qtbot, window):
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "T&ools")
    next(a for a in menu.actions() if a.text() == "Evidence").trigger()
    tab = window.tools.evidence
    qtbot.waitUntil(lambda: window.evidence.latest is not None, timeout=MEASURE_TIMEOUT_MS)
    return tab


def test_evidence_tab_measures_both_models_on_the_cloud_on_screen(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    tab = _open_evidence(qtbot, window)
    assert window.tools.currentWidget() is tab
    e = window.evidence.latest
    s = window.snapshot
    # The table's figures are those of the points on screen, computed independently here.
    assert e.ae.moment_kl == pytest.approx(moment_matched_kl(s.ae_codes), rel=1e-9)
    assert e.vae.moment_kl == pytest.approx(
        moment_matched_kl(vae_points(s.vae_mu, s.vae_logvar)), rel=1e-9)
    assert e.vae.moment_kl < e.ae.moment_kl
    rows = {r[0]: r[1:] for r in tab.rows()}
    kl_row = rows["moment-matched KL to N(0, I), nats"]
    assert kl_row[0] == f"{e.ae.moment_kl:.2f}" and kl_row[1] == f"{e.vae.moment_kl:.2f}"
    assert rows["outside the 3\u03c3 ring"][2] == f"prior {100 * math.exp(-4.5):.1f}%"
    assert e.bound is not None and e.bound.test_nelbo > e.bound.test_nll
    assert e.ae_samples is not None and e.vae_samples is not None
    # What the user reads: every row of figures in the table, in order.
    text = QtGui.QTextDocumentFragment.fromHtml(tab.table.text()).toPlainText()
    at = 0
    for row in tab.rows():  # each label, then its cells, in the order they are read
        for cell in (c for c in row if c):
            at = text.index(cell, at) + len(cell)


@pytest.mark.slow
def test_evidence_follows_a_run_and_plots_it_by_epoch(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    _open_evidence(qtbot, window)
    settings = window.settings_panel
    settings.epochs.setValue(2)
    press(qtbot, window, window.train_action)
    qtbot.waitUntil(lambda: not window.session.busy and window.snapshot.epoch >= 2,
                    timeout=MEASURE_TIMEOUT_MS)
    qtbot.waitUntil(lambda: window.evidence.latest is not None
                    and window.evidence.latest.epoch >= 2, timeout=MEASURE_TIMEOUT_MS)
    history = window.evidence.history
    epochs = [e.epoch for e in history]
    assert epochs == sorted(epochs) and epochs[-1] == pytest.approx(window.snapshot.epoch)
    x, _ = window.tools.evidence.normal_curves["right"].getData()
    assert len(x) == len(history)


@pytest.mark.slow  # trains 2 epochs and measures each moment (about 10 s)
def test_a_moment_from_the_timeline_is_measured_and_the_later_epochs_stay(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    _open_evidence(qtbot, window)
    window.settings_panel.epochs.setValue(2)
    press(qtbot, window, window.train_action)
    qtbot.waitUntil(lambda: not window.session.busy and window.snapshot.epoch >= 2,
                    timeout=MEASURE_TIMEOUT_MS)
    qtbot.waitUntil(lambda: window.evidence.latest is not None
                    and window.evidence.latest.epoch >= 2, timeout=MEASURE_TIMEOUT_MS)
    before = [e.epoch for e in window.evidence.history]
    first = window.timeline.timeline[0]
    window.timeline.choose(0)
    qtbot.waitUntil(lambda: window.evidence.latest.epoch == first.epoch,
                    timeout=MEASURE_TIMEOUT_MS)
    epochs = [e.epoch for e in window.evidence.history]
    assert epochs == sorted(set(epochs)) and first.epoch in epochs
    assert set(before) <= set(epochs)  # the later epochs' figures are kept
    # The table shows the moment on screen: its moment-matched KL, measured again here.
    n = len(first.labels)
    assert window.evidence.latest.ae.moment_kl == pytest.approx(
        moment_matched_kl(first.ae_codes[:n]), rel=1e-6)


def test_inspect_shows_the_exact_posterior_under_the_ellipse(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    plot = window.columns["right"].latent_plot
    target = tuple(window.snapshot.vae_mu[17])
    click(qtbot, plot, view_to_widget(plot, *target))
    posterior = window.tools.inspect.posterior
    qtbot.waitUntil(lambda: posterior.picture is not None, timeout=MEASURE_TIMEOUT_MS)
    p = posterior.picture
    j = window.inspected
    assert np.allclose(p.mu, window.snapshot.vae_mu[j], atol=1e-5)
    assert posterior.image.image is not None and posterior.image.image.shape == (80, 80)
    assert f"is {p.gap:.2f} nats" in posterior.caption.text()
    assert f"holds {100 * p.mass_in_ellipse:.0f}% of p(z|x)" in posterior.caption.text()


def test_vae_histograms_show_the_aggregate_posterior_by_default(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    column = window.columns["right"]
    s = window.snapshot
    qtbot.waitUntil(lambda: "aggregate posterior" in column.hist_label.text())
    plot, hist, _prior = column.histograms._plots[0]
    expected = np.var(window.state.sampled_z["right"][:, 0].astype(np.float64))
    assert plot.titleLabel.text.startswith(f"z1  var {expected:.2f}")
    # Var(one draw of q(z|x)) estimates Var(mu) + mean sigma^2, the aggregate variance.
    assert expected == pytest.approx(aggregate_variance(s.vae_mu, s.vae_logvar)[0], rel=0.1)
    window.marginal_means_action.trigger()
    qtbot.waitUntil(lambda: "means" in column.hist_label.text())
    means_var = np.var(s.vae_mu[:, 0].astype(np.float64))
    qtbot.waitUntil(lambda: plot.titleLabel.text.startswith(f"z1  var {means_var:.2f}"))
    assert means_var < expected


def test_the_rings_say_how_much_of_the_prior_they_hold(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    labels = [item.textItem.toPlainText()
              for item in window.columns["left"].latent_plot._ring_labels]
    draws = np.random.default_rng(0).standard_normal((100_000, 2))
    r = np.linalg.norm(draws, axis=1)
    assert labels == [f"{k}\u03c3: {100 * (r <= k).mean():.0f}%" for k in (1, 2, 3)]
