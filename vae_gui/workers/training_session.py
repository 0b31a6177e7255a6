"""The training thread: runs vae_gui.model's Trainer in one QThread and relays what it
publishes. Only immutable records cross from the thread: snapshots, progress, the dataset
(read-only arrays) and messages; the Trainer itself is touched by its thread alone."""

from __future__ import annotations

import dataclasses
import traceback
from dataclasses import dataclass

from PySide6 import QtCore

from vae_gui.model.config import ModelConfig, TrainConfig
from vae_gui.model.errors import VaeGuiError
from vae_gui.workers.mailbox import Mailbox


@dataclass(frozen=True)
class TrainingSpec:
    """What to train: the dataset and both configurations (from the settings panel)."""

    dataset: str
    data_root: str | None
    model_config: ModelConfig
    train_config: TrainConfig
    include_train: bool = False  # the clouds show the training split too


@dataclass(frozen=True, eq=False)
class TrainingStarted:
    """Posted once a run's data is loaded and its models are built."""

    data: object  # a DatasetBundle: frozen, with read-only arrays
    model_config: ModelConfig
    train_config: TrainConfig
    device: str
    precision: str  # what the forward pass trains in: "fp32", "bf16" or "fp16"
    data_path: str = "in memory"  # or "streamed from disk by 2 worker processes", ...
    test_set: str = ""  # what the test loss and the clouds measure, in words


class _Stopped(Exception):
    """Raised inside a download when the run is stopped, to end it at the next chunk."""


class TrainingThread(QtCore.QThread):
    """Runs the trainer in `run` (no event loop: the thread ends when training does).

    `trainer` is None for a new run (built here, from `spec`) or the trainer of a stopped
    run to continue; the GUI thread hands it over and never calls it. What the trainer
    publishes goes to `mailbox`, to be handled on the GUI thread.
    """

    def __init__(self, spec: TrainingSpec, trainer, control, mailbox: Mailbox) -> None:
        super().__init__()
        self.setObjectName("vae-gui training")
        self.spec = spec
        self.trainer = trainer
        self.control = control
        self.mailbox = mailbox
        self.epochs_done = 0  # set by run(): the trainer's completed epochs

    def _check_stopped(self) -> None:
        if self.control.stopped:
            raise _Stopped

    def run(self) -> None:
        post = self.mailbox.post
        try:
            if self.trainer is None:
                from vae_gui.model.data import load_dataset
                from vae_gui.model.training import Trainer

                spec = self.spec
                # A large folder takes a while to list and read: the window says how far.
                data = load_dataset(spec.dataset, spec.data_root, spec.model_config.image_shape[0],
                                    check=self._check_stopped,
                                    progress=lambda p: post("loading", p))
                if self.control.stopped:  # stopped or closed while the data loaded
                    return
                # The data set decides the image size; every other setting is the panel's.
                config = dataclasses.replace(spec.model_config, image_shape=data.image_shape)
                self.trainer = Trainer(data, config, spec.train_config,
                                       include_train=spec.include_train)
                post("started", TrainingStarted(data, config, spec.train_config,
                                                str(self.trainer.device),
                                                self.trainer.precision,
                                                self.trainer.data_path,
                                                self.trainer.test_set))
                post("snapshot", self.trainer.snapshot())  # the untrained starting point
            else:  # continuing: with the β, learning rate and epochs the settings say now
                self.trainer.set_epochs(self.spec.train_config.epochs)
                self.trainer.apply_live(self.spec.train_config.beta, self.spec.train_config.lr)
                self.trainer.set_cloud(self.spec.include_train)
            self.trainer.run(self.control, on_progress=lambda p: post("progress", p),
                             on_snapshot=lambda s: post("snapshot", s))
        except _Stopped:
            pass  # stopped, reset or closed during a download: nothing to report
        except (VaeGuiError, ValueError) as exc:
            post("failed", str(exc))
        except Exception as exc:  # noqa: BLE001 - shown to the user, the app carries on
            traceback.print_exc()
            post("failed", f"Training failed unexpectedly: {type(exc).__name__}: {exc}")
        finally:
            self.epochs_done = self.trainer.epoch if self.trainer is not None else 0
            post("finished")


