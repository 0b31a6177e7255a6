"""The training controls: Train, Pause, Step, Stop and Reset, the progress shown while
training, and the hand-off of the thread's snapshots to the explorer state."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6 import QtCore, QtGui, QtWidgets
from superqt.utils import qthrottled

from vae_gui.explorer_state import ExplorerState, ModelsOrigin
from vae_gui.workers.loading import cloud_images_of
from vae_gui.workers.training_session import TrainingSession, TrainingStarted

if TYPE_CHECKING:
    from vae_gui.model.training import Progress, Snapshot
    from vae_gui.views.settings_panel import SettingsPanel

LIVE_CLOUDS_MS = 500  # while training: clouds, cursors and tools at most twice a second


def make_action(parent: QtCore.QObject, text: str, slot, shortcut: str | None = None,
                tip: str = "", checkable: bool = False) -> QtGui.QAction:
    """A QAction with its shortcut, tooltip and status tip, connected to `slot`."""
    action = QtGui.QAction(text, parent)
    if shortcut:
        action.setShortcut(QtGui.QKeySequence(shortcut))
    action.setToolTip(tip or text)
    action.setStatusTip(tip)
    action.setCheckable(checkable)
    action.triggered.connect(slot)
    return action


class TrainingController(QtCore.QObject):
    """Owns the training session and its actions; publishes snapshots to the state."""

    message = QtCore.Signal(str, int)  # a status-bar message and how long to show it (ms)
    error = QtCore.Signal(str, str)  # a title and a sentence for a dialog
    source_changed = QtCore.Signal(str)  # what the models on screen are, in words

    def __init__(self, state: ExplorerState, settings_panel: SettingsPanel,
                 parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.settings_panel = settings_panel
        self.session = TrainingSession(self)
        self.session.started.connect(self._on_started)
        self.session.snapshot.connect(self._on_snapshot)
        self.session.progress.connect(self._on_progress)
        self.session.failed.connect(
            lambda message: self.error.emit(
                "Training stopped", f"{message}\n\nThe last good models stay on screen."))
        self.session.running_changed.connect(self._on_running_changed)
        self._origin: ModelsOrigin | None = None  # of the run, until its first snapshot
        self._latest: Snapshot | None = None
        # Drawing needs the interpreter that training needs too: at most LIVE_CLOUDS_MS
        # apart, and always the newest (the last one is drawn when training stops).
        self._show_live = qthrottled(self._show_latest, timeout=LIVE_CLOUDS_MS, parent=self)

        self.train_action = make_action(self, "\u25b6 Train", self.train, "Ctrl+T",
                                        "Train both models in the background (from scratch, "
                                        "unless a stopped run can continue)")
        self.pause_action = make_action(self, "Pause", self.toggle_pause, "Ctrl+P",
                                        "Pause or resume training")
        self.step_action = make_action(self, "Step", self.step, "Ctrl+J",
                                       "Train exactly one batch, then pause")
        self.stop_action = make_action(self, "Stop", self.session.stop, "Ctrl+.",
                                       "Stop training; Train continues from here")
        self.reset_action = make_action(self, "\u21ba Reset", self.reset, "Ctrl+R",
                                        "New random weights with the current settings")
        self.actions = (self.train_action, self.pause_action, self.step_action,
                        self.stop_action, self.reset_action)
        self.progress_bar = QtWidgets.QProgressBar()
        self.progress_bar.setMaximumWidth(260)
        self.progress_bar.setTextVisible(True)
        self.progress_bar.hide()  # shown while training
        self.progress_label = QtWidgets.QLabel("")
        self.update_controls()

    # --- user actions -------------------------------------------------------------------
    def _spec(self):
        try:
            return self.settings_panel.spec()
        except ValueError as exc:
            self.error.emit("Invalid settings", str(exc))
            return None

    def train(self) -> None:
        if self.session.running:
            self.session.resume()
        elif (spec := self._spec()) is not None:
            fresh = not self.session.can_continue
            if fresh:
                self.message.emit("Training from scratch: new random weights", 5000)
            self.session.start(spec, fresh=fresh)
        self.update_controls()

    def toggle_pause(self) -> None:
        if self.session.paused:
            self.session.resume()
        else:
            self.session.pause()
        self.update_controls()

    def step(self) -> None:
        """One batch: starts a paused run first when none is there."""
        if not self.session.running:
            if (spec := self._spec()) is None:
                return
            self.session.start(spec, fresh=not self.session.can_continue, paused=True)
        self.session.step()
        self.update_controls()

    def reset(self) -> None:
        """New random weights with the current settings, shown untrained and paused."""
        if (spec := self._spec()) is None:
            return
        self.discard()
        self.session.start(spec, fresh=True, paused=True)
        self.message.emit("Reset: new random weights. Press Train to start.", 5000)
        self.update_controls()

    def discard(self) -> None:
        """Forgets the run (other models are about to be shown); returns at once."""
        self._show_live.cancel()
        self._latest, self._origin = None, None
        self.session.reset()

    # --- what the thread reports ------------------------------------------------------------
    def _on_started(self, started: TrainingStarted) -> None:
        data = started.data
        self._origin = ModelsOrigin(data.source, data.class_names, data.image_shape,
                                    cloud_images_of(data), started.model_config,
                                    started.train_config, "training")
        self.source_changed.emit(f"Training on {data.name} ({started.device})")

    def _on_snapshot(self, snapshot: Snapshot) -> None:
        self._latest = snapshot
        if self._origin is not None:  # a new run's first picture: at once, and refit
            self._show_live.cancel()
            self._show_latest(refit=True)
        else:
            self._show_live()

    def _show_latest(self, refit: bool = False) -> None:
        if self._latest is None:
            return
        origin, self._origin = self._origin, None
        self.state.show(self._latest, origin, refit=refit, live=self.session.running)

    def _on_progress(self, p: Progress) -> None:
        total = p.epochs * p.steps_per_epoch
        done = min(p.step, total) if total else 0
        self.progress_bar.setMaximum(max(total, 1))
        self.progress_bar.setValue(done)
        self.progress_label.setText(
            f"epoch {p.epoch}/{p.epochs} \u00b7 step {p.step_in_epoch}/{p.steps_per_epoch} "
            f"\u00b7 {p.samples_per_second:,.0f} samples/s")

    def _on_running_changed(self, running: bool) -> None:
        if not running and self._latest is not None:
            # Show where training ended at once, not after the live throttle.
            self._show_live.cancel()
            self._show_latest()
            if self.state.origin is not None and self.state.origin.source == "training":
                epochs = len(self._latest.history)
                self.source_changed.emit(
                    f"Trained on {self.state.origin.dataset}: {epochs} epoch"
                    f"{'' if epochs == 1 else 's'}, step {self._latest.step}")
        self.update_controls()

    def update_controls(self, *_args) -> None:
        session = self.session
        running, paused = session.running, session.paused
        self.progress_bar.setVisible(running)
        self.train_action.setEnabled(not running or paused)
        self.train_action.setText("\u25b6 Resume" if running and paused else
                                  "\u25b6 Continue" if session.can_continue and not running
                                  else "\u25b6 Train")
        self.pause_action.setEnabled(running)
        self.pause_action.setText("Resume" if paused else "Pause")
        self.stop_action.setEnabled(running)

    def shutdown(self) -> bool:
        """For closing: drops pending redraws and stops training without waiting."""
        self._show_live.cancel()
        return self.session.shutdown()
