"""A guard for GUI tests: nothing a test started may outlive it.

After a test's own teardown (pytest-qt has closed and scheduled for deletion the widgets
registered with qtbot.addWidget, and the test's windows have been collected), it fails the
test when any of these is left:

- a QThread started during the test that is still running after a bounded wait;
- a QThreadPool used during the test whose workers are still busy after a bounded wait;
- a QTimer started during the test that is still active, with its parent (if any) alive;
- a top-level widget that is still visible.

Threads get QT_LEAK_WAIT_MS to finish (waiting on the condition while events are processed,
so a thread that reports back through the event loop can end). Whatever leaked is then
cleaned up (timers stopped, threads asked to quit and waited for, widgets closed), so that
one leak does not spill into the next test.

A test that leaks for a known reason in the application carries
`@pytest.mark.known_qt_leak("what leaks and why")`: its leaks are reported as a
QtLeakWarning in the summary instead of failing it (and the leak stays visible there).

Modelled on napari's dangling_qthreads / dangling_qtimers fixtures. Imported by
conftest.py only for tests that use qtbot, so that model-only tests never import Qt.
"""

from __future__ import annotations

import contextlib
import sys
import warnings
import weakref
from collections.abc import Iterator

import pytest
import shiboken6
from PySide6 import QtCore, QtWidgets

QT_LEAK_WAIT_MS = 5000


class QtLeakWarning(UserWarning):
    """A GUI test marked known_qt_leak left Qt objects behind (see tests/qt_leaks.py)."""


def _started_at() -> str:
    """The first frame outside this module: the code that called start()."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename == __file__:
        frame = frame.f_back
    if frame is None:
        return "?"
    return f"{frame.f_code.co_filename}:{frame.f_lineno} ({frame.f_code.co_name})"


def _alive(obj) -> bool:
    return obj is not None and shiboken6.isValid(obj)


def _describe(obj) -> str:
    name = obj.objectName() or "(no objectName)"
    parent = obj.parent() if isinstance(obj, QtCore.QObject) else None
    owner = f", parent {type(parent).__name__}" if _alive(parent) else ""
    return f"{type(obj).__module__}.{type(obj).__qualname__} {name!r}{owner}"


class _Recorder:
    """Records, weakly, the QThreads, QThreadPools and QTimers started during one test."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.threads: list[tuple[weakref.ref, str]] = []
        self.pools: list[tuple[weakref.ref, str]] = []
        self.timers: list[tuple[weakref.ref, str]] = []
        recorder = self

        def wrap(cls, name: str, into: list):
            original = getattr(cls, name)

            def start(self, *args, **kwargs):
                with contextlib.suppress(TypeError):  # an object weakref cannot follow
                    into.append((weakref.ref(self), _started_at()))
                return original(self, *args, **kwargs)

            start.__doc__ = original.__doc__
            monkeypatch.setattr(cls, name, start)

        wrap(QtCore.QThread, "start", recorder.threads)
        wrap(QtCore.QThreadPool, "start", recorder.pools)
        wrap(QtCore.QTimer, "start", recorder.timers)

    @staticmethod
    def _live(records: list[tuple[weakref.ref, str]]) -> Iterator[tuple[object, str]]:
        seen = set()
        for ref, where in records:
            obj = ref()
            if _alive(obj) and id(obj) not in seen:
                seen.add(id(obj))
                yield obj, where

    def running_threads(self) -> list[tuple[QtCore.QThread, str]]:
        return [(t, w) for t, w in self._live(self.threads) if t.isRunning()]

    def busy_pools(self) -> list[tuple[QtCore.QThreadPool, str]]:
        return [(p, w) for p, w in self._live(self.pools) if p.activeThreadCount() > 0]

    def active_timers(self) -> list[tuple[QtCore.QTimer, str]]:
        return [(t, w) for t, w in self._live(self.timers) if t.isActive()]


def _wait_until(qtbot, condition, timeout_ms: int) -> bool:
    """Waits for `condition` while Qt processes events; False if it never held."""
    try:
        qtbot.waitUntil(condition, timeout=timeout_ms)
    except qtbot.TimeoutError:
        return False
    return True


def _visible_top_level_widgets() -> list[QtWidgets.QWidget]:
    return [w for w in QtWidgets.QApplication.topLevelWidgets()
            if _alive(w) and w.isVisible()]


@contextlib.contextmanager
def guard(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Wraps one GUI test (used by the autouse fixture in conftest.py)."""
    qtbot = request.getfixturevalue("qtbot")
    visible_before = {id(w) for w in _visible_top_level_widgets()}
    recorder = _Recorder(monkeypatch)
    yield

    # Widgets closed by pytest-qt were only scheduled for deletion: delete them now, so
    # that what they owned (timers, thread pools) goes with them.
    QtCore.QCoreApplication.sendPostedEvents(None, QtCore.QEvent.Type.DeferredDelete)
    leaks = []
    if not _wait_until(qtbot, lambda: not recorder.running_threads(), QT_LEAK_WAIT_MS):
        for thread, where in recorder.running_threads():
            leaks.append(f"QThread still running {QT_LEAK_WAIT_MS} ms after the test: "
                         f"{_describe(thread)}, started at {where}")
    if not _wait_until(qtbot, lambda: not recorder.busy_pools(), QT_LEAK_WAIT_MS):
        for pool, where in recorder.busy_pools():
            leaks.append(f"QThreadPool still busy ({pool.activeThreadCount()} threads) "
                         f"{QT_LEAK_WAIT_MS} ms after the test: {_describe(pool)}, "
                         f"used at {where}")
    for timer, where in recorder.active_timers():
        leaks.append(f"QTimer still active (interval {timer.interval()} ms, "
                     f"{'single shot' if timer.isSingleShot() else 'repeating'}): "
                     f"{_describe(timer)}, started at {where}")
    for widget in _visible_top_level_widgets():
        if id(widget) not in visible_before:
            leaks.append(f"top-level widget still visible: {_describe(widget)} "
                         f"titled {widget.windowTitle()!r}")
    if not leaks:
        return

    _clean_up(qtbot, recorder, visible_before)
    known = request.node.get_closest_marker("known_qt_leak")
    report = "\n  ".join(leaks)
    if known is not None:
        reason = known.args[0] if known.args else known.kwargs.get("reason", "")
        warnings.warn(QtLeakWarning(f"{request.node.nodeid} leaked (known: {reason}):\n  "
                                    f"{report}"), stacklevel=1)
        return
    pytest.fail(f"the test left Qt objects behind (see tests/qt_leaks.py):\n  {report}",
                pytrace=False)


def _clean_up(qtbot, recorder: _Recorder, visible_before: set[int]) -> None:
    for timer, _ in recorder.active_timers():
        timer.stop()
    for thread, _ in recorder.running_threads():
        thread.requestInterruption()
        thread.quit()
    _wait_until(qtbot, lambda: not recorder.running_threads(), QT_LEAK_WAIT_MS)
    for pool, _ in recorder.busy_pools():
        pool.clear()
    _wait_until(qtbot, lambda: not recorder.busy_pools(), QT_LEAK_WAIT_MS)
    for widget in _visible_top_level_widgets():
        if id(widget) not in visible_before:
            widget.close()
