"""Throttled and debounced calls (vae_gui/workers/pacing.py), which pace the live views."""

from __future__ import annotations

from vae_gui.workers.pacing import debounced, throttled


def test_a_throttled_call_runs_at_once_then_once_at_the_end_of_the_interval(qtbot):
    calls = []
    paced = throttled(lambda: calls.append(len(calls)), 80)
    paced()
    assert calls == [0]  # the leading edge: at once
    paced()
    paced()
    paced()
    assert calls == [0]  # within the interval: held back
    qtbot.waitUntil(lambda: len(calls) == 2, timeout=5000)  # once, at its end
    qtbot.wait(200)
    assert calls == [0, 1]  # and no more without new calls


def test_cancel_drops_and_flush_runs_a_pending_throttled_call(qtbot):
    calls = []
    paced = throttled(lambda: calls.append(1), 80)
    paced()
    paced()
    paced.cancel()
    qtbot.wait(200)
    assert calls == [1]
    paced()  # the interval has passed: at once again
    assert calls == [1, 1]
    paced()
    paced.flush()
    assert calls == [1, 1, 1]
    paced.flush()  # nothing pending
    assert calls == [1, 1, 1]


def test_a_debounced_call_runs_once_after_the_calls_stop(qtbot):
    calls = []
    paced = debounced(lambda: calls.append(1), 60)
    for _ in range(5):
        paced()
        qtbot.wait(10)
    assert calls == []
    qtbot.waitUntil(lambda: calls == [1], timeout=5000)
    paced()
    paced.cancel()
    qtbot.wait(150)
    assert calls == [1]
