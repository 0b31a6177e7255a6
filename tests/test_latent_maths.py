"""The latent maths the views use: interpolation paths, and the KL, opacity and projection of
a diverged run's points (finite, or plainly not finite, never a warning)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from vae_gui.model.latent import (
    Projection,
    certainty_opacity,
    interpolate,
    kl_per_dimension,
    sample_posterior,
)

STEPS = 12


def _norms(path: np.ndarray) -> np.ndarray:
    return np.linalg.norm(path.astype(np.float64), axis=1)


# ------------------------------------------------------------------------ interpolation


def test_a_spherical_path_between_opposite_ends_stays_finite_and_between_their_norms():
    # Plain slerp divides by sin(pi), about 1e-16: this path went through -8e15.
    path = interpolate(np.array([1.0, 0.0]), np.array([-2.0, 0.0]), STEPS, spherical=True)
    assert np.isfinite(path).all()
    norms = _norms(path)
    assert norms.min() >= 1.0 - 1e-6 and norms.max() <= 2.0 + 1e-6
    np.testing.assert_allclose(norms, np.linspace(1.0, 2.0, STEPS), atol=1e-6)
    assert np.abs(path[1:-1, 1]).min() > 0  # it turns through the plane, not through 0


def test_opposite_ends_take_the_same_circle_whatever_the_rounding():
    a = np.array([0.3, -1.2, 2.0])
    exact = interpolate(a, -2 * a, STEPS, spherical=True)
    nudged = interpolate(a, -2 * a + 1e-9, STEPS, spherical=True)
    np.testing.assert_allclose(exact, nudged, atol=1e-5)
    # The circle goes through a direction perpendicular to a: halfway, at a right angle.
    middle = exact[(STEPS - 1) // 2].astype(np.float64)
    assert abs(np.dot(middle, a)) / (np.linalg.norm(middle) * np.linalg.norm(a)) < 0.2


@pytest.mark.parametrize("dim", [2, 20])
def test_every_spherical_path_between_prior_draws_keeps_its_norm_between_the_ends(dim):
    # For 2-D draws, 10% of plain slerp paths overshot the longer end by 66% or more.
    rng = np.random.default_rng(dim)
    for a, b in rng.standard_normal((1000, 2, dim)).astype(np.float32):
        path = interpolate(a, b, STEPS, spherical=True)
        norms, ends = _norms(path), _norms(np.stack([a, b]))
        assert norms.max() <= ends.max() + 1e-5
        assert norms.min() >= ends.min() - 1e-5
        np.testing.assert_array_equal(path[0], a)
        np.testing.assert_array_equal(path[-1], b)


@pytest.mark.parametrize("spherical", [False, True])
def test_paths_between_points_inside_the_2_sigma_ring_never_leave_it(spherical):
    rng = np.random.default_rng(3)
    ends = rng.uniform(-2, 2, (4000, 2))
    inside = ends[np.linalg.norm(ends, axis=1) < 2.0][:1000].reshape(-1, 2, 2)
    for a, b in inside:
        assert _norms(interpolate(a, b, STEPS, spherical)).max() < 2.0


@pytest.mark.parametrize("a, b", [
    ([1.0, 2.0], [3.0, -1.0]),  # an ordinary pair
    ([0.0, 0.0], [1.5, -0.5]),  # an end at the origin: no direction to turn from
    ([1e-9, 0.0], [-1.0, 2.0]),
    ([2.0], [-3.0]),  # one dimension, opposite signs: no circle to turn along
    ([2.0], [5.0]),
    ([1.0, 1.0], [2.0, 2.0]),  # one direction
])
def test_ends_are_exact_and_the_fallbacks_are_the_straight_line(a, b):
    a, b = np.array(a), np.array(b)
    linear = interpolate(a, b, STEPS)
    spherical = interpolate(a, b, STEPS, spherical=True)
    for path in (linear, spherical):
        np.testing.assert_array_equal(path[0], a.astype(np.float32))
        np.testing.assert_array_equal(path[-1], b.astype(np.float32))
    turns = np.linalg.norm(a) > 1e-8 and len(a) > 1 and abs(a[0] * b[1] - a[1] * b[0]) > 0
    if not turns:
        np.testing.assert_allclose(spherical, linear, atol=1e-6)


def test_a_spherical_path_turns_at_an_even_angular_pace_and_length_pace():
    a, b = np.array([2.0, 0.0]), np.array([0.0, 4.0])
    path = interpolate(a, b, 5, spherical=True).astype(np.float64)
    np.testing.assert_allclose(np.arctan2(path[:, 1], path[:, 0]), np.linspace(0, np.pi / 2, 5),
                               atol=1e-6)
    np.testing.assert_allclose(_norms(path), [2.0, 2.5, 3.0, 3.5, 4.0], atol=1e-6)


# ------------------------------------------------------------- a diverged run's points

HUGE = 100.0  # a finite log-variance whose exp overflows float32 (from about 88.7)


@pytest.fixture
def no_warnings():
    """Any numpy warning fails the test: in a Qt slot it would reach stderr as noise."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def test_the_kl_of_a_huge_log_variance_is_finite_and_of_inf_plainly_inf(no_warnings):
    mu = np.zeros((4, 3), dtype=np.float32)
    logvar = np.array([[HUGE, 0.0, np.inf]] * 4, dtype=np.float32)
    kl = kl_per_dimension(mu, logvar)
    assert kl[0] == pytest.approx(0.5 * (np.exp(HUGE) - 1.0 - HUGE))
    assert kl[1] == 0.0 and kl[2] == np.inf  # not NaN from inf - inf


def test_opacity_stays_finite_when_some_spreads_overflow(no_warnings):
    # exp(0.5 * 2000) overflows even float64, where the opacity is computed.
    logvar = np.array([[0.0, 0.0], [2.0, 2.0], [HUGE, HUGE], [2000.0, 0.0], [np.nan, 0.0]],
                      dtype=np.float32)
    alpha = certainty_opacity(logvar, faintest=0.12)
    assert np.isfinite(alpha).all() and alpha.shape == (5,)
    # Among finite spreads the most certain is opaque; an overflowing or NaN one is the faintest.
    assert alpha[0] == 1.0 and alpha[2] == pytest.approx(0.12)
    assert alpha[3] == alpha[4] == 0.12
    assert 0.12 <= alpha[1] <= 1.0
    assert np.isfinite(certainty_opacity(np.full((3, 2), np.inf, dtype=np.float32))).all()


def test_a_diverged_cloud_projects_and_samples_without_warnings(no_warnings):
    mu = np.array([[np.inf, 1.0], [0.5, 0.5], [np.inf, -np.inf]], dtype=np.float32)
    logvar = np.array([[0.0, 0.0], [1000.0, 0.0], [1000.0, 1000.0]], dtype=np.float32)
    samples = sample_posterior(mu, logvar)  # the last row meets inf - inf: NaN
    assert not np.isfinite(samples).all(axis=1).any()
    xy = Projection.axes(2).to_plane(mu)
    assert not np.isfinite(xy[0]).all()
    np.testing.assert_array_equal(xy[1], mu[1])
