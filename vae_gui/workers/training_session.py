"""The training thread: runs model/'s Trainer in one QThread and relays what it publishes."""

from __future__ import annotations

import traceback
from dataclasses import dataclass

from PySide6 import QtCore

from vae_gui.model.config import ModelConfig, TrainConfig
from vae_gui.model.errors import VaeGuiError
from vae_gui.workers.loading import MAX_POINTS
from vae_gui.workers.mailbox import Mailbox


@dataclass(frozen=True)
class TrainingSpec:
    """What to train: the dataset and both configurations (from the settings panel)."""

    dataset: str
    data_root: str | None
    model_config: ModelConfig
    train_config: TrainConfig
    max_points: int | None = MAX_POINTS


class TrainingThread(QtCore.QThread):
    """Runs the trainer in `run` (no event loop: the thread ends when training does).

    What the trainer publishes goes to `mailbox`, to be handled on the GUI thread.
    """

    def __init__(self, spec: TrainingSpec, trainer, control, mailbox: Mailbox) -> None:
        super().__init__()
        self.setObjectName("vae-gui training")
        self.spec = spec
        self.trainer = trainer
        self.control = control
        self.mailbox = mailbox

    def run(self) -> None:
        post = self.mailbox.post
        try:
            if self.trainer is None:
                from vae_gui.model.data import load_dataset
                from vae_gui.model.training import Trainer

                spec = self.spec
                data = load_dataset(spec.dataset, spec.data_root, spec.model_config.image_shape[0])
                if self.control.stopped:  # stopped or closed while the data loaded
                    return
                config = ModelConfig(data.image_shape, spec.model_config.hidden,
                                     spec.model_config.latent_dim)
                self.trainer = Trainer(data, config, spec.train_config,
                                       max_points=spec.max_points)
                post("ready", (self.trainer, data))
                post("snapshot", self.trainer.snapshot())  # the untrained starting point
            self.trainer.run(self.control, on_progress=lambda p: post("progress", p),
                             on_snapshot=lambda s: post("snapshot", s))
        except (VaeGuiError, ValueError) as exc:
            post("failed", str(exc))
        except Exception as exc:  # noqa: BLE001 - shown to the user, the app carries on
            traceback.print_exc()
            post("failed", f"Training failed unexpectedly: {type(exc).__name__}: {exc}")
        finally:
            post("finished", self)


class TrainingSession(QtCore.QObject):
    """Starts, pauses, steps and stops training; at most one training thread at a time.

    The trainer survives a Stop so that Train continues where it was; Reset drops it.
    """

    ready = QtCore.Signal(object, object)
    snapshot = QtCore.Signal(object)
    progress = QtCore.Signal(object)
    failed = QtCore.Signal(str)
    running_changed = QtCore.Signal(bool)

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.trainer = None
        self._thread: TrainingThread | None = None
        self._control = None
        self._mailbox = Mailbox(self._on_posted, self)
        self._closed = False  # after shutdown nothing starts and nothing more is shown

    @property
    def running(self) -> bool:
        return self._thread is not None

    @property
    def paused(self) -> bool:
        return self._control is not None and self._control.paused

    @property
    def can_continue(self) -> bool:
        return self.trainer is not None and self.trainer.epoch < self.trainer.config.epochs

    def start(self, spec: TrainingSpec, fresh: bool, paused: bool = False) -> None:
        """Trains in the background: a new trainer when `fresh`, else the current one."""
        if self.running or self._closed:
            return
        from vae_gui.model.training import TrainingControl

        if fresh or not self.can_continue:
            self.trainer = None
        self._control = TrainingControl()
        if paused:
            self._control.pause()
        self._thread = TrainingThread(spec, self.trainer, self._control, self._mailbox)
        self._thread.start()
        self.running_changed.emit(True)

    def _on_posted(self, kind: str, value) -> None:
        if kind == "finished":
            self._on_thread_finished(value)
        elif self._closed:
            return  # the window has closed: no late snapshot, error dialog or new state
        elif kind == "ready":
            self.trainer = value[0]
            self.ready.emit(*value)
        else:
            getattr(self, kind).emit(value)  # snapshot, progress or failed

    def pause(self) -> None:
        if self._control:
            self._control.pause()

    def resume(self) -> None:
        if self._control:
            self._control.resume()

    def step(self) -> None:
        """One batch; the thread stays paused afterwards."""
        if self._control:
            self._control.pause()
            self._control.request_step()

    def stop(self) -> None:
        if self._control:
            self._control.stop()

    def reset(self) -> None:
        """Forgets the trainer, so that the next start begins from new random weights."""
        self.stop()
        self.wait(5000)
        self.trainer = None

    def wait(self, msecs: int) -> bool:
        """Blocks until the thread has ended; True when it has (or none was running)."""
        if self._thread is None:
            return True
        finished = self._thread.wait(QtCore.QDeadlineTimer(msecs))
        if finished:
            self._on_thread_finished(self._thread)
        return finished

    def shutdown(self, msecs: int = 3000) -> bool:
        """For closing: stops training, waits at most `msecs`; nothing starts afterwards."""
        self._closed = True
        self.stop()
        return self.wait(msecs)

    def _on_thread_finished(self, thread: TrainingThread) -> None:
        if thread is not self._thread:  # a late message from a thread already handled
            return
        self._thread = None  # first: the drain below may hold this thread's "finished" too
        thread.wait()  # returns at once: run() has posted its last message
        self._mailbox.drain()  # what it published last, before we say it has stopped
        if self.trainer is None:
            self.trainer = thread.trainer  # built in the thread; `ready` may not have arrived
        # No deleteLater: Python owns the thread object, and it has finished.
        self.running_changed.emit(False)
