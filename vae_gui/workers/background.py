"""Running one function off the GUI thread and getting its result back on it."""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6 import QtCore

from vae_gui.model.errors import VaeGuiError
from vae_gui.workers.mailbox import Mailbox

_current = threading.local()  # the cancel flags of the job running on this thread, if any


class Cancelled(Exception):
    """Raised by `check_cancelled` in a job that was cancelled or whose runner is closing."""


def check_cancelled() -> None:
    """Long jobs call this between their stages (and loads before each image of a folder),
    so that Cancel or closing the window need not wait for them to finish. Does nothing
    outside a BackgroundRunner job."""
    flags = getattr(_current, "flags", None)
    if flags is not None and any(flag.is_set() for flag in flags):
        raise Cancelled


class _Task(QtCore.QRunnable):
    def __init__(self, fn: Callable[[], Any], mailbox: Mailbox, key: int,
                 flags: tuple[threading.Event, ...]) -> None:
        super().__init__()
        self.fn = fn
        self.mailbox = mailbox
        self.key = key
        self.flags = flags  # the runner's (closing) and the job's own (Cancel)

    def run(self) -> None:
        _current.flags = self.flags
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
            _current.flags = None
        self.mailbox.post(*result[:1], (self.key, result[1]))


class BackgroundRunner(QtCore.QObject):
    """Runs functions on a private thread pool; results arrive as calls on this thread."""

    idle = QtCore.Signal()  # the last job has ended (its result delivered or dropped)

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QtCore.QThreadPool(self)
        self.pool.setMaxThreadCount(1)  # loads run one after another, in the order asked
        self._mailbox = Mailbox(self._on_posted, self)
        self._handlers: dict[int, tuple[Callable, Callable, Callable | None]] = {}
        self._job_flags: dict[int, threading.Event] = {}
        self._next_key = 0
        self._cancelled = threading.Event()  # set for good when the window closes

    def run(
        self,
        fn: Callable[[], Any],
        on_done: Callable[[Any], None],
        on_failed: Callable[[str], None],
        on_cancelled: Callable[[], None] | None = None,
    ) -> int:
        """Runs `fn` after the jobs before it; returns its key for `cancel` (0: not started,
        the runner is closing)."""
        if self._cancelled.is_set():
            return 0  # closing: nothing new starts
        self._next_key += 1
        key = self._next_key
        self._handlers[key] = (on_done, on_failed, on_cancelled)
        self._job_flags[key] = threading.Event()
        self.pool.start(_Task(fn, self._mailbox, key, (self._cancelled, self._job_flags[key])))
        return key

    def cancel(self, key: int) -> None:
        """Asks job `key` to stop at its next check_cancelled; whatever it returns is then
        dropped, and its `on_cancelled` is called instead."""
        if key in self._job_flags:
            self._job_flags[key].set()

    def _on_posted(self, kind: str, value: tuple[int, Any]) -> None:
        key, result = value
        on_done, on_failed, on_cancelled = self._handlers.pop(key)
        cancelled_job = self._job_flags.pop(key).is_set()
        try:
            if self._cancelled.is_set():
                return  # the window has closed: a late result must not redraw or start anything
            if kind == "cancelled" or cancelled_job:
                if on_cancelled is not None:
                    on_cancelled()
                return
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
