"""The row under the plots that scrubs and replays the run: Play, a slider, the speed, the
moment shown and a button back to the present."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

# Moments shown per second by Play, by the speed box's entries.
SPEEDS = (("1 moment/s", 1.0), ("2 moments/s", 2.0), ("5 moments/s", 5.0),
          ("10 moments/s", 10.0), ("20 moments/s", 20.0))
DEFAULT_SPEED = 2  # 5 moments a second: a 30-epoch run replays in about 10 s


class TimelineBar(QtWidgets.QWidget):
    """Emits `moment_chosen(index)` when the slider is moved to a kept moment,
    `present_chosen` for the newest models, and `play_toggled` for Play/Pause."""

    moment_chosen = QtCore.Signal(int)
    present_chosen = QtCore.Signal()
    play_toggled = QtCore.Signal(bool)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.play_button = QtWidgets.QToolButton()
        self.play_button.setCheckable(True)
        self.play_button.setToolTip("Replay the run from the moment shown (or from its start "
                                    "when the present is shown)")
        self.play_button.toggled.connect(self._on_play_toggled)
        self.slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.slider.setToolTip("Drag to show the models as they were at any kept moment "
                               "of the run")
        self.slider.setMinimumWidth(120)
        self.slider.valueChanged.connect(self._on_slider)
        self.speed = QtWidgets.QComboBox()
        self.speed.addItems([label for label, _ in SPEEDS])
        self.speed.setCurrentIndex(DEFAULT_SPEED)
        self.speed.setToolTip("How fast Play replays the run")
        self.label = QtWidgets.QLabel("")
        self.label.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        # Wide enough for a long run's text, so that the slider keeps its length as it grows.
        self.label.setMinimumWidth(
            self.label.fontMetrics().horizontalAdvance("epoch 0000.00 \u00b7 0000/0000"))
        self.present_button = QtWidgets.QToolButton()
        self.present_button.setText("Present")
        self.present_button.setToolTip("Back to the newest models (and follow training)")
        self.present_button.clicked.connect(self.present_chosen)
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        title = QtWidgets.QLabel("Run:")
        title.setToolTip("The run's timeline: the moments kept while it trained")
        layout.addWidget(title)
        layout.addWidget(self.play_button)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.label)
        layout.addWidget(self.speed)
        layout.addWidget(self.present_button)
        self._set_play_text(False)

    @property
    def moments_per_second(self) -> float:
        return SPEEDS[self.speed.currentIndex()][1]

    def set_moments(self, count: int, index: int, text: str, at_present: bool) -> None:
        """Shows `count` kept moments with `index` chosen, without emitting anything."""
        blocked = self.slider.blockSignals(True)
        self.slider.setRange(0, max(count - 1, 0))
        self.slider.setValue(index)
        self.slider.blockSignals(blocked)
        self.slider.setEnabled(count > 1)
        self.play_button.setEnabled(count > 1)
        self.present_button.setEnabled(not at_present)
        self.label.setText(text)

    def set_playing(self, playing: bool) -> None:
        blocked = self.play_button.blockSignals(True)
        self.play_button.setChecked(playing)
        self.play_button.blockSignals(blocked)
        self._set_play_text(playing)

    def _set_play_text(self, playing: bool) -> None:
        self.play_button.setText("\u275a\u275a Pause" if playing else "\u25b6 Play")

    def _on_play_toggled(self, playing: bool) -> None:
        self._set_play_text(playing)
        self.play_toggled.emit(playing)

    def _on_slider(self, value: int) -> None:
        self.moment_chosen.emit(value)
