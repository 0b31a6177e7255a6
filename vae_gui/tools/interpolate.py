"""Tools ▸ Interpolate: decoded images along a path between two pinned latent points."""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtWidgets

from vae_gui.explorer_state import DEFAULT_NAMES, MODELS, ExplorerState
from vae_gui.model.latent import decode_images, interpolate, mosaic
from vae_gui.tools.image_pair import name_views
from vae_gui.views.decoded_image import DecodedImage


class InterpolateTab(QtWidgets.QWidget):
    """Pins ends A and B (the cursor, or the inspected point); both models decode the path."""

    title = "Interpolate"
    path_changed = QtCore.Signal()

    def __init__(self, state: ExplorerState) -> None:
        super().__init__()
        self.state = state
        self.ends: list[np.ndarray | None] = [None, None]
        buttons = QtWidgets.QGridLayout()
        for k, name in enumerate("AB"):
            b = QtWidgets.QPushButton(f"Pin cursor as {name}")
            b.clicked.connect(lambda _=False, k=k: self.pin(k, self.state.cursor_z))
            buttons.addWidget(b, 0, k)
            t = QtWidgets.QPushButton(f"Inspected point as {name}")
            t.clicked.connect(lambda _=False, k=k: self.pin(k, self._inspected_z()))
            buttons.addWidget(t, 1, k)
        self.spherical = QtWidgets.QCheckBox("spherical (great circle)")
        self.spherical.setToolTip(
            "Spherical: the direction from the origin turns along the great circle from A's "
            "direction to B's while the length goes in a straight line from |A| to |B|, so "
            "each point's distance from the origin lies between the ends'. (For opposite "
            "directions, one fixed circle of the many.) Unchecked: a straight line from A to "
            "B, which can pass closer to the origin. In one dimension, or with an end at the "
            "origin, both are the same straight line.")
        self.spherical.toggled.connect(lambda _: self._changed())
        self.steps = QtWidgets.QSpinBox(minimum=3, maximum=20, value=10)
        self.steps.valueChanged.connect(lambda _: self._changed())
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.spherical)
        row.addWidget(QtWidgets.QLabel("steps"))
        row.addWidget(self.steps)
        self.note = QtWidgets.QLabel("Pin two end points: the path is drawn on both plots.")
        self.note.setWordWrap(True)
        self.strips = {}
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addLayout(row)
        layout.addWidget(self.note)
        for which in MODELS:
            self.strips[which] = DecodedImage(f"{DEFAULT_NAMES[which]} along the path")
            self.strips[which].setMinimumHeight(90)
            layout.addWidget(self.strips[which], 1)

    def _inspected_z(self) -> np.ndarray | None:
        state = self.state
        if state.inspected is None or state.snapshot is None:
            return None
        return np.array(state.encoded("right")[state.inspected])

    def pin(self, k: int, z: np.ndarray | None) -> None:
        if z is None:
            self.note.setText("Click a point first, then pin it.")
            return
        self.ends[k] = np.asarray(z, dtype=np.float32).copy()
        self._changed()

    def path(self) -> np.ndarray | None:
        """The latent points along the path, or None until both ends are pinned."""
        a, b = self.ends
        if a is None or b is None or len(a) != len(b):
            return None
        return interpolate(a, b, self.steps.value(), self.spherical.isChecked())

    def _changed(self) -> None:
        self.refresh()
        self.path_changed.emit()

    def refresh(self) -> None:
        state = self.state
        path = self.path()
        if state.snapshot is None or path is None or path.shape[1] != state.latent_dim:
            return
        self.note.setText("Path drawn on both plots (A: \u25cb, B: \u25a1).")
        name_views(self.strips, state, "{name}{sep}along the path")
        for which, strip in self.strips.items():
            images = decode_images(state.model(which), path, state.image_shape)
            strip.set_image(mosaic(images, 1, len(path), gap=1))
