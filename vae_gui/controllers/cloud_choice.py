"""View ▸ Cloud: training images too. A running trainer is told (its next snapshot encodes
the chosen points); models that nothing trains (a checkpoint, a stopped run) are encoded
again in the background, and shown once encoded."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from PySide6 import QtCore

from vae_gui.explorer_state import ExplorerState
from vae_gui.workers.background import BackgroundRunner

if TYPE_CHECKING:
    from vae_gui.model.training import Snapshot
    from vae_gui.workers.training_session import TrainingSession


class CloudChoice(QtCore.QObject):
    """Keeps the points on screen those that the View option asks for."""

    message = QtCore.Signal(str, int)  # a status-bar message and how long to show it (ms)
    error = QtCore.Signal(str, str)

    def __init__(self, state: ExplorerState, session: TrainingSession,
                 parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.session = session
        self.runner = BackgroundRunner(self)
        self._encoding: Snapshot | None = None  # the snapshot being encoded again, if any
        state.options_changed.connect(self._on_options_changed)
        state.models_changed.connect(lambda _refit: self._reconcile())

    @property
    def wanted(self) -> bool:
        return self.state.options.train_points

    def _on_options_changed(self) -> None:
        self.session.set_cloud(self.wanted)
        self._reconcile()

    def _reconcile(self) -> None:
        """Encodes the shown models' points again where they are not the points asked for
        and no running trainer will send them."""
        s, origin = self.state.snapshot, self.state.origin
        if s is None or s.cloud is None or origin is None or origin.data is None:
            return
        if s.cloud.include_train == self.wanted or s is self._encoding:
            return
        if self.session.running and not self.session.paused:
            return  # the trainer's next snapshot brings them, within its snapshot interval
        from vae_gui.model.training import with_cloud

        cloud = dataclasses.replace(s.cloud, include_train=self.wanted)
        self._encoding = s
        self.message.emit(f"Encoding {cloud.describe()} for the clouds\u2026", 0)
        data = origin.data
        self.runner.run(lambda: with_cloud(s, data, cloud), lambda new: self._on_encoded(s, new),
                        self._on_failed)

    def _on_encoded(self, old: Snapshot, new: Snapshot) -> None:
        self._encoding = None
        if self.state.snapshot is not old:
            return self._reconcile()  # other models came meanwhile: look at those
        self.state.show(new, live=self.state.live)
        self.message.emit(f"The clouds show {new.cloud.describe()}.", 5000)

    def _on_failed(self, message: str) -> None:
        self._encoding = None
        self.error.emit("Could not encode the points", message)

    def shutdown(self) -> bool:
        """For closing: drops a pending encoding's result without waiting."""
        return self.runner.shutdown()
