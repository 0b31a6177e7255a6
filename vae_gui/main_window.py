"""The main window: assembles the explorer state, the views, the tools and the controllers.

It holds no state of its own beyond its widgets: what is shown lives in ExplorerState, what
the user asks for goes through the controllers (files, training, plot linking)."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from vae_gui.controllers.actions import make_action
from vae_gui.controllers.beta_sweep import BetaSweep
from vae_gui.controllers.cloud_choice import CloudChoice
from vae_gui.controllers.compare import CompareCheckpoints
from vae_gui.controllers.discard_guard import DiscardGuard
from vae_gui.controllers.evidence import EvidenceController
from vae_gui.controllers.files import FileController
from vae_gui.controllers.movie_export import MovieExport
from vae_gui.controllers.plot_linking import PlotLinking
from vae_gui.controllers.timeline import TimelineController
from vae_gui.controllers.training import CONTINUE, PAUSE, TRAIN, TrainingController
from vae_gui.explorer_state import MODELS, ExplorerState
from vae_gui.tools.draw import DrawTab
from vae_gui.tools.inspect_point import InspectTab
from vae_gui.tools.manifold import ManifoldOverlay, Region
from vae_gui.tools.marks import ToolMarks
from vae_gui.tools.panel import ToolsPanel
from vae_gui.views.export_image import export_widget, write_problem
from vae_gui.views.help_dialog import HelpDialog
from vae_gui.views.model_column import ModelColumn
from vae_gui.views.overlays import Overlays
from vae_gui.views.settings_panel import SettingsPanel
from vae_gui.views.side_panel import SidePanel
from vae_gui.workers.loading import PRETRAINED, warm_up_training

APP_NAME = "vae-gui"
DEFAULT_SIZE = (1720, 980)  # on a screen with room for it; smaller screens get their size
STACK_DOCKS_FROM_HEIGHT = 1000  # below this, Settings and Tools are tabs, not stacked
GEOMETRY_KEY, DOCKS_KEY, TABBED_KEY = "window/geometry", "window/docks", "window/tabbed"
HINT = ("Drag the black \u2295 cursor through either latent space: both decoders turn that "
        "point into an image. Dashed rings: 1, 2, 3\u03c3 of the prior N(0, I), holding 39, "
        "86 and 99% of it; each plot has its own scale (View \u25b8 Same scale). Press "
        "<b>\u25b6 Train from scratch</b> to watch both models learn.")


class MainWindow(QtWidgets.QMainWindow):
    """Shows two models side by side (an AE and a VAE by default); never trains itself
    (TrainingSession does)."""

    models_shown = QtCore.Signal()  # the first time models are drawn
    load_failed = QtCore.Signal(str)
    closed = QtCore.Signal()  # closed for good: every thread has ended

    def __init__(self, settings: QtCore.QSettings | None = None) -> None:
        super().__init__()
        self.setWindowTitle(APP_NAME)
        self.settings = settings or QtCore.QSettings(APP_NAME, APP_NAME)
        self.error_box: QtWidgets.QMessageBox | None = None
        self._shown_once = False
        self._closing = False
        self._closed = False
        self._close_without_asking = False
        self._check_fit_when_shown = False

        self.state = ExplorerState(self)
        self.columns = {which: ModelColumn(which, self.state) for which in MODELS}
        plots = {which: column.latent_plot for which, column in self.columns.items()}
        self.settings_panel = SettingsPanel()
        self.guard = DiscardGuard(self.state, self.settings, self)
        self.last_export_problem = ""  # why the last export failed, for --screenshot
        # Prepare training in the background once models are shown; off for --screenshot,
        # whose window closes right away (and would wait for the import to end).
        self.warm_up_training = True
        self.training = TrainingController(self.state, self.settings_panel, self.guard, self)
        self.files = FileController(self.state, self.training, self.settings, self)
        self.cloud_choice = CloudChoice(self.state, self.training.session, self)
        self.linking = PlotLinking(self.state, plots)
        self.timeline = TimelineController(self.state, self.training, self.files, parent=self)
        self.timeline.message.connect(lambda text, ms: self.statusBar().showMessage(text, ms))
        self.movie = MovieExport(self.state, self.timeline, self.files.last_folder, self)
        self.sweep = BetaSweep(self.settings_panel, self)
        self.compare = CompareCheckpoints(self.files.last_folder, self)
        self.overlays = {which: Overlays(plot.plot_item) for which, plot in plots.items()}
        self.evidence = EvidenceController(self.state, self)
        self.tools = ToolsPanel(self.state, self.visible_region, self.evidence)
        self.marks = ToolMarks(self.state, self.overlays, self.tools)
        self.manifold = ManifoldOverlay(self.state, plots)
        self.state.models_changed.connect(self._on_models_changed)
        for source in (self.training, self.files, self.cloud_choice, self.movie, self.sweep,
                       self.compare):
            source.message.connect(lambda text, ms: self.statusBar().showMessage(text, ms))
            source.error.connect(self.show_error)
        for source in (self.training, self.files):
            source.source_changed.connect(lambda text: self.source_label.setText(text))
        self.files.load_failed.connect(self.load_failed)
        # The evaluate figures of two checkpoints opened beside each other, next to each
        # other: measured in the background, shown in the Compare window when ready.
        self.files.beside_shown.connect(lambda beside: self.compare.compare(
            *beside.paths, columns=((MODELS[beside.slots[0]], MODELS[beside.slots[1]]),)))
        self._build_actions()
        self._build_layout()
        self._restore_or_fit()
        self.statusBar().showMessage("Loading the pretrained models\u2026")

    # --- what tests and scripts read --------------------------------------------------------
    @property
    def snapshot(self):
        return self.state.snapshot

    @property
    def session(self):
        return self.training.session

    @property
    def runner(self):
        return self.files.runner

    @property
    def inspected(self) -> int | None:
        return self.state.inspected

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.state.class_names

    @property
    def image_shape(self) -> tuple[int, int]:
        return self.state.image_shape

    @property
    def cloud_images(self):
        return self.state.origin.cloud_images

    @property
    def source(self) -> str:
        return self.state.origin.source if self.state.origin is not None else ""

    @property
    def manifold_items(self):
        return self.manifold.items

    def cursor_z(self):
        """The VAE cursor's full latent point z."""
        return self.state.cursor_z

    # --- construction ---------------------------------------------------------------------
    def _view_option(self, text: str, option: str, shortcut: str | None, tip: str):
        action = make_action(self, text, lambda checked: self.state.set_options(
            **{option: checked}), shortcut, tip, checkable=True)
        action.setChecked(getattr(self.state.options, option))
        return action

    def _build_actions(self) -> None:
        t, f = self.training, self.files
        self.open_action, self.save_action = f.open_action, f.save_action
        self.follow_action, self.export_codes_action = f.follow_action, f.export_codes_action
        self.train_action = t.train_action
        self.shapes_demo_action = make_action(
            self, "Colour &shapes demo", self.start_shapes_demo,
            tip="Train a convolutional pair on colour images of six shapes, generated on the "
                "fly (the same as vae-gui --demo shapes)")
        self.step_action, self.stop_action, self.reset_action = (t.step_action, t.stop_action,
                                                                 t.reset_action)
        self.export_action = make_action(self, "&Export window as PNG\u2026",
                                         lambda: self._export_widget(None, "vae-gui window"),
                                         "Ctrl+E")
        self.quit_action = make_action(self, "&Quit", self.close, "Ctrl+Q")
        self.sample_action = make_action(self, "Sample", self._on_sample, "Ctrl+G",
                                         "Decode new draws z ~ N(0, I) with both models")
        self.help_action = make_action(self, "How this works", lambda: HelpDialog(self).show(),
                                       "F1")
        self.sampled_action = self._view_option(
            "Cloud: one sample z ~ q(z|x) per point", "sampled_cloud", None,
            "Plot one draw from each VAE posterior instead of its mean")
        self.fade_action = self._view_option(
            "Fade uncertain points (posterior spread)", "fade_uncertain", None,
            "VAE points with a wide posterior are drawn faint, certain ones solid; the plot "
            "states how closely σ tracks the distance from the centre")
        self.marginal_means_action = self._view_option(
            "Histograms of the means μ (not the aggregate posterior)", "marginal_means",
            None, "The VAE's histograms show its means alone; by default they show one draw "
            "of each q(z|x), the aggregate posterior that should match N(0, 1)")
        self.train_points_action = self._view_option(
            "Cloud: training images too", "train_points", None,
            "Encode and plot the training split after the test split (up to 100,000 points "
            "in all): the clouds update less often while training, as encoding more points "
            "takes longer and is kept to a tenth of the training time")
        self.density_action = self._view_option(
            "Clouds as density images", "density", None,
            "Bin the points into cells coloured by class and shaded by count (for large sets)")
        self.manifold_action = self._view_option(
            "Manifold over the plots", "manifold_overlay", "Ctrl+M",
            "Decode a 20 x 20 grid over the visible region of each plot")
        self.pca_action = make_action(
            self, "Project by PCA (latent dimension > 2)",
            lambda checked: self.state.set_options(projection_dims=None if checked else (0, 1)),
            None, "Show the plane of the cloud's two main directions", checkable=True)
        self.pca_action.setChecked(True)
        self.dims_action = make_action(self, "Choose two dimensions\u2026", self._on_choose_dims,
                                       None, "Show two chosen latent dimensions; the others "
                                       "are held at 0")
        self.link_action = self._view_option("Link cursors", "link_cursors", "Ctrl+L",
                                             "Keep both cursors at the same z")
        self.same_scale_action = self._view_option(
            "Same scale for both plots", "same_scale", "Ctrl+K",
            "Link the two latent plots' axes, so that the same z is the same place")
        self.fit_action = make_action(self, "Fit view", self.linking.fit, "Ctrl+F",
                                      "Zoom both latent plots to the clouds and the prior")

        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        file_menu.addAction(self.open_action)
        file_menu.addAction(f.beside_action)
        file_menu.addMenu(f.recent_menu)
        file_menu.addAction(f.restore_action)
        file_menu.addAction(self.save_action)
        file_menu.addAction(self.timeline.save_action)
        file_menu.addAction(self.follow_action)
        file_menu.addAction(self.compare.action)
        file_menu.addSeparator()
        file_menu.addAction(self.export_action)
        file_menu.addAction(self.export_codes_action)
        file_menu.addAction(self.movie.action)
        export_menu = file_menu.addMenu("Export &plot (PNG or SVG)")
        exports = []  # (action, column, part): each named after the column's model when shown
        for which, column in self.columns.items():
            for part, widget, legend in (
                    ("latent plot", column.latent_plot, column.legend),
                    ("decoded image", column.decoded, None),
                    ("histograms", column.histograms, None),
                    ("loss curves", column.loss_curves, None)):
                action = export_menu.addAction(
                    part, lambda w=widget, p=part, c=which, g=legend:
                    self._export_widget(w, f"{self.state.label(c)} {p}", g))
                exports.append((action, which, part))

        def name_exports() -> None:
            for action, which, part in exports:
                action.setText(f"{self.state.label(which)} {part}")
        name_exports()
        export_menu.aboutToShow.connect(name_exports)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        train_menu = menu.addMenu("&Training")
        for a in t.actions:
            train_menu.addAction(a)
        train_menu.addSeparator()
        train_menu.addAction(self.shapes_demo_action)
        view_menu = menu.addMenu("&View")
        for a in (self.link_action, self.same_scale_action, self.fit_action, None,
                  self.sampled_action, self.fade_action, self.marginal_means_action,
                  self.train_points_action, self.density_action,
                  self.manifold_action, self.pca_action, self.dims_action):
            view_menu.addSeparator() if a is None else view_menu.addAction(a)
        tools_menu = menu.addMenu("T&ools")
        tools_menu.addAction(self.sample_action)
        for title in self.tools.titles:
            tools_menu.addAction(title, lambda name=title: self.tools.show_tab(name))
        tools_menu.addSeparator()
        tools_menu.addAction(self.sweep.action)
        help_menu = menu.addMenu("&Help")
        help_menu.addAction(self.help_action)

        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("main-toolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonTextOnly)
        for a in (self.open_action, self.save_action, None, *t.actions):
            toolbar.addSeparator() if a is None else toolbar.addAction(a)
        toolbar.addWidget(QtWidgets.QLabel(" Pace "))
        toolbar.addWidget(t.pace)
        for a in (None, self.link_action, self.fit_action, self.manifold_action, None,
                  self.sample_action, self.help_action):
            toolbar.addSeparator() if a is None else toolbar.addAction(a)
        # The primary button is as wide as its widest label, so that no button moves when
        # its label changes (a click meant for Step never lands on another button).
        primary, shown = toolbar.widgetForAction(self.train_action), self.train_action.text()
        widths = []
        for text in (TRAIN, CONTINUE, PAUSE):
            self.train_action.setText(text)
            widths.append(primary.sizeHint().width())
        self.train_action.setText(shown)
        primary.setFixedWidth(max(widths))

    def _build_layout(self) -> None:
        hint = QtWidgets.QLabel(HINT)
        hint.setWordWrap(True)
        hint.setStyleSheet("color:#333; padding:2px 6px")
        splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        splitter.addWidget(self.columns["left"])
        splitter.addWidget(self.columns["right"])
        central = QtWidgets.QWidget()
        layout = QtWidgets.QVBoxLayout(central)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(hint)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.timeline.bar)
        self.setCentralWidget(central)

        self.side_panel = SidePanel(self.settings_panel, self.tools)
        self.side_panel.setMinimumWidth(300)
        dock = QtWidgets.QDockWidget("Settings and tools", self)
        dock.setObjectName("side-dock")
        dock.setFeatures(QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        dock.setWidget(self.side_panel)
        self.addDockWidget(QtCore.Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.dock = dock

        self.progress_bar = self.training.progress_bar
        self.progress_label = self.training.progress_label
        self.source_label = QtWidgets.QLabel("")
        # Plain text: it names a dataset and a file, which come from outside.
        self.source_label.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        self.statusBar().addPermanentWidget(self.files.cancel_button)
        self.statusBar().addPermanentWidget(self.source_label)
        self.statusBar().addPermanentWidget(self.progress_label)
        self.statusBar().addPermanentWidget(self.progress_bar)

    # --- size and placement ---------------------------------------------------------------
    def _restore_or_fit(self) -> None:
        """The geometry and dock layout the user left, or a size that fits this screen."""
        geometry = self.settings.value(GEOMETRY_KEY)
        state = self.settings.value(DOCKS_KEY)
        if geometry is not None:
            # The arrangement first: it sets the smallest size the geometry may have.
            self.side_panel.arrange(tabbed=self.settings.value(TABBED_KEY, False)
                                    in (True, "true"))
            if self.restoreGeometry(geometry):
                if state is not None:
                    self.restoreState(state)
                self._check_fit_when_shown = True
                return
        self.fit_to(self.available_geometry())

    def available_geometry(self) -> QtCore.QRect:
        """The free area of the window's screen (without task bars and docks)."""
        screen = self.screen() or QtGui.QGuiApplication.primaryScreen()
        return (screen.availableGeometry() if screen is not None
                else QtCore.QRect(0, 0, *DEFAULT_SIZE))

    def showEvent(self, event: QtGui.QShowEvent) -> None:  # noqa: N802 - Qt's API
        super().showEvent(event)
        if self._check_fit_when_shown:
            # A geometry saved on another (larger) screen, or one the window system grew:
            # fit this screen instead, once the window's frame is known.
            self._check_fit_when_shown = False
            QtCore.QTimer.singleShot(0, self, self._fit_if_too_large)

    def _fit_if_too_large(self) -> None:
        available = self.available_geometry()
        if (self.frameGeometry().width() > available.width()
                or self.frameGeometry().height() > available.height()):
            self.fit_to(available)

    def fit_to(self, available: QtCore.QRect) -> None:
        """Sizes the window to fit `available` (a screen's free area) and arranges the docks:
        stacked when the screen is tall enough, as tabs (Tools first) when it is not."""
        # The frame (title bar, borders) must fit too: its size once shown, else a guess.
        frame = self.frameGeometry().size() - self.geometry().size()
        frame_w, frame_h = (frame.width(), frame.height()) if self.isVisible() else (8, 40)
        width = min(DEFAULT_SIZE[0], available.width() - frame_w)
        height = min(DEFAULT_SIZE[1], available.height() - frame_h)
        self.side_panel.arrange(tabbed=available.height() < STACK_DOCKS_FROM_HEIGHT)
        self.resizeDocks([self.dock], [max(300, min(460, available.width() // 4))],
                         QtCore.Qt.Orientation.Horizontal)
        # The minimum size of the new arrangement before resizing: the side panel's nested
        # layouts update only when their posted layout requests are handled.
        QtCore.QCoreApplication.sendPostedEvents(None, QtCore.QEvent.Type.LayoutRequest)
        self.layout().activate()
        self.resize(width, height)
        self.move(available.topLeft())

    def _save_geometry(self) -> None:
        self.settings.setValue(GEOMETRY_KEY, self.saveGeometry())
        self.settings.setValue(DOCKS_KEY, self.saveState())
        self.settings.setValue(TABBED_KEY, self.side_panel.tabbed)

    # --- files (the controller does the work) -------------------------------------------------
    def load_initial(self, path: str | None = None) -> None:
        """Opens `path`, or the pretrained models that ship with vae-gui."""
        self.files.open_checkpoint(path or str(PRETRAINED), ask=False)

    def open_checkpoint(self, path: str) -> None:
        self.files.open_checkpoint(path)

    def save_checkpoint(self, path: str) -> None:
        self.files.save_checkpoint(path)

    def export_codes(self, path: str) -> None:
        self.files.export_codes(path)

    def follow(self, folder: str) -> None:
        self.files.follow(folder)

    def start_shapes_demo(self) -> None:
        """Fills the settings with the colour shapes demo's (a convolutional pair on colour
        images generated on the fly) and trains it from scratch, as Train would."""
        from vae_gui.model.shapes import DEMO_MODEL, DEMO_TRAINING

        self.settings_panel.show_configs("shapes", DEMO_MODEL, DEMO_TRAINING)
        self.train_action.trigger()

    def recent_files(self) -> list[str]:
        return self.files.recent_files()

    def export_png(self, path: str, widget: QtWidgets.QWidget | None = None,
                   legend: QtWidgets.QWidget | None = None) -> bool:
        """Saves the window (or one panel, under `legend`) as a PNG at twice the screen's
        resolution, or as an SVG when `path` ends in .svg; False and a dialog on failure."""
        try:
            export_widget(widget or self, path, legend)
        except OSError as exc:
            self.last_export_problem = write_problem(exc)
            self.show_error("Could not export",
                            f"{path} could not be written: {self.last_export_problem}.")
            return False
        self.last_export_problem = ""
        self.statusBar().showMessage(f"Exported {path}", 5000)
        return True

    def _export_widget(self, widget: QtWidgets.QWidget | None, name: str,
                       legend: QtWidgets.QWidget | None = None) -> None:
        default = str(Path(self.files.last_folder()) / (name.replace(" ", "-") + ".png"))
        path, chosen = QtWidgets.QFileDialog.getSaveFileName(
            self, f"Export {name}", default,
            "PNG image, twice the screen's resolution (*.png);;SVG vector image (*.svg)")
        if path:
            if not path.lower().endswith((".png", ".svg")):
                path += ".svg" if "SVG" in chosen else ".png"
            self.export_png(path, widget, legend)

    def show_error(self, title: str, text: str) -> None:
        """A window-modal message that does not block the event loop (training goes on)."""
        box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Warning, title, text,
                                    QtWidgets.QMessageBox.StandardButton.Ok, self)
        # Plain text: messages quote paths, dataset and class names, which come from outside.
        box.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        box.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda _result: setattr(self, "error_box", None))
        self.error_box = box
        box.open()

    # --- views ----------------------------------------------------------------------------
    def _on_models_changed(self, _refit: bool) -> None:
        self.state.update_view(self.manifold, self.manifold.draw)
        if not self._shown_once:
            self._shown_once = True
            self.models_shown.emit()
            # The first Adam imports torch._dynamo (about 2 s): do it now, off the GUI
            # thread, rather than when the user first presses Train.
            if self.warm_up_training:
                self.runner.run(warm_up_training, lambda _: None, lambda _: None)

    def visible_region(self, which: str) -> Region:
        (x0, x1), (y0, y1) = self.columns[which].latent_plot.view_box.viewRange()
        return (x0, y0), (x1, y1)

    def inspect_point(self, index: int) -> None:
        """Shows test point `index` beside both reconstructions, and its posterior ellipse."""
        self.state.inspect(index)

    def show_dimensions(self, i: int, j: int) -> None:
        """Plots latent dimensions i and j (from 0); the others are held at 0."""
        self.pca_action.setChecked(False)
        self.state.set_options(projection_dims=(i, j))

    def _on_sample(self) -> None:
        self.tools.samples.new_samples()
        self.tools.show_tab(self.tools.samples)

    def _on_choose_dims(self) -> None:
        d = self.state.latent_dim
        if d < 2:
            self.show_error("Nothing to choose", "The latent space has one dimension.")
            return
        dialog = QtWidgets.QDialog(self)
        dialog.setWindowTitle("Dimensions to show")
        i = QtWidgets.QSpinBox(minimum=1, maximum=d, value=1)
        j = QtWidgets.QSpinBox(minimum=1, maximum=d, value=2)
        form = QtWidgets.QFormLayout(dialog)
        form.addRow("horizontal: z", i)
        form.addRow("vertical: z", j)
        form.addRow(QtWidgets.QLabel("The other dimensions are held at 0, the prior's mean."))
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Ok
                                             | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(dialog.accept)
        buttons.rejected.connect(dialog.reject)
        form.addRow(buttons)
        if dialog.exec() and i.value() != j.value():
            self.show_dimensions(i.value() - 1, j.value() - 1)

    # --- lifecycle ------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """Whether a training thread or a background job is still running."""
        return self.session.busy or any(runner.busy for runner in self._runners())

    def _runners(self) -> list:
        """Every background runner: file loads and saves, the evidence, the posteriors."""
        return [self.runner, self.evidence.runner, self.cloud_choice.runner, self.movie.runner,
                self.timeline.runner, self.sweep.runner, self.compare.runner,
                *(posterior.runner for posterior in self._posteriors())]

    def _posteriors(self) -> list:
        """The posterior maps of the Inspect and Draw tabs that have been built."""
        tabs = (self.tools.built(title) for title in (InspectTab.title, DrawTab.title))
        return [tab.posterior for tab in tabs if tab is not None]

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        """Closes without blocking: training and loads are asked to stop, the window hides,
        and it closes for good (emitting `closed`) once every thread has ended."""
        if not self._closing:
            if not self._close_without_asking and not self.guard.confirm("Close"):
                event.ignore()
                return
            self._closing = True
            self.manifold.stop()
            self.state.cancel_updates()
            for column in self.columns.values():
                column.stop()
            self.training.shutdown()
            self.files.shutdown()
            self.cloud_choice.shutdown()
            self.movie.shutdown()
            self.timeline.shutdown()
            self.sweep.shutdown()
            self.compare.shutdown()
            self.evidence.shutdown()
            for posterior in self._posteriors():
                posterior.shutdown()
            self.session.idle.connect(self._close_when_idle)
            for runner in self._runners():
                runner.idle.connect(self._close_when_idle)
        if self.isVisible():
            self._save_geometry()
        if self.busy:
            event.ignore()
            self.hide()
            return
        super().closeEvent(event)
        if not self._closed:
            self._closed = True
            self.closed.emit()

    def close_without_asking(self) -> None:
        """Closes for a signal (Ctrl-C, SIGTERM) or a script: nobody is there to answer."""
        self._close_without_asking = True
        self.close()

    def _close_when_idle(self) -> None:
        if not self.busy and not self._closed:
            self.close()
