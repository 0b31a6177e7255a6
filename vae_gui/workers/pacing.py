"""Calling a function at most once per interval (throttled) or once calls stop (debounced).

The window's live views need only these two behaviours; superqt's versions import the whole
of superqt (about 0.3 s, a quarter of the window's imports before its first paint).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from PySide6 import QtCore


class Paced(QtCore.QObject):
    """`fn` called on the GUI thread, paced by a single-shot timer of `timeout_ms`.

    Throttled (the default): the first call runs at once, and further calls within the
    interval run once at its end. Debounced: a call runs once no other has come for
    `timeout_ms`. `cancel` drops a pending call; `flush` runs it now.
    """

    def __init__(self, fn: Callable[[], object], timeout_ms: int, debounce: bool = False,
                 parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self._fn = fn
        self._debounce = debounce
        self._pending = False
        self._timer = QtCore.QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self._timer.setInterval(timeout_ms)
        self._timer.timeout.connect(self._on_timeout)

    def __call__(self) -> None:
        self._pending = True
        if self._debounce:
            self._timer.start()  # restarted by every call
        elif not self._timer.isActive():
            self._run()  # the leading edge

    def cancel(self) -> None:
        self._pending = False

    def flush(self) -> None:
        if self._pending:
            self._run()

    def _on_timeout(self) -> None:
        if self._pending:
            self._run()

    def _run(self) -> None:
        self._pending = False
        if not self._debounce:
            self._timer.start()  # the interval in which further calls wait
        self._fn()


def throttled(fn: Callable[[], object], timeout_ms: int,
              parent: QtCore.QObject | None = None) -> Paced:
    return Paced(fn, timeout_ms, debounce=False, parent=parent)


def debounced(fn: Callable[[], object], timeout_ms: int,
              parent: QtCore.QObject | None = None) -> Paced:
    return Paced(fn, timeout_ms, debounce=True, parent=parent)


class Turns(QtCore.QObject):
    """Jobs run on the GUI thread one per event-loop turn, in the order first asked for.

    Asking again for a job that is still waiting keeps its place (and takes the newer
    function): each job draws from the newest state when its turn comes. What a training
    snapshot brings the views (two clouds, the fit and the cursors, the tools, the marks) is
    spread like this so that timers, input and paints run between the pieces.
    """

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self._jobs: dict[object, Callable[[], object]] = {}  # in the order first asked for
        self._timer = QtCore.QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._run_next)
        # A hold (see `hold`): when it began and when it ends, in time.monotonic() seconds;
        # and whether the jobs that waited through one are running now.
        self._held_since: float | None = None
        self._held_until = 0.0
        self._draining = False

    def add(self, key: object, fn: Callable[[], object]) -> None:
        self._jobs[key] = fn
        if not self._timer.isActive():
            self._timer.start(0)

    def hold(self, quiet_s: float, most_s: float) -> None:
        """Runs no job until `quiet_s` pass without another call, and no longer than `most_s`
        after the first: a dragged cursor calls this on each move, so that its moves never
        wait behind a redraw. What waited then runs in full, one job a turn, before a new
        hold can begin: while a drag goes on, the views still catch up every `most_s`."""
        if self._draining:
            return
        now = time.monotonic()
        if now >= self._held_until:
            if self._held_since is not None and self._jobs:
                self._end_hold()  # it ended, and what waited through it has not run yet
                return
            self._held_since = now
        self._held_until = min(now + quiet_s, self._held_since + most_s)

    def holding(self) -> bool:
        """Whether jobs wait now for a hold to end."""
        return not self._draining and time.monotonic() < self._held_until

    def drop(self, key: object) -> None:
        self._jobs.pop(key, None)

    def pending(self) -> int:
        return len(self._jobs)

    def cancel(self) -> None:
        self._jobs.clear()
        self._held_since, self._held_until, self._draining = None, 0.0, False

    def release(self) -> None:
        """Ends a hold now (the drag ended): what waited runs."""
        if self._held_since is not None:
            self._end_hold()

    def _end_hold(self) -> None:
        """What waited through a hold runs, one job a turn, before another hold begins."""
        self._held_since, self._held_until = None, 0.0
        self._draining = bool(self._jobs)
        if self._jobs:
            self._timer.start(0)  # also when it was set for the hold's end

    def _run_next(self) -> None:
        if not self._jobs:
            self._draining = False
            return
        wait = self._held_until - time.monotonic()
        if wait > 0 and not self._draining:
            self._timer.start(max(1, math.ceil(1000 * wait)))
            return
        if self._held_since is not None:
            self._end_hold()
        key = next(iter(self._jobs))
        fn = self._jobs.pop(key)
        try:
            fn()
        finally:
            if self._jobs:
                # Started after the job, so that a timer which fell due during it (a
                # heartbeat, a throttle) is older and runs first: the next job waits a turn.
                self._timer.start(0)
            else:
                self._draining = False
