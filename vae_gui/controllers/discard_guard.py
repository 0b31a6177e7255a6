"""Asks before models trained in this window, and not saved since, are thrown away."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from vae_gui.explorer_state import ExplorerState

ASK_SETTING = "ask_before_discarding"


class DiscardGuard(QtCore.QObject):
    """Knows whether the models on screen were trained here and are unsaved, and asks (with
    "Don't ask again") before an action replaces them."""

    def __init__(self, state: ExplorerState, settings: QtCore.QSettings,
                 window: QtWidgets.QWidget) -> None:
        super().__init__(window)
        self.state = state
        self.settings = settings
        self.window = window
        self._saved_step: int | None = None  # the training step last saved, if any

    @property
    def unsaved(self) -> bool:
        """Models trained in this window (at least one step) that no save holds."""
        s, origin = self.state.snapshot, self.state.origin
        return (s is not None and origin is not None and origin.source == "training"
                and s.step > 0 and s.step != self._saved_step)

    def mark_saved(self, step: int) -> None:
        self._saved_step = step

    def forget(self) -> None:
        """Other models are shown now: nothing of the old run counts as saved."""
        self._saved_step = None

    def confirm(self, action: str) -> bool:
        """True when `action` may go ahead: nothing unsaved, the user said not to ask, or
        the user chose to discard."""
        if not self.unsaved or self.settings.value(ASK_SETTING, True) in (False, "false"):
            return True
        step = self.state.snapshot.step
        box = QtWidgets.QMessageBox(
            QtWidgets.QMessageBox.Icon.Question, "Discard the trained models?",
            f"The models on screen were trained in this window ({step:,} steps) and are not "
            f"saved. {action} replaces them.\n\nKeep them with File \u25b8 Save first, or "
            "discard them.", QtWidgets.QMessageBox.StandardButton.NoButton, self.window)
        discard = box.addButton(f"Discard and {action[0].lower()}{action[1:]}",
                                QtWidgets.QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QtWidgets.QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QtWidgets.QMessageBox.StandardButton.Cancel)
        # Kept in a name while the box lives: PySide6 does not hand a temporary's ownership
        # to setCheckBox, and the box would be left with a deleted check box.
        dont_ask = QtWidgets.QCheckBox("Don't ask again", box)
        box.setCheckBox(dont_ask)
        box.exec()
        if box.clickedButton() is not discard:
            return False
        if dont_ask.isChecked():
            self.settings.setValue(ASK_SETTING, False)
        return True
