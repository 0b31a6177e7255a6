"""Starting the window: command-line options, signals, screenshots and the event loop."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable

from PySide6 import QtCore, QtWidgets

from vae_gui.main_window import APP_NAME, MainWindow

SCREENSHOT_TIMEOUT_MS = 60000


def _close_on_signals(window: MainWindow) -> QtCore.QTimer:
    """Ctrl-C or SIGTERM closes the window cleanly (stopping training) instead of killing it."""
    def close(*_args) -> None:
        QtCore.QTimer.singleShot(0, window.close_without_asking)

    signal.signal(signal.SIGINT, close)
    signal.signal(signal.SIGTERM, close)
    # Python runs signal handlers only between bytecodes; a timer lets it in while Qt waits.
    timer = QtCore.QTimer(window)
    timer.timeout.connect(lambda: None)
    timer.start(200)
    return timer


FIRST_PAINT_WAIT_MS = 1000


class AfterFirstPaint(QtCore.QObject):
    """Calls `then` once, when the paint pass that follows the window's first paint event has
    finished, or after FIRST_PAINT_WAIT_MS if the window is never painted (minimised)."""

    def __init__(self, window: QtWidgets.QWidget, then: Callable[[], None]) -> None:
        super().__init__(window)
        self._then: Callable[[], None] | None = then
        window.installEventFilter(self)
        QtCore.QTimer.singleShot(FIRST_PAINT_WAIT_MS, self, self._fire)

    def eventFilter(self, watched: QtCore.QObject, event: QtCore.QEvent) -> bool:
        if event.type() == QtCore.QEvent.Type.Paint and self._then is not None:
            watched.removeEventFilter(self)
            QtCore.QTimer.singleShot(0, self, self._fire)  # after the whole paint pass
        return False

    def _fire(self) -> None:
        then, self._then = self._then, None
        if then is not None:
            then()


def _report_events(window: MainWindow) -> None:
    """With VAE_GUI_REPORT_EVENTS=1, prints one line on stdout when the models are first shown
    (`vae-gui: models shown`) and when training first runs (`vae-gui: training started`), so
    that tests and scripts driving the real app wait for these instead of sleeping."""
    if os.environ.get("VAE_GUI_REPORT_EVENTS") != "1":
        return

    def report(event: str) -> None:
        print(f"vae-gui: {event}", flush=True)

    def on_running(running: bool) -> None:
        if running:
            window.session.running_changed.disconnect(on_running)
            report("training started")

    window.models_shown.connect(lambda: report("models shown"))
    window.session.running_changed.connect(on_running)


# Qt messages that say nothing a user can act on (the offscreen platform cannot resize a
# window to its contents' hints, which no window here relies on).
QUIET_QT_MESSAGES = ("This plugin does not support propagateSizeHints()",)


def _qt_message(kind: QtCore.QtMsgType, _context, message: str) -> None:
    if message not in QUIET_QT_MESSAGES:
        print(message, file=sys.stderr)


def run_gui(args: argparse.Namespace, pending_signals: list[int] | None = None) -> int:
    """Shows the window first, then loads torch and the models in the background.

    `pending_signals` holds Ctrl-C or SIGTERM that arrived during start-up: they close the
    window as soon as it exists. `args` come from vae_gui.app's 'open' command."""
    import pyqtgraph as pg

    pg.setConfigOptions(antialias=False, foreground="k")
    QtCore.qInstallMessageHandler(_qt_message)
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    # The window hides at once on close but closes for good only when its threads have
    # ended (MainWindow.closeEvent): quit then, not when it hides.
    app.setQuitOnLastWindowClosed(False)
    window = MainWindow()
    window.warm_up_training = not args.screenshot or args.train or bool(args.demo)
    window.closed.connect(app.quit)
    window.show()
    _close_on_signals(window)
    _report_events(window)
    if pending_signals:
        QtCore.QTimer.singleShot(0, window.close_without_asking)
    exit_code = {"value": 0}
    # Once the pretrained models are shown (which fills the settings with theirs).
    if args.demo == "shapes":
        window.models_shown.connect(window.start_shapes_demo)
    elif args.train:
        window.models_shown.connect(window.train_action.trigger)
    if args.follow:
        window.models_shown.connect(lambda: window.follow(args.follow))
    if args.screenshot:
        def save_and_quit() -> None:
            QtWidgets.QApplication.processEvents()
            ok = window.export_png(args.screenshot)
            if not ok:
                print(f"vae-gui: could not save the screenshot to {args.screenshot}: "
                      f"{window.last_export_problem}.", file=sys.stderr)
            exit_code["value"] = 0 if ok else 1
            window.close_without_asking()

        def fail(message: str) -> None:
            print(f"vae-gui: {message}", file=sys.stderr)
            exit_code["value"] = 1
            window.close_without_asking()

        window.models_shown.connect(lambda: QtCore.QTimer.singleShot(300, save_and_quit))
        window.load_failed.connect(fail)
        # Never hang a script: give up when the models have not been drawn in time.
        shown: list[bool] = []
        window.models_shown.connect(lambda: shown.append(True))
        QtCore.QTimer.singleShot(SCREENSHOT_TIMEOUT_MS, window,
                                 lambda: None if shown else fail(
                                     "the models were not drawn in time; no screenshot saved"))
    # The loader thread imports torch, which competes with the first paint for the
    # interpreter: it starts once the window has painted (docs/benchmarks.md, Start-up).
    AfterFirstPaint(window, lambda: window.load_initial(args.checkpoint))
    app.exec()
    return exit_code["value"]
