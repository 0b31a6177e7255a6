"""The main window: two model columns, training controls, files, and start-up."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from vae_gui.controllers.run_follower import RunFollower
from vae_gui.explorer_tools import ExplorerToolsMixin
from vae_gui.model.latent import (
    Projection,
    pca_projection,
    sample_posterior,
)
from vae_gui.tools.panel import ToolContext, ToolsPanel
from vae_gui.views.model_column import ModelColumn
from vae_gui.views.overlays import Overlays
from vae_gui.views.settings_panel import SettingsPanel
from vae_gui.workers.background import BackgroundRunner
from vae_gui.workers.loading import (
    PRETRAINED,
    LoadedModels,
    cloud_images_of,
    load_for_display,
    warm_up_training,
)
from vae_gui.workers.training_session import TrainingSession

if TYPE_CHECKING:
    from vae_gui.model.config import ModelConfig, TrainConfig
    from vae_gui.model.training import Progress, Snapshot

APP_NAME = "vae-gui"
MAX_RECENT = 8
LIVE_CLOUDS_MS = 500  # while training: clouds, cursors and tools at most twice a second
LIVE_PANELS_MS = 1000  # histograms and loss curves at most once a second
HINT = ("Drag the \u271b cursor through either latent space: both decoders turn that point into "
        "an image. Dashed rings: 1, 2, 3\u03c3 of the prior N(0, I). Press <b>Train</b> to "
        "watch both models learn from scratch.")


class MainWindow(ExplorerToolsMixin, QtWidgets.QMainWindow):
    """Shows an AE and a VAE side by side; never trains itself (TrainingSession does)."""

    models_shown = QtCore.Signal()  # the first time models are drawn
    load_failed = QtCore.Signal(str)

    def __init__(self, settings: QtCore.QSettings | None = None) -> None:
        super().__init__()
        self.setWindowTitle(APP_NAME)
        self.resize(1720, 980)
        self.settings = settings or QtCore.QSettings(APP_NAME, APP_NAME)
        self.snapshot: Snapshot | None = None
        self.class_names: tuple[str, ...] = ()
        self.image_shape: tuple[int, int] = (28, 28)
        self.dataset_name = ""
        self.model_config: ModelConfig | None = None
        self.train_config: TrainConfig | None = None
        self.source = ""
        self.error_box: QtWidgets.QMessageBox | None = None
        self._pending: Snapshot | None = None
        self._panels_for: Snapshot | None = None
        self._refit_next = False
        self._last_cloud = self._last_panels = 0.0
        self._cloud_timer = QtCore.QTimer(self, singleShot=True)
        self._cloud_timer.timeout.connect(self._render_pending)
        self._panel_timer = QtCore.QTimer(self, singleShot=True)
        self._panel_timer.timeout.connect(self._render_panels)
        self._shown_once = False
        self.projections: dict[str, Projection] = {}
        self.cloud_images = np.zeros((0, 28, 28), dtype=np.float32)
        self.projection_dims: tuple[int, int] | None = None  # None: PCA when d > 2
        self.inspected: int | None = None
        self._syncing_views = False
        self._manifold_timer = QtCore.QTimer(self, singleShot=True, interval=60)
        self._manifold_timer.timeout.connect(self._draw_manifold_overlay)
        self.follower = RunFollower(self)
        self.follower.checkpoint_changed.connect(self._on_followed_checkpoint)

        self.runner = BackgroundRunner(self)
        self.session = TrainingSession(self)
        self.session.ready.connect(self._on_training_ready)
        self.session.snapshot.connect(self._on_snapshot)
        self.session.progress.connect(self._on_progress)
        self.session.failed.connect(self._on_training_failed)
        self.session.running_changed.connect(self._update_controls)
        self.session.running_changed.connect(self._on_running_changed)

        self.columns = {"ae": ModelColumn("ae"), "vae": ModelColumn("vae")}
        for which, column in self.columns.items():
            column.latent_plot.cursor_moved.connect(
                lambda x, y, w=which: self._on_cursor_moved(w, x, y))
        self.settings_panel = SettingsPanel()
        self.overlays = {k: Overlays(c.latent_plot.plot_item) for k, c in self.columns.items()}
        self.manifold_items = {}
        for which, column in self.columns.items():
            column.latent_plot.scene().sigMouseClicked.connect(
                lambda event, w=which: self._on_plot_clicked(w, event))
            column.latent_plot.view_box.sigRangeChanged.connect(self._on_view_range_changed)
        self.tools = ToolsPanel(self._visible_region, self._cursor_z, self._inspected_z)
        self.tools.interpolate.path_changed.connect(self._draw_overlays)
        self.tools.draw.encoded.connect(self._draw_overlays)
        self._build_actions()
        self._build_layout()
        self._update_controls()
        self.statusBar().showMessage("Loading the pretrained models\u2026")

    # --- construction ---------------------------------------------------------------------
    def _action(self, text: str, slot, shortcut: str | None = None, tip: str = "",
                checkable: bool = False) -> QtGui.QAction:
        action = QtGui.QAction(text, self)
        if shortcut:
            action.setShortcut(QtGui.QKeySequence(shortcut))
        action.setToolTip(tip or text)
        action.setStatusTip(tip)
        action.setCheckable(checkable)
        action.triggered.connect(slot)
        return action

    def _build_actions(self) -> None:
        self.open_action = self._action("&Open\u2026", self._on_open, "Ctrl+O",
                                        "Open a checkpoint holding an AE and a VAE")
        self.save_action = self._action("&Save\u2026", self._on_save, "Ctrl+S",
                                        "Save both models shown to a checkpoint")
        self.export_action = self._action("&Export window as PNG\u2026", self._on_export_window,
                                          "Ctrl+E")
        self.quit_action = self._action("&Quit", self.close, "Ctrl+Q")
        self.train_action = self._action("\u25b6 Train", self._on_train, "Ctrl+T",
                                         "Train both models in the background (from scratch, "
                                         "unless a stopped run can continue)")
        self.pause_action = self._action("Pause", self._on_pause, "Ctrl+P",
                                         "Pause or resume training")
        self.stop_action = self._action("Stop", self._on_stop, "Ctrl+.",
                                        "Stop training; Train continues from here")
        self.reset_action = self._action("\u21ba Reset", self._on_reset, "Ctrl+R",
                                         "New random weights with the current settings")
        self.step_action = self._action("Step", self._on_step, "Ctrl+J",
                                        "Train exactly one batch, then pause")
        self.sample_action = self._action("Sample", self._on_sample, "Ctrl+G",
                                          "Decode new draws z ~ N(0, I) with both models")
        self.help_action = self._action("How this works", self._on_help, "F1")
        self.export_codes_action = self._action(
            "Export encoded test set\u2026", self._on_export_codes, None,
            "Codes, means, log-variances and labels as CSV or NPZ")
        self.follow_action = self._action(
            "&Follow a run folder\u2026", self._on_follow, None,
            "Show each new checkpoint that 'vae-gui train' writes into a folder")
        self.sampled_action = self._action(
            "Cloud: one sample z ~ q(z|x) per point", self._on_cloud_mode, None,
            "Plot one draw from each VAE posterior instead of its mean", checkable=True)
        self.fade_action = self._action(
            "Fade uncertain points (posterior spread)", self._on_cloud_mode, None,
            "VAE points with a wide posterior are drawn faint, certain ones solid",
            checkable=True)
        self.manifold_action = self._action(
            "Manifold over the plots", self._on_manifold_toggled, "Ctrl+M",
            "Decode a 20 x 20 grid over the visible region of each plot", checkable=True)
        self.pca_action = self._action(
            "Project by PCA (latent dimension > 2)", self._on_pca, None,
            "Show the plane of the cloud's two main directions", checkable=True)
        self.pca_action.setChecked(True)
        self.dims_action = self._action(
            "Choose two dimensions\u2026", self._on_choose_dims, None,
            "Show two chosen latent dimensions; the others are held at 0")
        self.link_action = self._action("Link cursors", self._on_link_toggled, "Ctrl+L",
                                        "Keep both cursors at the same z", checkable=True)
        self.link_action.setChecked(True)
        self.same_scale_action = self._action(
            "Same scale for both plots", self._on_same_scale_toggled, "Ctrl+K",
            "Link the two latent plots' axes, so that the same z is the same place",
            checkable=True)
        self.same_scale_action.setChecked(True)
        self._on_same_scale_toggled(True)
        self.fit_action = self._action("Fit view", self._fit_views, "Ctrl+F",
                                       "Zoom both latent plots to the clouds and the prior")

        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        file_menu.addAction(self.open_action)
        self.recent_menu = file_menu.addMenu("Open &recent")
        self._rebuild_recent_menu()
        file_menu.addAction(self.save_action)
        file_menu.addAction(self.follow_action)
        file_menu.addSeparator()
        file_menu.addAction(self.export_action)
        file_menu.addAction(self.export_codes_action)
        export_menu = file_menu.addMenu("Export &plot as PNG")
        for which, column in self.columns.items():
            name = which.upper()
            for label, widget in ((f"{name} latent plot", column.latent_plot),
                                  (f"{name} decoded image", column.decoded),
                                  (f"{name} histograms", column.histograms),
                                  (f"{name} loss curves", column.loss_curves)):
                export_menu.addAction(label, lambda w=widget, n=label: self._export_widget(w, n))
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        train_menu = menu.addMenu("&Training")
        for a in (self.train_action, self.pause_action, self.step_action, self.stop_action,
                  self.reset_action):
            train_menu.addAction(a)
        view_menu = menu.addMenu("&View")
        view_menu.addAction(self.link_action)
        view_menu.addAction(self.same_scale_action)
        view_menu.addAction(self.fit_action)
        view_menu.addSeparator()
        view_menu.addAction(self.sampled_action)
        view_menu.addAction(self.fade_action)
        view_menu.addAction(self.manifold_action)
        view_menu.addAction(self.pca_action)
        view_menu.addAction(self.dims_action)
        tools_menu = menu.addMenu("T&ools")
        tools_menu.addAction(self.sample_action)
        for index, name in enumerate(("Manifold", "Inspect", "Interpolate", "Draw"), start=1):
            tools_menu.addAction(name, lambda i=index: self.tools.show_tab(self.tools.widget(i)))
        help_menu = menu.addMenu("&Help")
        help_menu.addAction(self.help_action)

        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("main-toolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonTextOnly)
        for a in (self.open_action, self.save_action):
            toolbar.addAction(a)
        toolbar.addSeparator()
        for a in (self.train_action, self.pause_action, self.step_action, self.stop_action,
                  self.reset_action):
            toolbar.addAction(a)
        toolbar.addSeparator()
        toolbar.addAction(self.link_action)
        toolbar.addAction(self.fit_action)
        toolbar.addAction(self.manifold_action)
        toolbar.addSeparator()
        toolbar.addAction(self.sample_action)
        toolbar.addAction(self.help_action)

    def _build_layout(self) -> None:
        hint = QtWidgets.QLabel(HINT)
        hint.setWordWrap(True)
        hint.setStyleSheet("color:#333; padding:2px 6px")
        splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        splitter.addWidget(self.columns["ae"])
        splitter.addWidget(self.columns["vae"])
        central = QtWidgets.QWidget()
        layout = QtWidgets.QVBoxLayout(central)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(hint)
        layout.addWidget(splitter, 1)
        self.setCentralWidget(central)

        dock = QtWidgets.QDockWidget("Settings", self)
        dock.setObjectName("settings-dock")
        dock.setFeatures(QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        dock.setWidget(self.settings_panel)
        self.addDockWidget(QtCore.Qt.DockWidgetArea.RightDockWidgetArea, dock)
        tools_dock = QtWidgets.QDockWidget("Tools", self)
        tools_dock.setObjectName("tools-dock")
        tools_dock.setFeatures(dock.features())
        tools_dock.setWidget(self.tools)
        tools_dock.setMinimumWidth(420)
        self.addDockWidget(QtCore.Qt.DockWidgetArea.RightDockWidgetArea, tools_dock)
        self.resizeDocks([dock, tools_dock], [460, 460], QtCore.Qt.Orientation.Horizontal)
        self.resizeDocks([dock, tools_dock], [300, 600], QtCore.Qt.Orientation.Vertical)

        self.progress_bar = QtWidgets.QProgressBar()
        self.progress_bar.setMaximumWidth(260)
        self.progress_bar.setTextVisible(True)
        self.progress_bar.hide()  # shown while training
        self.progress_label = QtWidgets.QLabel("")
        self.source_label = QtWidgets.QLabel("")
        self.statusBar().addPermanentWidget(self.source_label)
        self.statusBar().addPermanentWidget(self.progress_label)
        self.statusBar().addPermanentWidget(self.progress_bar)

    # --- loading and saving ---------------------------------------------------------------
    def load_initial(self, path: str | None = None) -> None:
        """Opens `path`, or the pretrained models that ship with vae-gui."""
        self.open_checkpoint(path or str(PRETRAINED))

    def open_checkpoint(self, path: str) -> None:
        """Loads in the background; on failure a dialog explains and the models stay."""
        self.statusBar().showMessage(f"Opening {path}\u2026")
        QtWidgets.QApplication.setOverrideCursor(QtCore.Qt.CursorShape.BusyCursor)
        self.open_action.setEnabled(False)
        self.runner.run(lambda: load_for_display(path), self._on_loaded,
                        lambda message: self._on_load_failed(path, message))

    def _on_loaded(self, loaded: LoadedModels) -> None:
        QtWidgets.QApplication.restoreOverrideCursor()
        self.open_action.setEnabled(True)
        self.follower.stop()  # an explicit Open ends following a folder
        self._show_loaded(loaded, remember=True)
        self.statusBar().showMessage(f"Opened {loaded.path}", 5000)

    def _show_loaded(self, loaded: LoadedModels, remember: bool) -> None:
        """Replaces what is on screen (and whatever was training) with loaded models."""
        self.session.reset()
        ckpt = loaded.checkpoint
        self.class_names, self.image_shape = ckpt.class_names, tuple(ckpt.model_config.image_shape)
        self.dataset_name = ckpt.dataset
        self.model_config, self.train_config = ckpt.model_config, ckpt.train_config
        self.cloud_images = cloud_images_of(loaded.data)
        self.source = str(loaded.path)
        self.settings_panel.show_configs(ckpt.dataset, ckpt.model_config, ckpt.train_config)
        pretrained = loaded.path.resolve() == PRETRAINED.resolve()
        if remember and not pretrained:
            self._remember_recent(str(loaded.path))
        label = "pretrained models" if pretrained else loaded.path.name
        self.source_label.setText(f"Showing {label}: {ckpt.dataset}, epoch {ckpt.epoch}")
        self._render(loaded.snapshot, refit=not self._shown_once or remember)
        self._update_controls()

    def _on_load_failed(self, path: str, message: str) -> None:
        QtWidgets.QApplication.restoreOverrideCursor()
        self.open_action.setEnabled(True)
        self.statusBar().showMessage(f"Could not open {path}", 5000)
        self.show_error("Could not open the checkpoint",
                        f"{message}\n\nThe models on screen were kept.")
        self.load_failed.emit(message)

    def save_checkpoint(self, path: str) -> None:
        """Saves the models on screen (a frozen snapshot) atomically, in the background."""
        if self.snapshot is None or self.model_config is None:
            self.show_error("Nothing to save", "No models are shown yet.")
            return
        from vae_gui.model.checkpoint import Checkpoint, save_checkpoint

        s = self.snapshot
        checkpoint = Checkpoint(s.ae, s.vae, self.model_config, self.train_config,
                                self.dataset_name, self.class_names, len(s.history), s.step,
                                s.history)
        self.statusBar().showMessage(f"Saving {path}\u2026")
        self.runner.run(lambda: save_checkpoint(checkpoint, path), self._on_saved,
                        lambda message: self.show_error("Could not save the checkpoint",
                                                        f"{message}\n\nNothing was overwritten."))

    def _on_saved(self, path: Path) -> None:
        self._remember_recent(str(path))
        self.statusBar().showMessage(f"Saved {path}", 5000)

    def _on_open(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "Open checkpoint", self._last_folder(), "vae-gui checkpoints (*.safetensors);;"
            "All files (*)")
        if path:
            self.open_checkpoint(path)

    def _on_save(self) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self, "Save checkpoint", str(Path(self._last_folder()) / "vae-gui.safetensors"),
            "vae-gui checkpoints (*.safetensors)")
        if path:
            if not path.endswith(".safetensors"):
                path += ".safetensors"
            self.save_checkpoint(path)

    def _last_folder(self) -> str:
        recent = self.recent_files()
        return str(Path(recent[0]).parent) if recent else str(Path.cwd())

    def recent_files(self) -> list[str]:
        value = self.settings.value("recent_files", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in value or []]

    def _remember_recent(self, path: str) -> None:
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

    def export_png(self, path: str, widget: QtWidgets.QWidget | None = None) -> bool:
        """Saves the window (or one panel) as a PNG; False and a dialog when it fails."""
        ok = (widget or self).grab().save(path, "PNG")
        if not ok:
            self.show_error("Could not export", f"{path} could not be written.")
        else:
            self.statusBar().showMessage(f"Exported {path}", 5000)
        return ok

    def _on_export_window(self) -> None:
        self._export_widget(None, "vae-gui window")

    def _export_widget(self, widget: QtWidgets.QWidget | None, name: str) -> None:
        default = str(Path(self._last_folder()) / (name.replace(" ", "-") + ".png"))
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, f"Export {name}", default,
                                                        "PNG images (*.png)")
        if path:
            self.export_png(path, widget)

    def show_error(self, title: str, text: str) -> None:
        """A window-modal message that does not block the event loop (training goes on)."""
        box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Warning, title, text,
                                    QtWidgets.QMessageBox.StandardButton.Ok, self)
        box.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda _result: setattr(self, "error_box", None))
        self.error_box = box
        box.open()

    # --- training -------------------------------------------------------------------------
    def _spec(self):
        try:
            return self.settings_panel.spec()
        except ValueError as exc:
            self.show_error("Invalid settings", str(exc))
            return None

    def _on_train(self) -> None:
        if self.session.running:
            self.session.resume()
        elif (spec := self._spec()) is not None:
            fresh = not self.session.can_continue
            if fresh:
                self.statusBar().showMessage("Training from scratch: new random weights", 5000)
            self.session.start(spec, fresh=fresh)
        self._update_controls()

    def _on_pause(self) -> None:
        if self.session.paused:
            self.session.resume()
        else:
            self.session.pause()
        self._update_controls()

    def _on_stop(self) -> None:
        self.session.stop()

    def _on_reset(self) -> None:
        """New random weights with the current settings, shown untrained and paused."""
        if (spec := self._spec()) is None:
            return
        self.session.reset()
        self.session.start(spec, fresh=True, paused=True)
        self.statusBar().showMessage("Reset: new random weights. Press Train to start.", 5000)
        self._update_controls()

    def _on_training_ready(self, trainer, data) -> None:
        self.follower.stop()
        self.class_names, self.image_shape = data.class_names, data.image_shape
        self.cloud_images = cloud_images_of(data)
        self.dataset_name = data.source  # what a saved checkpoint records, to load it again
        self.model_config, self.train_config = trainer.model_config, trainer.config
        self.source = "training"
        self.source_label.setText(f"Training on {data.name} ({trainer.device})")
        self._refit_next = True

    def _on_snapshot(self, snapshot: Snapshot) -> None:
        """Keeps only the newest snapshot and draws it at most LIVE_CLOUDS_MS apart, so that
        drawing never starves training (both need the interpreter) and the last is drawn."""
        self._pending = snapshot
        if not self._cloud_timer.isActive():
            since = (time.monotonic() - self._last_cloud) * 1000
            self._cloud_timer.start(int(max(0.0, LIVE_CLOUDS_MS - since)))

    def _render_pending(self) -> None:
        snapshot, self._pending = self._pending, None
        if snapshot is not None:
            self._last_cloud = time.monotonic()
            self._render(snapshot, refit=self._refit_next, live=True)
            self._refit_next = False

    def _render_panels(self) -> None:
        """Histograms, KL bars and loss curves: slower to draw and slower to change."""
        snapshot, self._panels_for = self._panels_for, None
        if snapshot is not None:
            self._last_panels = time.monotonic()
            for column in self.columns.values():
                column.show_panels(snapshot)

    def _on_progress(self, p: Progress) -> None:
        total = p.epochs * p.steps_per_epoch
        done = min(p.step, total) if total else 0
        self.progress_bar.setMaximum(max(total, 1))
        self.progress_bar.setValue(done)
        self.progress_label.setText(
            f"epoch {p.epoch}/{p.epochs} \u00b7 step {p.step_in_epoch}/{p.steps_per_epoch} "
            f"\u00b7 {p.samples_per_second:,.0f} samples/s")

    def _on_training_failed(self, message: str) -> None:
        self.show_error("Training stopped", f"{message}\n\nThe last good models stay on screen.")

    def _on_running_changed(self, running: bool) -> None:
        if not running:  # show where training ended at once, not after the live throttle
            if self._cloud_timer.isActive():
                self._cloud_timer.stop()
                self._render_pending()
            if self._panel_timer.isActive():
                self._panel_timer.stop()
                self._render_panels()
        if not running and self.source == "training" and self.snapshot is not None:
            epochs = len(self.snapshot.history)
            self.source_label.setText(f"Trained on {self.dataset_name}: {epochs} epoch"
                                      f"{'' if epochs == 1 else 's'}, step {self.snapshot.step}")

    def _update_controls(self, *_args) -> None:
        running, paused = self.session.running, self.session.paused
        self.progress_bar.setVisible(running)
        self.train_action.setEnabled(not running or paused)
        self.train_action.setText("\u25b6 Resume" if running and paused else
                                  "\u25b6 Continue" if self.session.can_continue and not running
                                  else "\u25b6 Train")
        self.pause_action.setEnabled(running)
        self.pause_action.setText("Resume" if paused else "Pause")
        self.stop_action.setEnabled(running)
        self.save_action.setEnabled(self.snapshot is not None)

    # --- drawing --------------------------------------------------------------------------
    def _projection_for(self, codes: np.ndarray) -> Projection:
        d = codes.shape[1]
        if d <= 2:
            return Projection.axes(d)
        if self.projection_dims is not None and max(self.projection_dims) < d:
            return Projection.axes(d, *self.projection_dims)
        return pca_projection(codes)

    def _render(self, snapshot: Snapshot, refit: bool = False, live: bool = False) -> None:
        """Redraws every view from `snapshot`. While training (`live`), the histograms and
        loss curves follow in their own event-loop turn, at most LIVE_PANELS_MS apart, so
        that no single turn blocks the cursor for long."""
        old = self.projections.get("ae")
        self.snapshot = snapshot
        self.projections = {"ae": self._projection_for(snapshot.ae_codes),
                            "vae": self._projection_for(snapshot.vae_mu)}
        if old is None or old.latent_dim != self.projections["ae"].latent_dim:
            refit = True
        shown = snapshot
        if self.sampled_action.isChecked():
            shown = _with_vae_codes(snapshot, sample_posterior(snapshot.vae_mu,
                                                               snapshot.vae_logvar))
        for which, column in self.columns.items():
            column.show_snapshot(shown, self.projections[which], self.class_names,
                                 self.image_shape, self.fade_action.isChecked())
            column.latent_plot.set_axis_labels(*_axis_names(self.projections[which]))
        self._panels_for = shown
        if not live:
            self._panel_timer.stop()
            self._render_panels()
        elif not self._panel_timer.isActive():
            since = (time.monotonic() - self._last_panels) * 1000
            self._panel_timer.start(int(max(1.0, LIVE_PANELS_MS - since)))
        if refit or self.columns["ae"].latent_plot.follows_data:
            self._fit_views()
        self._decode_cursors()
        self.tools.set_context(ToolContext(snapshot, self.image_shape, self.cloud_images,
                                           self.class_names, self.projections))
        self._draw_overlays()
        if self.manifold_action.isChecked():
            self._draw_manifold_overlay()
        self.save_action.setEnabled(True)
        if not self._shown_once:
            self._shown_once = True
            self.models_shown.emit()
            # The first Adam imports torch._dynamo (about 2 s): do it now, off the GUI
            # thread, rather than when the user first presses Train.
            self.runner.run(warm_up_training, lambda _: None, lambda _: None)

    def _fit_views(self) -> None:
        """Fits each plot to its cloud (1st to 99th percentile) and the prior's 3 sigma ring;
        with the same scale, both plots get the union."""
        if self.snapshot is None or not self.projections:
            return
        bounds = {}
        for which, column in self.columns.items():
            center = self.projections[which].prior_center()
            lo, hi = center - 3.2, center + 3.2
            xy = column.projection.to_plane(column.codes) if len(column.codes) else np.zeros(
                (0, 2))
            xy = xy[np.isfinite(xy).all(axis=1)]
            if len(xy):
                lo = np.minimum(lo, np.percentile(xy, 1, axis=0))
                hi = np.maximum(hi, np.percentile(xy, 99, axis=0))
            bounds[which] = (lo, hi)
        if self.same_scale_action.isChecked():
            union = (np.minimum(bounds["ae"][0], bounds["vae"][0]),
                     np.maximum(bounds["ae"][1], bounds["vae"][1]))
            bounds = {"ae": union, "vae": union}
        for which, (lo, hi) in bounds.items():
            plot = self.columns[which].latent_plot
            plot.fit(lo, hi)
            # A cursor left outside the new view could not be dragged: bring it inside.
            x, y = plot.cursor_position()
            cx, cy = float(np.clip(x, lo[0], hi[0])), float(np.clip(y, lo[1], hi[1]))
            if (cx, cy) != (x, y):
                plot.set_cursor(cx, cy, notify=True)

    def _on_cursor_moved(self, which: str, x: float, y: float) -> None:
        source = self.columns[which]
        if source.projection is None:
            return
        z = source.projection.from_plane(np.array([x, y]))
        source.decode_at(z)
        if self.link_action.isChecked():
            other = self.columns["vae" if which == "ae" else "ae"]
            other.latent_plot.set_cursor(*other.projection.to_plane(z))
            other.decode_at(z)

    def _decode_cursors(self) -> None:
        """Re-decodes both cursors with the newest models (the images change while training)."""
        for column in self.columns.values():
            x, y = column.latent_plot.cursor_position()
            column.decode_at(column.projection.from_plane(np.array([x, y])))

    def _cursor_z(self) -> np.ndarray | None:
        column = self.columns["vae"]
        if column.projection is None:
            return None
        return column.projection.from_plane(np.array(column.latent_plot.cursor_position()))

    def _inspected_z(self) -> np.ndarray | None:
        if self.inspected is None or self.snapshot is None:
            return None
        return np.array(self.snapshot.vae_mu[self.inspected])

    def _visible_region(self, which: str) -> tuple[tuple[float, float], tuple[float, float]]:
        (x0, x1), (y0, y1) = self.columns[which].latent_plot.view_box.viewRange()
        return (x0, y0), (x1, y1)

    def _on_link_toggled(self, checked: bool) -> None:
        if checked:
            x, y = self.columns["vae"].latent_plot.cursor_position()
            self._on_cursor_moved("vae", x, y)

    def _on_same_scale_toggled(self, _checked: bool) -> None:
        self._fit_views()

    def _on_view_range_changed(self, view_box, *_args) -> None:
        """Same scale: a pan or zoom in one plot is copied to the other. (Qt's axis links
        fight the locked aspect ratio when the two plots differ in size by a pixel.)"""
        if self.manifold_action.isChecked():
            self._manifold_timer.start()  # coalesces the many range changes of a pan
        if self._syncing_views or not self.same_scale_action.isChecked():
            return
        self._syncing_views = True
        try:
            (x0, x1), (y0, y1) = view_box.viewRange()
            for column in self.columns.values():
                if column.latent_plot.view_box is not view_box:
                    column.latent_plot.view_box.setRange(xRange=(x0, x1), yRange=(y0, y1),
                                                         padding=0)
        finally:
            self._syncing_views = False

    def _on_step(self) -> None:
        """One batch: starts a paused run first when none is there."""
        if not self.session.running:
            if (spec := self._spec()) is None:
                return
            self.session.start(spec, fresh=not self.session.can_continue, paused=True)
        self.session.step()
        self._update_controls()

    # --- lifecycle ------------------------------------------------------------------------
    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        """Stops training and waits a bounded time, so that the process exits cleanly."""
        self.session.shutdown(3000)
        self.runner.shutdown(3000)
        super().closeEvent(event)


def _with_vae_codes(snapshot: Snapshot, codes: np.ndarray) -> Snapshot:
    """The snapshot with other points in place of the VAE means (for the sampled cloud)."""
    import dataclasses

    return dataclasses.replace(snapshot, vae_mu=codes)


def _axis_names(projection: Projection) -> tuple[str, str]:
    if projection.description.startswith("PCA"):
        return "PCA 1", "PCA 2"
    i = int(np.argmax(projection.basis[:, 0]))
    j = int(np.argmax(projection.basis[:, 1])) if projection.latent_dim > 1 else i
    return f"z{i + 1}", (f"z{j + 1}" if projection.latent_dim > 1 else "")
