"""The run's timeline in the window: keeps what training publishes, and shows a past moment
when the slider or Play asks for one; every view follows, as they follow the state."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6 import QtCore

from vae_gui.controllers.actions import make_action
from vae_gui.controllers.files import FileController
from vae_gui.controllers.training import TrainingController
from vae_gui.explorer_state import ExplorerState
from vae_gui.model.timeline import Timeline
from vae_gui.views.timeline_bar import TimelineBar
from vae_gui.workers.background import BackgroundRunner, check_cancelled
from vae_gui.workers.pacing import throttled

if TYPE_CHECKING:
    from vae_gui.model.run_timeline import RunTimeline
    from vae_gui.model.training import Snapshot
    from vae_gui.workers.loading import LoadedModels

SCRUB_MS = 40  # a dragged slider redraws at most 25 times a second, always the newest


def _megabytes(n: int) -> str:
    return f"{n / 2 ** 20:,.0f} MB"


class TimelineController(QtCore.QObject):
    """Records every snapshot of the run on screen in a Timeline and drives its bar: those
    training publishes, each checkpoint of a followed run folder, and, when the newest
    checkpoint of a run folder is opened, the folder's per-epoch checkpoints.

    `index` is the moment shown, or None for the present (the newest snapshot, followed
    while training)."""

    moment_shown = QtCore.Signal(object)  # the Snapshot shown from the past, or None
    changed = QtCore.Signal()  # moments were kept, dropped or forgotten, or another shown
    message = QtCore.Signal(str, int)  # a status-bar message and how long to show it (ms)

    def __init__(self, state: ExplorerState, training: TrainingController,
                 files: FileController, timeline: Timeline | None = None,
                 parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.training = training
        self.timeline = timeline or Timeline()
        self.index: int | None = None
        self.bar = TimelineBar()
        self._wanted: int | None = None
        self._show_wanted = throttled(self._show_index, SCRUB_MS, parent=self)
        self._play = QtCore.QTimer(self)
        self._play.timeout.connect(self._advance)
        training.session.snapshot.connect(self.record)
        training.forgotten.connect(self.clear)
        files.followed.connect(lambda loaded: self.record(loaded.snapshot))
        files.loaded.connect(self._on_opened)
        self.files = files
        self.runner = BackgroundRunner(self)  # reads a run folder's epochs
        self.save_action = make_action(
            self, "Save with the run's &timeline\u2026", self._on_save, None,
            "Save the models on screen with the moments of the run before them (each moment "
            "costs the weights again); Open shows them on the timeline")
        training.session.running_changed.connect(lambda _r: self._update_bar())
        self.bar.moment_chosen.connect(self.choose)
        self.bar.present_chosen.connect(self.present)
        self.bar.play_toggled.connect(self.play)
        self.bar.speed.currentIndexChanged.connect(lambda _i: self._set_play_interval())
        self._update_bar()

    # --- what training brings -----------------------------------------------------------
    def record(self, snapshot: Snapshot) -> None:
        """Keeps a snapshot of the run on screen as the newest moment."""
        shown = self._shown_step()
        self.timeline.add(snapshot)
        if self.index is not None and shown is not None:
            # Thinning or a replaced moment may have moved the one on screen.
            self.index = self.timeline.index_at_or_before(shown)
        self._update_bar()

    def clear(self) -> None:
        """Forgets the moments (the run they belong to was discarded)."""
        self._play.stop()
        self.bar.set_playing(False)
        self.timeline.clear()
        self.index = None
        self.training.showing_past = False
        self._update_bar()

    # --- what the user asks for ---------------------------------------------------------
    def choose(self, index: int) -> None:
        """Shows kept moment `index` (the newest one is the present)."""
        if not 0 <= index < len(self.timeline):
            return
        if index == len(self.timeline) - 1:
            self.present()
            return
        self._wanted = index
        self._show_wanted()

    def present(self) -> None:
        """Back to the newest models; while training, follow them again."""
        self._play.stop()
        self.bar.set_playing(False)
        was_past = self.index is not None
        self.index = None
        self.training.showing_past = False
        if was_past:
            if self.training.has_snapshot:
                self.training.show_present()
            elif len(self.timeline):  # a run read from its folder: its newest checkpoint
                self.state.show(self.timeline[len(self.timeline) - 1])
            self.moment_shown.emit(None)
        self._update_bar()

    def play(self, playing: bool) -> None:
        """Replays from the moment shown (from the start when the present is shown)."""
        if not playing:
            self._play.stop()
            self._update_bar()
            return
        if len(self.timeline) < 2:
            self.bar.set_playing(False)
            return
        if self.index is None or self.index >= len(self.timeline) - 1:
            self._wanted = 0
            self._show_index()
        self._set_play_interval()
        self._play.start()

    # --- a run folder's epochs ------------------------------------------------------------
    def _on_opened(self, loaded: LoadedModels) -> None:
        """Shows the timeline a checkpoint carries, or reads that of a run folder whose
        newest checkpoint was opened."""
        if self.files.follower.following:
            return  # each followed checkpoint is recorded as it lands
        if loaded.moments:
            self._adopt_moments((*loaded.moments, loaded.snapshot))
            return
        from vae_gui.model.run_timeline import timeline_files

        try:
            files = timeline_files(loaded.path.parent)
        except OSError:
            return
        if len(files) < 2 or loaded.path.resolve() != files[-1].resolve():
            return
        folder, source = loaded.path.parent, str(loaded.path)
        self.message.emit(f"Reading the {len(files)} checkpoints of {folder.name} for the "
                          "run's timeline\u2026", 0)

        def read() -> RunTimeline:
            from vae_gui.model.run_timeline import load_run_timeline

            return load_run_timeline(folder, progress=lambda _d, _t: check_cancelled())

        self.runner.run(read, lambda run: self._adopt(run, source),
                        lambda why: self.message.emit(f"No timeline for {folder.name}: {why}",
                                                      8000))

    def _adopt(self, run: RunTimeline, source: str) -> None:
        if self.state.origin is None or self.state.origin.source != source:
            return  # other models are on screen by now
        self._adopt_moments(run.moments)
        self.message.emit(f"The timeline holds the run's {len(run.moments)} epochs", 5000)

    def _adopt_moments(self, moments) -> None:
        self.clear()
        for moment in moments:
            self.timeline.add(moment)
        self._update_bar()

    def _on_save(self) -> None:
        if path := self.files.ask_save_path("Save with the run's timeline"):
            self.files.save_checkpoint(path, list(self.timeline))

    def shutdown(self) -> bool:
        self._play.stop()
        return self.runner.shutdown()

    # --- showing --------------------------------------------------------------------------
    def _advance(self) -> None:
        nxt = (self.index if self.index is not None else len(self.timeline) - 1) + 1
        if nxt >= len(self.timeline) - 1:
            self.present()  # the newest moment is the present: follow training again
            return
        self._wanted = nxt
        self._show_index()

    def _show_index(self) -> None:
        index, self._wanted = self._wanted, None
        if index is None or not 0 <= index < len(self.timeline):
            return
        self.index = index
        self.training.showing_past = True
        snapshot = self.timeline[index]
        session = self.training.session
        self.state.show(snapshot, live=session.running and not session.paused)
        self.moment_shown.emit(snapshot)
        self._update_bar()

    def _shown_step(self) -> int | None:
        return None if self.index is None else self.timeline[self.index].step

    def _set_play_interval(self) -> None:
        self._play.setInterval(round(1000 / self.bar.moments_per_second))

    def _update_bar(self) -> None:
        n = len(self.timeline)
        at_present = self.index is None
        index = n - 1 if at_present else self.index
        if n == 0:
            text, tip = "train to record the run", "Nothing recorded yet"
        else:
            s = self.timeline[index]
            text = (f"epoch {s.epoch:.2f} \u00b7 "
                    + ("now" if at_present else f"{index + 1}/{n}"))
            tip = (f"Step {s.step:,}. {n} moments of this run kept "
                   f"({_megabytes(self.timeline.nbytes)}; at most "
                   f"{_megabytes(self.timeline.max_bytes)}, older moments thinned beyond)")
        self.bar.set_moments(n, max(index, 0), text, at_present)
        self.bar.label.setToolTip(tip)
        self.save_action.setEnabled(n >= 2)
        self.changed.emit()
