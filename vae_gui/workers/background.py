"""Running one function off the GUI thread and getting its result back on it."""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6 import QtCore

from vae_gui.model.errors import VaeGuiError
from vae_gui.workers.mailbox import Mailbox

_current = threading.local()  # the cancel flag of the job running on this thread, if any


class Cancelled(Exception):
    """Raised by `check_cancelled` in a job whose runner is closing; nothing is reported."""


def check_cancelled() -> None:
    """Long jobs call this between their stages, so that closing the window need not wait
    for them to finish. Does nothing outside a BackgroundRunner job."""
    flag = getattr(_current, "flag", None)
    if flag is not None and flag.is_set():
        raise Cancelled


class _Task(QtCore.QRunnable):
    def __init__(self, fn: Callable[[], Any], mailbox: Mailbox, key: int,
                 cancelled: threading.Event) -> None:
        super().__init__()
        self.fn = fn
        self.mailbox = mailbox
        self.key = key
        self.cancelled = cancelled

    def run(self) -> None:
        _current.flag = self.cancelled
        try:
            check_cancelled()  # queued behind a job and the window closed meanwhile
            result = ("done", self.fn())
        except Cancelled:
            result = ("cancelled", None)
        except VaeGuiError as exc:
            result = ("failed", str(exc))
        except Exception as exc:  # noqa: BLE001 - reported to the user instead of lost
            traceback.print_exc()
            result = ("failed", f"Unexpected error: {type(exc).__name__}: {exc}")
        finally:
            _current.flag = None
        self.mailbox.post(*result[:1], (self.key, result[1]))


class BackgroundRunner(QtCore.QObject):
    """Runs functions on a private thread pool; results arrive as calls on this thread."""

    idle = QtCore.Signal()  # the last job has ended (its result delivered or dropped)

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QtCore.QThreadPool(self)
        self.pool.setMaxThreadCount(1)  # loads run one after another, in the order asked
        self._mailbox = Mailbox(self._on_posted, self)
        self._handlers: dict[int, tuple[Callable, Callable]] = {}
        self._next_key = 0
        self._cancelled = threading.Event()  # set for good when the window closes

    def run(
        self,
        fn: Callable[[], Any],
        on_done: Callable[[Any], None],
        on_failed: Callable[[str], None],
    ) -> None:
        if self._cancelled.is_set():
            return  # closing: nothing new starts
        self._next_key += 1
        self._handlers[self._next_key] = (on_done, on_failed)
        self.pool.start(_Task(fn, self._mailbox, self._next_key, self._cancelled))

    def _on_posted(self, kind: str, value: tuple[int, Any]) -> None:
        key, result = value
        on_done, on_failed = self._handlers.pop(key)
        try:
            if kind == "cancelled" or self._cancelled.is_set():
                return  # the window has closed: a late result must not redraw or start anything
            (on_done if kind == "done" else on_failed)(result)
        finally:
            if not self._handlers:
                self.idle.emit()

    @property
    def busy(self) -> bool:
        return bool(self._handlers)

    def shutdown(self) -> bool:
        """For closing, without waiting: jobs that can stop early (loads) stop at their next
        stage, others (saves) finish. Results that arrive later are dropped, and nothing new
        starts. True when no job is left; otherwise `idle` follows when the last has ended."""
        self._cancelled.set()
        return not self.busy
