"""Running one function off the GUI thread and getting its result back on it."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

from PySide6 import QtCore

from model.errors import VaeGuiError
from vae_gui.mailbox import Mailbox


class _Task(QtCore.QRunnable):
    def __init__(self, fn: Callable[[], Any], mailbox: Mailbox, key: int) -> None:
        super().__init__()
        self.fn = fn
        self.mailbox = mailbox
        self.key = key

    def run(self) -> None:
        try:
            result = ("done", self.fn())
        except VaeGuiError as exc:
            result = ("failed", str(exc))
        except Exception as exc:  # noqa: BLE001 - reported to the user instead of lost
            traceback.print_exc()
            result = ("failed", f"Unexpected error: {type(exc).__name__}: {exc}")
        self.mailbox.post(*result[:1], (self.key, result[1]))


class BackgroundRunner(QtCore.QObject):
    """Runs functions on a private thread pool; results arrive as calls on this thread."""

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QtCore.QThreadPool(self)
        self.pool.setMaxThreadCount(1)  # loads run one after another, in the order asked
        self._mailbox = Mailbox(self._on_posted, self)
        self._handlers: dict[int, tuple[Callable, Callable]] = {}
        self._next_key = 0

    def run(
        self,
        fn: Callable[[], Any],
        on_done: Callable[[Any], None],
        on_failed: Callable[[str], None],
    ) -> None:
        self._next_key += 1
        self._handlers[self._next_key] = (on_done, on_failed)
        self.pool.start(_Task(fn, self._mailbox, self._next_key))

    def _on_posted(self, kind: str, value: tuple[int, Any]) -> None:
        key, result = value
        on_done, on_failed = self._handlers.pop(key)
        (on_done if kind == "done" else on_failed)(result)

    @property
    def busy(self) -> bool:
        return bool(self._handlers)

    def wait(self, msecs: int) -> bool:
        return self.pool.waitForDone(msecs)
