"""The training controls: Train, Pause, Step, Stop and Reset, the progress shown while
training, and the hand-off of the thread's snapshots to the explorer state."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtWidgets

from vae_gui.controllers.actions import make_action
from vae_gui.controllers.discard_guard import DiscardGuard
from vae_gui.explorer_state import ExplorerState, ModelsOrigin
from vae_gui.views.steady_label import SteadyLabel
from vae_gui.workers.loading import cloud_images_of
from vae_gui.workers.pacing import throttled
from vae_gui.workers.training_session import TrainingSession, TrainingSpec, TrainingStarted

if TYPE_CHECKING:
    from vae_gui.model.data import LoadProgress
    from vae_gui.model.training import Progress, Snapshot
    from vae_gui.views.settings_panel import SettingsPanel

PROGRESS_UNITS = 10_000  # the progress bar's steps: a share of the run, in hundredths of 1%
WIDEST_RATE = 9_999_999  # samples per second the progress line makes room for
LIVE_CLOUDS_MS = 500  # while training: clouds, cursors and tools at most twice a second
PACES = (("full speed", None), ("50 steps/s", 50.0), ("10 steps/s", 10.0),
         ("2 steps/s", 2.0))
TRAIN = "\u25b6 Train from scratch"
CONTINUE = "\u25b6 Continue"
PAUSE = "\u275a\u275a Pause"


def progress_text(epoch: int, epochs: int, step: int, steps: int, rate: float) -> str:
    return (f"epoch {epoch}/{epochs} \u00b7 step {step}/{steps} \u00b7 {rate:,.0f} samples/s")


def structural_changes(old: TrainingSpec, new: TrainingSpec) -> list[str]:
    """The settings that differ and that only a new run can take (β, the learning rate
    and the epochs change a run as it goes)."""
    m0, m1, t0, t1 = old.model_config, new.model_config, old.train_config, new.train_config
    pairs = (("dataset", old.dataset, new.dataset),
             ("image size", m0.image_shape[0], m1.image_shape[0]),
             ("architecture", m0.arch, m1.arch),
             ("latent dimension", m0.latent_dim, m1.latent_dim),
             ("hidden sizes", m0.hidden, m1.hidden),
             ("encoder dropout", m0.encoder_dropout, m1.encoder_dropout),
             ("batch size", t0.batch_size, t1.batch_size),
             ("reconstruction", t0.loss, t1.loss),
             ("seed", t0.seed, t1.seed),
             ("precision", t0.precision, t1.precision),
             ("models", t0.pair, t1.pair))
    return [name for name, a, b in pairs if a != b]


class TrainingController(QtCore.QObject):
    """Owns the training session and its actions; publishes snapshots to the state."""

    message = QtCore.Signal(str, int)  # a status-bar message and how long to show it (ms)
    error = QtCore.Signal(str, str)  # a title and a sentence for a dialog
    source_changed = QtCore.Signal(str)  # what the models on screen are, in words
    forgotten = QtCore.Signal()  # the run on screen was discarded (a new run, a load)

    def __init__(self, state: ExplorerState, settings_panel: SettingsPanel,
                 guard: DiscardGuard, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.guard = guard
        self.settings_panel = settings_panel
        self.session = TrainingSession(self)
        self.session.loading.connect(self._on_loading)
        self.session.started.connect(self._on_started)
        self.session.snapshot.connect(self._on_snapshot)
        self.session.progress.connect(self._on_progress)
        self.session.failed.connect(self._on_failed)
        self.session.running_changed.connect(self._on_running_changed)
        self._origin: ModelsOrigin | None = None  # of the run, until its first snapshot
        self._latest: Snapshot | None = None
        # While the timeline shows a past moment, new snapshots are kept but not shown.
        self.showing_past = False
        # Drawing needs the interpreter that training needs too: at most LIVE_CLOUDS_MS
        # apart, and always the newest (the last one is drawn when training stops).
        self._show_live = throttled(self._show_latest, LIVE_CLOUDS_MS, parent=self)

        # One primary action whose label is what a press does: Train from scratch, Pause or
        # Continue; no other control shares its label.
        self.train_action = make_action(self, TRAIN, self.train, "Ctrl+T",
                                        "Train, pause, or continue a stopped or paused run")
        self.step_action = make_action(self, "Step", self.step, "Ctrl+J",
                                       "Train exactly one batch, then pause")
        self.stop_action = make_action(self, "\u25a0 Stop", self.session.stop, "Ctrl+.",
                                       "Stop training; Continue goes on from here")
        self.reset_action = make_action(self, "\u21ba Reset", self.reset, "Ctrl+R",
                                        "New random weights with the current settings")
        self.actions = (self.train_action, self.step_action, self.stop_action,
                        self.reset_action)
        self.pace = QtWidgets.QComboBox()
        self.pace.addItems([label for label, _ in PACES])
        self.pace.setToolTip("Slow training down to watch an epoch unfold; the window stays "
                             "responsive at any pace")
        self.pace.currentIndexChanged.connect(
            lambda i: self.session.set_pace(PACES[i][1]))
        self._run_spec: TrainingSpec | None = None  # the settings of the run on screen
        self._failed = False  # the run on screen ended in a divergence or another error
        self._data_note = ""  # how a streamed run reads its data, for the status line
        settings_panel.edited.connect(self._on_settings_edited)
        self.progress_bar = QtWidgets.QProgressBar()
        self.progress_bar.setMaximumWidth(260)
        self.progress_bar.setTextVisible(True)
        self.progress_bar.hide()  # shown while training
        self.progress_label = SteadyLabel()
        self.update_controls()

    # --- user actions -------------------------------------------------------------------
    def _spec(self):
        try:
            spec = self.settings_panel.spec()
        except ValueError as exc:
            self.error.emit("Invalid settings", str(exc))
            return None
        return dataclasses.replace(spec, include_train=self.state.options.train_points)

    def pending(self) -> list[str]:
        """Settings changed since the run on screen started that need a new run."""
        if self._run_spec is None or not self.session.has_run:
            return []
        try:
            spec = self.settings_panel.spec()
        except ValueError:  # hidden sizes that cannot be read, or a shape conv cannot take
            return ["model settings"]
        return structural_changes(self._run_spec, spec)

    def primary_label(self) -> str:
        """What a press of the primary button does now."""
        session = self.session
        if session.running and not session.paused:
            return PAUSE
        if self.pending():
            return TRAIN
        if session.running:
            return CONTINUE
        epochs = self.settings_panel.epochs.value()
        return CONTINUE if session.can_continue(epochs) else TRAIN

    def train(self) -> None:
        """The primary button: pause a run, continue it, or train from scratch."""
        label = self.primary_label()
        if label == PAUSE:
            self.session.pause()
        elif label == CONTINUE and self.session.running:
            self.session.resume()
        elif (spec := self._spec()) is not None:
            fresh = label == TRAIN
            if fresh:
                if not self.guard.confirm("Train from scratch"):
                    return
                self.discard()
                self.message.emit("Training from scratch: new random weights", 5000)
            self._run_spec = spec
            self.session.start(spec, fresh=fresh)
        self.update_controls()

    def step(self) -> None:
        """One batch: starts a paused run first when none is there (or the settings ask for
        a new one)."""
        if not self.session.running or self.pending():
            if (spec := self._spec()) is None:
                return
            fresh = self.primary_label() == TRAIN
            if fresh:
                if not self.guard.confirm("Step (a new run)"):
                    return
                self.discard()
            self._run_spec = spec
            self.session.start(spec, fresh=fresh, paused=True)
        self.session.step()
        self.update_controls()

    def _on_settings_edited(self) -> None:
        """β and the learning rate go to a running run at once; the rest waits, marked."""
        if self.session.running and not self.pending():
            t = self.settings_panel
            try:
                self.session.set_live(t.beta.value(), t.lr.value(), t.epochs.value())
            except ValueError as exc:
                self.error.emit("Invalid settings", str(exc))
        self.update_controls()

    def reset(self) -> None:
        """New random weights with the current settings, shown untrained and paused."""
        if (spec := self._spec()) is None or not self.guard.confirm("Reset"):
            return
        self.discard()
        self._run_spec = spec
        self.session.start(spec, fresh=True, paused=True)
        self.message.emit(f"Reset: new random weights. Press {CONTINUE} to train them.", 5000)
        self.update_controls()

    def discard(self, forget_timeline: bool = True) -> None:
        """Forgets the run (other models are about to be shown); returns at once. The
        timeline is kept for a newer checkpoint of a followed run."""
        self._show_live.cancel()
        self._latest, self._origin, self._run_spec = None, None, None
        self._data_note = ""
        self.guard.forget()
        self.session.reset()
        self.progress_label.set_free_text("")
        if forget_timeline:
            self.forgotten.emit()

    # --- what the thread reports ------------------------------------------------------------
    def _on_loading(self, p: LoadProgress) -> None:
        """A folder being listed (no total yet: a busy bar) or read (a share of its images)."""
        self.progress_bar.setMaximum(p.total or 0)
        self.progress_bar.setValue(p.done if p.total else 0)
        self.progress_label.set_free_text(p.describe())

    def _on_started(self, started: TrainingStarted) -> None:
        data = started.data
        self._origin = ModelsOrigin(data.source, data.class_names, data.image_shape,
                                    cloud_images_of(data), started.model_config,
                                    started.train_config, "training", data)
        self._data_note = ""
        if getattr(data, "stream", None) is not None:
            # Not the usual path, and the test figures then measure a subset: both said.
            self._data_note = f", {started.data_path}; test loss and clouds: {started.test_set}"
        self.source_changed.emit(
            f"Training on {data.name} ({started.device}, {started.precision}){self._data_note}")

    def _on_snapshot(self, snapshot: Snapshot) -> None:
        self._latest = snapshot
        if self._origin is not None:  # a new run's first picture: at once, and refit
            self._show_live.cancel()
            self._show_latest(refit=True)
        else:
            self._show_live()

    @property
    def has_snapshot(self) -> bool:
        """Whether a run has published models (that the timeline's present shows)."""
        return self._latest is not None

    def show_present(self) -> None:
        """Shows the newest snapshot of the run (the timeline's present) at once."""
        self._show_live.cancel()
        self._show_latest()

    def _show_latest(self, refit: bool = False) -> None:
        if self._latest is None or (self.showing_past and self._origin is None):
            return
        origin, self._origin = self._origin, None
        # Paused (or stepping), nothing competes with the views: drawn at once, in full.
        live = self.session.running and not self.session.paused
        self.state.show(self._latest, origin, refit=refit, live=live)

    def _on_progress(self, p: Progress) -> None:
        # Qt's progress bar counts in 32-bit integers: show a share, so that any number of
        # steps fits (batch 1 for 100,000 epochs is 400 million steps of mnist5k).
        total = p.epochs * p.steps_per_epoch
        share = min(p.step / total, 1.0) if total > 0 else 0.0
        self.progress_bar.setMaximum(PROGRESS_UNITS)
        self.progress_bar.setValue(round(share * PROGRESS_UNITS))
        # Ten times a second: at a size fixed for this run, so that no change of its text
        # lays the window out again in the way of a dragged cursor (SteadyLabel).
        self.progress_label.set_steady_text(
            progress_text(p.epoch, p.epochs, p.step_in_epoch, p.steps_per_epoch,
                          p.samples_per_second),
            progress_text(p.epochs, p.epochs, p.steps_per_epoch, p.steps_per_epoch,
                          WIDEST_RATE))

    def _on_failed(self, message: str) -> None:
        self._failed = True
        self.error.emit("Training stopped", f"{message}\n\nThe last good models stay on screen.")

    def _on_running_changed(self, running: bool) -> None:
        if running:
            self._failed = False
            return self.update_controls()
        # One line says what is on screen; the progress line is for a run that is training.
        self.progress_label.set_free_text("")
        if self._latest is not None:
            # Show where training ended at once, not after the live throttle.
            self._show_live.cancel()
            self._show_latest()
            origin, s = self.state.origin, self._latest
            if origin is not None and origin.source == "training":
                how = "Diverged; the last good models" if self._failed else "Stopped"
                self.source_changed.emit(
                    f"{how}: step {s.step:,}, epoch {s.epoch:.2f} of "
                    f"{self.settings_panel.epochs.value()}, on {origin.dataset}"
                    f"{self._data_note}")
        self.update_controls()

    def update_controls(self, *_args) -> None:
        session = self.session
        self.progress_bar.setVisible(session.running)
        self.train_action.setText(self.primary_label())
        self.stop_action.setEnabled(session.running)
        self.settings_panel.set_pending(self.pending())

    def shutdown(self) -> bool:
        """For closing: drops pending redraws and stops training without waiting."""
        self._show_live.cancel()
        return self.session.shutdown()
