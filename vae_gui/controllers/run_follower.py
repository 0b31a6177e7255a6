"""Following a run: watches a folder into which `vae-gui train` writes checkpoints."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore

from vae_gui.model.run_folder import latest_checkpoint

POLL_MS = 1000


class RunFollower(QtCore.QObject):
    """Emits `checkpoint_changed(path)` whenever the run's checkpoint is replaced.

    It polls the file's modification time and size once a second rather than trusting file
    system notifications, which shared and network folders often do not deliver. Saves are
    atomic renames, so a changed file is always a complete one.
    """

    checkpoint_changed = QtCore.Signal(str)

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.folder: Path | None = None
        self._seen: tuple[int, int] | None = None
        self._timer = QtCore.QTimer(self, interval=POLL_MS)
        self._timer.timeout.connect(self.poll)

    @property
    def following(self) -> bool:
        return self._timer.isActive()

    def follow(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self._seen = None
        self._timer.start()
        self.poll()

    def stop(self) -> None:
        self._timer.stop()
        self.folder = None

    def latest(self) -> Path | None:
        """The run's checkpoint, or else its newest per-epoch checkpoint (see
        vae_gui.model.run_folder.latest_checkpoint)."""
        return None if self.folder is None else latest_checkpoint(self.folder)

    def poll(self) -> None:
        path = self.latest()
        if path is None:
            return
        try:
            st = path.stat()
        except OSError:
            return
        key = (st.st_mtime_ns, st.st_size)
        if key != self._seen:
            self._seen = key
            self.checkpoint_changed.emit(str(path))
