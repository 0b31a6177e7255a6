"""Handing Python objects from worker threads to the GUI thread.

Objects never travel as arguments of cross-thread Qt signals: those made PySide6 abort at
exit ("deallocating None") in our tests. Workers put them in a queue and emit a signal
without arguments; the GUI thread drains the queue.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from typing import Any

from PySide6 import QtCore


class Mailbox(QtCore.QObject):
    """`post` from any thread; `handler(kind, value)` runs later on this object's thread."""

    _posted = QtCore.Signal()

    def __init__(self, handler: Callable[[str, Any], None],
                 parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._handler = handler
        self._posted.connect(self.drain, QtCore.Qt.ConnectionType.QueuedConnection)

    def post(self, kind: str, value: Any = None) -> None:
        self._queue.put((kind, value))
        self._posted.emit()

    def drain(self) -> None:
        """Delivers everything posted so far, in order."""
        while True:
            try:
                kind, value = self._queue.get_nowait()
            except queue.Empty:
                return
            self._handler(kind, value)