class TrainingSession(QtCore.QObject):
    """Starts, pauses, steps and stops training; at most one current training thread.

    Stop keeps the trainer so that Train continues where it was; Reset drops it. Neither
    Reset nor shutdown waits: a thread that is still finishing its batch is retired (its
    late messages are dropped) and `idle` is emitted once no thread is left.
    """

    started = QtCore.Signal(object)  # TrainingStarted
    loading = QtCore.Signal(object)  # vae_gui.model.data.LoadProgress, while a folder loads
    snapshot = QtCore.Signal(object)
    progress = QtCore.Signal(object)
    failed = QtCore.Signal(str)
    running_changed = QtCore.Signal(bool)
    idle = QtCore.Signal()  # no thread is running any more (after a stop, reset or close)

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self._trainer = None  # a stopped run's trainer, handed to the next thread as is
        self._epochs_done = 0
        self._pace: float | None = None  # steps per second, None: full speed
        self._thread: TrainingThread | None = None
        self._control = None
        self._retiring: dict[TrainingThread, Mailbox] = {}
        self._mailbox: Mailbox | None = None
        self._closed = False  # after shutdown nothing starts and nothing more is shown
        self._draining: TrainingThread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    @property
    def paused(self) -> bool:
        return self._control is not None and self._control.paused

    def can_continue(self, epochs: int) -> bool:
        """Whether a stopped run could train on towards `epochs` epochs in all."""
        return self._trainer is not None and self._epochs_done < epochs

    @property
    def has_run(self) -> bool:
        """Whether a run is training or stopped (and could continue)."""
        return self._thread is not None or self._trainer is not None

    @property
    def pace(self) -> float | None:
        """The most steps a second that runs train at (None: full speed)."""
        return self._pace

    def set_pace(self, steps_per_second: float | None) -> None:
        """At most this many steps a second, for this run and the next ones."""
        self._pace = steps_per_second
        if self._control is not None:
            self._control.set_pace(steps_per_second)

    def set_cloud(self, include_train: bool) -> None:
        """The running trainer's snapshots encode the training split too (or no longer)."""
        if self._control is not None:
            self._control.set_cloud(include_train)

    def set_live(self, beta: float, lr: float, epochs: int) -> None:
        """β, the learning rate and the epochs for the running thread's next step."""
        if self._control is not None:
            self._control.set_live(beta, lr, epochs)

    @property
    def busy(self) -> bool:
        """Whether any thread (current or retiring) is still running."""
        return self._thread is not None or bool(self._retiring)

    def threads(self) -> list[TrainingThread]:
        """Every thread not yet finished (for tests and for closing)."""
        return ([self._thread] if self._thread is not None else []) + list(self._retiring)

    def start(self, spec: TrainingSpec, fresh: bool, paused: bool = False) -> None:
        """Trains in the background: a new trainer when `fresh`, else the stopped one."""
        if self.running or self._closed:
            return
        from vae_gui.model.training import TrainingControl

        if fresh or not self.can_continue(spec.train_config.epochs):
            self._trainer = None
        self._control = TrainingControl()
        self._control.set_pace(self._pace)
        if paused:
            self._control.pause()
        thread_box: list[TrainingThread] = []
        self._mailbox = Mailbox(lambda kind, value: self._on_posted(thread_box[0], kind, value),
                                self)
        thread = TrainingThread(spec, self._trainer, self._control, self._mailbox)
        thread_box.append(thread)
        self._trainer = None  # the thread owns it until it finishes
        self._thread = thread
        thread.start()
        self.running_changed.emit(True)

    def _on_posted(self, thread: TrainingThread, kind: str, value) -> None:
        if kind == "finished":
            self._on_thread_finished(thread)
        elif self._closed or (thread is not self._thread and thread is not self._draining):
            return  # closed, or reset since: no late snapshot, error dialog or new state
        else:
            getattr(self, kind).emit(value)  # loading, started, snapshot, progress, failed

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
        """Asks the thread to stop after its batch; `running_changed(False)` follows."""
        if self._control:
            self._control.stop()

    def reset(self) -> None:
        """Forgets the run at once: the next start begins from new random weights. A thread
        still finishing its batch is retired, not waited for."""
        self._retire()
        self._trainer = None
        self._epochs_done = 0

    def shutdown(self) -> bool:
        """For closing: stops every thread without waiting; nothing starts afterwards.
        True when none is running; otherwise `idle` follows when the last has ended."""
        self._closed = True
        self._retire()
        return not self.busy

    def _retire(self) -> None:
        thread = self._thread
        if thread is None:
            return
        self._control.stop()
        self._retiring[thread] = self._mailbox
        self._thread, self._control, self._mailbox = None, None, None
        self.running_changed.emit(False)

    def _on_thread_finished(self, thread: TrainingThread) -> None:
        thread.wait()  # returns at once: run() has posted its last message
        if thread is self._thread:
            mailbox = self._mailbox
            self._thread, self._draining = None, thread  # nothing restarts it meanwhile
            mailbox.drain()  # what it published last, before we say it has stopped
            self._draining = None
            self._trainer, self._epochs_done = thread.trainer, thread.epochs_done
            self._control, self._mailbox = None, None
            self.running_changed.emit(False)
        else:
            mailbox = self._retiring.pop(thread, None)
        if mailbox is not None:
            mailbox.deleteLater()
        if not self.busy:
            self.idle.emit()
