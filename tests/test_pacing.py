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


def test_turns_run_one_job_per_event_loop_turn_with_timers_between(qtbot):
    """Jobs that each block for 10 ms: a 1 ms timer that falls due during one runs before
    the next job, and a job asked for again keeps its place with the newer function."""
    import time

    from PySide6 import QtCore

    from vae_gui.workers.pacing import Turns

    log: list[str] = []
    beat = QtCore.QTimer()
    beat.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
    beat.setInterval(1)
    beat.timeout.connect(lambda: log.append("beat"))

    def job(name: str):
        def run() -> None:
            log.append(name)
            time.sleep(0.01)
        return run

    turns = Turns()
    beat.start()
    for name in ("a", "b", "c"):
        turns.add(name, job(name))
    turns.add("a", job("a2"))  # replaces a's function, keeps its place
    qtbot.waitUntil(lambda: turns.pending() == 0 and "c" in log, timeout=5000)
    beat.stop()
    jobs = [entry for entry in log if entry != "beat"]
    assert jobs == ["a2", "b", "c"]
    between = log[log.index("a2"):log.index("c")]
    assert between.count("beat") >= 2, log  # a beat between a2 and b, and between b and c
    assert "beat" in log[log.index("a2") + 1:log.index("b")]


def test_turns_cancel_and_drop(qtbot):
    from vae_gui.workers.pacing import Turns

    calls: list[str] = []
    turns = Turns()
    for name in ("a", "b", "c"):
        turns.add(name, lambda name=name: calls.append(name))
    turns.drop("b")
    qtbot.waitUntil(lambda: turns.pending() == 0, timeout=5000)
    assert calls == ["a", "c"]
    turns.add("d", lambda: calls.append("d"))
    turns.cancel()
    qtbot.wait(50)
    assert calls == ["a", "c"]


def test_a_hold_keeps_jobs_waiting_until_it_is_released_then_runs_them_all(qtbot):
    """A dragged cursor holds the redraws (a hold far longer than the test); the drag's end
    releases them, and they run in order, none of them during a hold."""
    from vae_gui.workers.pacing import Turns

    turns = Turns()
    ran: list[tuple[str, bool]] = []
    turns.hold(quiet_s=600, most_s=600)
    for name in "abc":
        turns.add(name, lambda name=name: ran.append((name, turns.holding())))
    qtbot.wait(50)
    assert ran == [] and turns.holding() and turns.pending() == 3
    turns.hold(quiet_s=600, most_s=600)  # another move
    turns.release()
    qtbot.waitUntil(lambda: len(ran) == 3, timeout=5000)
    assert ran == [("a", False), ("b", False), ("c", False)]


def test_a_hold_ends_when_the_calls_pause_and_after_its_longest_while_they_go_on(qtbot):
    from PySide6 import QtCore

    from vae_gui.workers.pacing import Turns

    turns = Turns()
    ran: list[str] = []
    turns.hold(quiet_s=0.05, most_s=600)  # one move, then none: ends after the pause
    turns.add("a", lambda: ran.append("a"))
    qtbot.waitUntil(lambda: ran == ["a"], timeout=5000)

    # A drag that never pauses: a hold every 10 ms, each one due to last 10 minutes, but the
    # hold may not last more than 0.2 s; what waited then runs in full, even though a move
    # comes while it runs (inside job b here).
    moves = QtCore.QTimer()
    moves.timeout.connect(lambda: turns.hold(quiet_s=600, most_s=0.2))
    turns.hold(quiet_s=600, most_s=0.2)
    moves.start(10)

    def b() -> None:
        turns.hold(quiet_s=600, most_s=0.2)
        ran.append(f"b, holding: {turns.holding()}")

    turns.add("b", b)
    turns.add("c", lambda: ran.append("c"))
    qtbot.waitUntil(lambda: len(ran) == 3, timeout=5000)
    moves.stop()
    assert ran == ["a", "b, holding: False", "c"]
