"""Measures the evidence panel's figures off the GUI thread, for each snapshot shown.

Measuring costs a second or two of CPU, so it happens only while the Evidence tab is on
screen (`set_active`): the window starts and drags as fast as without it. The newest snapshot
wins: while one measurement runs, later snapshots only mark that another is wanted, so a fast
run never queues work. During training a measurement starts at most once every
LIVE_INTERVAL_MS; a loaded model is measured at once. The figures of a run are kept in order
of epoch, so the panel can plot how they change as the run goes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from PySide6 import QtCore

from vae_gui.explorer_state import ExplorerState, ModelsOrigin
from vae_gui.workers.background import BackgroundRunner, check_cancelled

LIVE_INTERVAL_MS = 5000  # a measurement takes about 2 s of CPU (benchmarks/bench_evidence.py)
JUDGE_DATASETS = ("mnist5k", "mnist")  # the shipped classifier knows these digits


@dataclass(frozen=True)
class EvidenceJob:
    """What one measurement needs, all immutable: safe to hand to another thread."""

    snapshot: object
    origin: ModelsOrigin


class EvidenceController(QtCore.QObject):
    """Keeps `history` (Evidence records of the run on screen) and announces each new one."""

    measured = QtCore.Signal(object)  # the newest Evidence
    status = QtCore.Signal(str)  # what is being measured, or why nothing is

    def __init__(self, state: ExplorerState, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.runner = BackgroundRunner(self)
        self.history: list = []  # Evidence, in order of epoch
        self._latest = None  # the Evidence of the models on screen (a past moment, maybe)
        self._origin: ModelsOrigin | None = None
        self._judges: dict[str, object] = {}  # dataset -> Judge, trained or shipped once
        self._wanted = False
        self._active = False  # the Evidence tab is on screen
        self._last_start = -1e9
        self._timer = QtCore.QTimer(self, singleShot=True)
        self._timer.timeout.connect(self._start)
        state.models_changed.connect(self._on_models_changed)

    @property
    def latest(self):
        """The figures of the models measured last: those on screen, or about to be."""
        return self._latest

    def _on_models_changed(self, _refit: bool) -> None:
        if self.state.snapshot is None:
            return
        if self.state.origin is not self._origin:
            self._origin = self.state.origin
            self.history, self._latest = [], None
        self._wanted = True
        if self.runner.busy or not self._active:
            return  # the running measurement starts the next when it ends
        wait = 0 if not self.state.live else max(
            0, LIVE_INTERVAL_MS - int(1000 * (time.monotonic() - self._last_start)))
        self._timer.start(wait)

    def set_active(self, active: bool) -> None:
        """Measures while the Evidence tab is shown; showing it measures what is on screen."""
        self._active = active
        if active and self._wanted:
            self._on_models_changed(False)
        elif not active:
            self._timer.stop()

    def _start(self) -> None:
        if (not self._wanted or not self._active or self.runner.busy
                or self.state.snapshot is None):
            return
        self._wanted = False
        self._last_start = time.monotonic()
        job = EvidenceJob(self.state.snapshot, self.state.origin)
        judge = self._judges.get(job.origin.dataset)
        if judge is None and job.origin.data is not None:
            self.status.emit("Preparing the classifier that judges prior samples\u2026")
        self.runner.run(lambda: self._measure(job, judge), self._on_done, self._on_failed)

    def _measure(self, job: EvidenceJob, judge):
        """Runs on the runner's thread."""
        from vae_gui.model.evidence_report import first_points, measure_evidence

        origin, s = job.origin, job.snapshot
        if judge is None:
            judge = _judge_for(origin)
        check_cancelled()
        kind = origin.train_config.loss if origin.train_config is not None else "bce"
        train = origin.data.train_images if origin.data is not None else None
        # Held-out figures: the test split's points alone (the clouds may show training
        # images after them).
        n = origin.cloud_images.cloud.test_count
        evidence = measure_evidence(
            [first_points(c, n) for c in s.columns], origin.image_shape, kind, judge,
            train_images=train, test_images=origin.cloud_images.test_images(),
            epoch=float(s.epoch), check=check_cancelled)
        return job, judge, evidence

    def _on_done(self, result) -> None:
        job, judge, evidence = result
        if judge is not None:
            self._judges[job.origin.dataset] = judge
        if job.origin is self._origin:
            # A run's figures in order of epoch, one per epoch (a moment measured again, say
            # shown from the timeline, replaces its figures and keeps the later ones).
            self.history = sorted([e for e in self.history if e.epoch != evidence.epoch]
                                  + [evidence], key=lambda e: e.epoch)
            self._latest = evidence
            self.measured.emit(evidence)
        self._next()

    def _on_failed(self, message: str) -> None:
        self.status.emit(f"Could not measure: {message}")
        self._next()

    def _next(self) -> None:
        if self._wanted:
            self._on_models_changed(False)

    def shutdown(self) -> bool:
        """Stops measuring; True when nothing is left running (else runner.idle follows)."""
        self._timer.stop()
        return self.runner.shutdown()


def _judge_for(origin: ModelsOrigin):
    """The shipped classifier for MNIST digits; one trained on the training split (a few
    seconds) for other data; None where the dataset is not at hand."""
    from vae_gui.model.judge import load_judge, train_judge
    from vae_gui.model.shipped_files import shipped_judge

    if origin.dataset in JUDGE_DATASETS and tuple(origin.image_shape) == (28, 28):
        return load_judge(shipped_judge())
    if origin.data is None:
        return None
    return train_judge(origin.data, check=check_cancelled)
