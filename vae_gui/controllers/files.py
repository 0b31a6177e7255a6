"""Files: opening and saving checkpoints, recent files, following a run folder, and
exporting the encoded test set. Loads and saves run in the background."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtWidgets

from vae_gui.controllers.actions import make_action
from vae_gui.controllers.run_follower import RunFollower
from vae_gui.controllers.training import TrainingController
from vae_gui.explorer_state import ExplorerState, ModelsOrigin
from vae_gui.views.open_beside_dialog import OpenBesideDialog
from vae_gui.workers.background import BackgroundRunner
from vae_gui.workers.loading import (
    PRETRAINED,
    LoadedBeside,
    LoadedModels,
    cloud_images_of,
    load_beside,
    load_for_display,
)

if TYPE_CHECKING:
    from vae_gui.model.training import Snapshot

MAX_RECENT = 8


class FileController(QtCore.QObject):
    """Owns the file actions and the background runner that loads and saves."""

    message = QtCore.Signal(str, int)  # a status-bar message and how long to show it (ms)
    error = QtCore.Signal(str, str)  # a title and a sentence for a dialog
    source_changed = QtCore.Signal(str)
    loaded = QtCore.Signal(object)  # LoadedModels, after they are shown
    followed = QtCore.Signal(object)  # LoadedModels of a followed run folder, after `loaded`
    load_failed = QtCore.Signal(str)
    beside_shown = QtCore.Signal(object)  # LoadedBeside, after its pair is shown

    def __init__(self, state: ExplorerState, training: TrainingController,
                 settings: QtCore.QSettings, window: QtWidgets.QWidget) -> None:
        super().__init__(window)
        self.state = state
        self.training = training
        self.settings = settings
        self.window = window  # the parent of the file dialogs
        self.runner = BackgroundRunner(self)
        self.follower = RunFollower(self)
        self._followed_folder: Path | None = None  # of the last checkpoint followed
        self.follower.checkpoint_changed.connect(self._on_followed_checkpoint)
        training.session.started.connect(lambda _: self.follower.stop())

        self.open_action = make_action(self, "&Open\u2026", self._on_open, "Ctrl+O",
                                       "Open a checkpoint of two models (an AE and a VAE, or "
                                       "another pair)")
        self.save_action = make_action(self, "&Save\u2026", self._on_save, "Ctrl+S",
                                       "Save both models shown to a checkpoint")
        self.follow_action = make_action(
            self, "&Follow a run folder\u2026", self._on_follow, None,
            "Show each new checkpoint that 'vae-gui train' writes into a folder")
        self.export_codes_action = make_action(
            self, "Export encoded test set\u2026", self._on_export_codes, None,
            "Codes, means, log-variances and labels as CSV or NPZ")
        self.restore_action = make_action(
            self, "Restore &pretrained models", lambda: self.open_checkpoint(str(PRETRAINED)),
            None, "Show the AE and VAE that ship with vae-gui again")
        self.recent_menu = QtWidgets.QMenu("Open &recent", window)
        self._rebuild_recent_menu()
        # Shown in the status bar while a checkpoint opens: a large one, or one whose data set
        # is a large folder or a download, can take long; the models on screen stay.
        self.cancel_button = QtWidgets.QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop opening the checkpoint; the models shown stay")
        self.cancel_button.clicked.connect(self.cancel_open)
        self.cancel_button.hide()
        self._opening = 0  # the key of the load under way, 0 when none
        # How far a folder dataset's listing and reading have got (written by the load's
        # thread, LoadProgress), shown a few times a second while a checkpoint opens.
        self._load_progress: list = [None]
        self._progress_poll = QtCore.QTimer(self)
        self._progress_poll.setInterval(200)
        self._progress_poll.timeout.connect(self._show_load_progress)
        self.beside_action = make_action(
            self, "Open &beside…", self._on_open_beside, None,
            "Open one model of each of two checkpoints side by side (by default the VAE of "
            "an AE | VAE checkpoint), with their evaluate figures next to each other")
        self.beside_dialog: OpenBesideDialog | None = None
        # Models of two architectures opened beside each other make no one checkpoint.
        self._unsavable = ""
        self.save_action.setEnabled(False)
        state.models_changed.connect(
            lambda _: self.save_action.setEnabled(not self._unsavable))

    # --- opening --------------------------------------------------------------------------
    def open_checkpoint(self, path: str, ask: bool = True) -> None:
        """Loads in the background; on failure a dialog explains and the models stay.
        With `ask`, unsaved trained models on screen are not replaced without a yes."""
        if ask and not self.training.guard.confirm("Open"):
            return
        include_train = self.state.options.train_points
        self._start_load(path, lambda progress: load_for_display(path, None, include_train,
                                                                 progress),
                         self._on_loaded)

    def _start_load(self, label: str, job, on_loaded) -> None:
        """Runs `job(progress)` (a load) in the background, with the busy cursor and Cancel
        shown, and how the listing and reading of a folder dataset go in the status bar;
        `on_loaded` takes its result, and a failure or a cancel names `label`."""
        self.message.emit(f"Opening {label}\u2026", 0)
        QtWidgets.QApplication.setOverrideCursor(QtCore.Qt.CursorShape.BusyCursor)
        self.open_action.setEnabled(False)
        self._load_progress[0] = None
        self._progress_poll.start()

        def progress(p) -> None:  # in the job's thread: the poll shows the latest
            self._load_progress[0] = p

        self._opening = self.runner.run(lambda: job(progress), on_loaded,
                                        lambda message: self._on_load_failed(label, message),
                                        lambda: self._on_open_cancelled(label))
        if self._opening:
            self.cancel_button.show()
        else:  # the window is closing: nothing was started
            self._load_ended()

    def cancel_open(self) -> None:
        """Stops the checkpoint being opened at its next stage (or image of a folder)."""
        if self._opening:
            self.runner.cancel(self._opening)
            self.cancel_button.setEnabled(False)
            self.message.emit("Cancelling\u2026", 0)

    def _show_load_progress(self) -> None:
        p = self._load_progress[0]
        if p is not None:
            self.message.emit(f"{p.describe()}\u2026", 0)

    def _load_ended(self) -> None:
        self._progress_poll.stop()
        QtWidgets.QApplication.restoreOverrideCursor()
        self.open_action.setEnabled(True)
        self._opening = 0
        self.cancel_button.hide()
        self.cancel_button.setEnabled(True)

    def _on_open_cancelled(self, path: str) -> None:
        self._load_ended()
        kept = ("the models shown were kept" if self.state.snapshot is not None else
                "open a checkpoint, or press Train to train new models")
        self.message.emit(f"Stopped opening {path}; {kept}.", 0)

    def open_beside(self, a: str, b: str, slots: tuple[int, int] = (1, 1),
                    ask: bool = True) -> None:
        """Loads model `slots[0]` of checkpoint `a` and `slots[1]` of `b` (0: a checkpoint's
        left column, 1: its right) as one pair, in the background."""
        if ask and not self.training.guard.confirm("Open"):
            return
        include_train = self.state.options.train_points
        self._start_load(f"{a} beside {b}",
                         lambda progress: load_beside(a, b, include_train, slots, progress),
                         self._on_beside_loaded)

    def _on_beside_loaded(self, beside: LoadedBeside) -> None:
        self._load_ended()
        self.follower.stop()
        a, b = beside.paths
        self.show_loaded(beside.loaded, remember=False)
        self._unsavable = "" if beside.savable else (
            "The two models have different networks, so they make no one checkpoint; save "
            "each from its own file.")
        self.save_action.setEnabled(not self._unsavable)
        self._explain_save()
        self.source_changed.emit(f"Showing {beside.names[0]} ({a.name}) beside "
                                 f"{beside.names[1]} ({b.name}) on {beside.loaded.data.name}")
        self.message.emit(f"Opened {a.name} beside {b.name}", 5000)
        self.beside_shown.emit(beside)

    def _explain_save(self) -> None:
        """Save's tip: what it saves, or why it cannot (the disabled action says so on
        hover and in the status bar)."""
        tip = self._unsavable or "Save both models shown to a checkpoint"
        self.save_action.setStatusTip(tip)
        self.save_action.setToolTip(tip)

    def _on_open_beside(self) -> None:
        """The dialog, not modal: its OK loads the two models chosen."""
        if self.beside_dialog is not None:
            self.beside_dialog.close()
        dialog = self.beside_dialog = OpenBesideDialog(self.last_folder, self.window)

        def accepted() -> None:
            a, b, slots = dialog.choice()
            self.open_beside(str(a), str(b), slots)

        dialog.accepted.connect(accepted)
        dialog.open()

    def _on_loaded(self, loaded: LoadedModels) -> None:
        self._load_ended()
        self.follower.stop()  # an explicit Open ends following a folder
        self.show_loaded(loaded, remember=True)
        self.message.emit(f"Opened {loaded.path}", 5000)

    def show_loaded(self, loaded: LoadedModels, remember: bool, refit: bool = True,
                    same_run: bool = False) -> None:
        """Replaces what is on screen (and whatever was training) with loaded models;
        `same_run`: a newer checkpoint of the run on screen (its timeline goes on)."""
        self.training.discard(forget_timeline=not same_run)
        self._unsavable = ""
        self._explain_save()
        ckpt = loaded.checkpoint
        self.training.settings_panel.show_configs(ckpt.dataset, ckpt.model_config,
                                                  ckpt.train_config)
        pretrained = loaded.path.resolve() == PRETRAINED.resolve()
        if remember and not pretrained:
            self.remember_recent(str(loaded.path))
        label = "pretrained models" if pretrained else loaded.path.name
        origin = ModelsOrigin(ckpt.dataset, ckpt.class_names,
                              tuple(ckpt.model_config.image_shape),
                              cloud_images_of(loaded.data, loaded.snapshot.cloud),
                              ckpt.model_config, ckpt.train_config, str(loaded.path),
                              loaded.data)
        self.state.show(loaded.snapshot, origin, refit=refit)
        self.source_changed.emit(f"Showing {label}: {ckpt.dataset}, epoch {ckpt.epoch}")
        self.training.update_controls()
        self.loaded.emit(loaded)

    def _on_load_failed(self, path: str, message: str) -> None:
        self._load_ended()
        self.message.emit(f"Could not open {path}", 5000)
        self.error.emit("Could not open the checkpoint",
                        f"{message}\n\nThe models on screen were kept.")
        self.load_failed.emit(message)

    def _on_open(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self.window, "Open checkpoint", self.last_folder(),
            "vae-gui checkpoints (*.safetensors);;All files (*)")
        if path:
            self.open_checkpoint(path)

    # --- saving ---------------------------------------------------------------------------
    def save_checkpoint(self, path: str, timeline: Sequence[Snapshot] = ()) -> None:
        """Saves the models on screen (a frozen snapshot) atomically, in the background; with
        the moments of `timeline` before them, when given."""
        state = self.state
        if state.snapshot is None or state.origin is None:
            self.error.emit("Nothing to save", "No models are shown yet.")
            return
        from vae_gui.model.checkpoint import Checkpoint, TimelineModels, save_checkpoint

        s, origin = state.snapshot, state.origin
        earlier = tuple(TimelineModels(m.step, m.epoch, *m.models) for m in timeline
                        if m.step < s.step)
        # The snapshot's completed epochs, not the length of its history, which is thinned.
        checkpoint = Checkpoint(*s.models, origin.model_config, origin.train_config,
                                origin.dataset, origin.class_names, int(s.epoch), s.step,
                                s.history, timeline=earlier)
        self.message.emit(f"Saving {path}\u2026", 0)
        self.runner.run(lambda: save_checkpoint(checkpoint, path),
                        lambda saved: self._on_saved(saved, s.step),
                        lambda message: self.error.emit(
                            "Could not save the checkpoint",
                            f"{message}\n\nNothing was overwritten."))

    def _on_saved(self, path: Path, step: int) -> None:
        if self.state.origin is not None and self.state.origin.source == "training":
            self.training.guard.mark_saved(step)
        self.remember_recent(str(path))
        self.message.emit(f"Saved {path}", 5000)

    def _on_save(self) -> None:
        if path := self.ask_save_path("Save checkpoint"):
            self.save_checkpoint(path)

    def ask_save_path(self, title: str) -> str | None:
        """A checkpoint's path from a save dialog (None: cancelled)."""
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self.window, title, str(Path(self.last_folder()) / "vae-gui.safetensors"),
            "vae-gui checkpoints (*.safetensors)")
        if not path:
            return None
        return path if path.endswith(".safetensors") else path + ".safetensors"

    # --- recent files ---------------------------------------------------------------------
    def last_folder(self) -> str:
        recent = self.recent_files()
        return str(Path(recent[0]).parent) if recent else str(Path.cwd())

    def recent_files(self) -> list[str]:
        value = self.settings.value("recent_files", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in value or []]

    def remember_recent(self, path: str) -> None:
        path = str(Path(path).resolve())
        files = [path] + [p for p in self.recent_files() if p != path]
        self.settings.setValue("recent_files", files[:MAX_RECENT])
        self._rebuild_recent_menu()

    def _rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        files = self.recent_files()
        for path in files:
            self.recent_menu.addAction(path, lambda p=path: self.open_checkpoint(p))
        self.recent_menu.setEnabled(bool(files))

    # --- exporting ------------------------------------------------------------------------
    def export_codes(self, path: str) -> None:
        """The encoded test set as CSV or NPZ (by the file's suffix)."""
        from vae_gui.model.checkpoint import weight_prefixes
        from vae_gui.model.export import export_columns

        s = self.state.snapshot
        n = self.state.origin.cloud_images.cloud.test_count  # training images are not exported
        # Named as the checkpoint names the models' weights: "ae" and "vae" for the default
        # pair, "left" and "right" for any other.
        prefixes = weight_prefixes(tuple(c.spec.text() for c in s.columns))
        columns = [(p, c.mu[:n], None if c.logvar is None else c.logvar[:n])
                   for p, c in zip(prefixes, s.columns, strict=True)]
        try:
            export_columns(path, columns, s.labels[:n], self.state.class_names)
        except OSError as exc:
            self.error.emit("Could not export", f"{path} could not be written: {exc}")
            return
        self.message.emit(f"Exported {path}", 5000)

    def _on_export_codes(self) -> None:
        if self.state.snapshot is None:
            return
        path, chosen = QtWidgets.QFileDialog.getSaveFileName(
            self.window, "Export encoded test set",
            str(Path(self.last_folder()) / "encoded-test-set.csv"),
            "CSV (*.csv);;NumPy archive (*.npz)")
        if path:
            if not path.endswith((".csv", ".npz")):
                path += ".npz" if "npz" in chosen else ".csv"
            self.export_codes(path)

    # --- following a run ------------------------------------------------------------------
    def follow(self, folder: str) -> None:
        """Shows the newest checkpoint in `folder` and every one that lands there later."""
        path = Path(folder).expanduser()
        if path.exists() and not path.is_dir():  # a file, a pipe: nothing to follow there
            self.error.emit("Cannot follow", f"{folder} is not a folder. Follow the folder that "
                            "'vae-gui train --out FOLDER' writes its checkpoints into.")
            return
        if not self.training.guard.confirm("Follow a run folder"):
            return
        self._followed_folder = None
        self.follower.follow(folder)
        if not Path(folder).is_dir():
            self.message.emit(f"Waiting for {folder} to appear ('vae-gui train --out {folder}' "
                              "makes it); its checkpoints will show as they land", 0)
        else:
            self.message.emit(f"Following {folder}: new checkpoints appear as they land", 0)

    def _on_follow(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(self.window, "Follow a run folder",
                                                            self.last_folder())
        if folder:
            self.follow(folder)

    def _on_followed_checkpoint(self, path: str) -> None:
        if self.runner.busy:  # a load is under way: look again shortly
            QtCore.QTimer.singleShot(300, self, lambda: self._on_followed_checkpoint(path))
            return
        include_train = self.state.options.train_points
        self.runner.run(lambda: load_for_display(path, None, include_train),
                        self._on_followed_loaded,
                        lambda message: self.message.emit(f"Skipped {path}: {message}", 5000))

    def _on_followed_loaded(self, loaded: LoadedModels) -> None:
        if not self.follower.following:
            return  # stopped following (an Open, or training) while it loaded
        same_run = loaded.path.parent == self._followed_folder
        self._followed_folder = loaded.path.parent
        self.show_loaded(loaded, remember=False, refit=self.state.snapshot is None,
                         same_run=same_run)
        self.followed.emit(loaded)
        self.source_changed.emit(f"Following {loaded.path.parent.name}: epoch "
                                 f"{loaded.checkpoint.epoch}")

    def shutdown(self) -> bool:
        """For closing: stops following and cancels loads without waiting."""
        self.follower.stop()
        return self.runner.shutdown()
