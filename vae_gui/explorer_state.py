"""The explorer state: what the window shows, held once, announced by signals.

Views and tools read from it and subscribe to it; they never reach into each other. It
holds only immutable values from the workers (snapshots, never a model being trained) and
the values derived from them for display (projections, the one-sample cloud), each in its
own field: a snapshot field always means what the trainer put there.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PySide6 import QtCore

from vae_gui.model.cloud_points import CloudImages
from vae_gui.model.latent import Projection, pca_projection, sample_posterior
from vae_gui.model.pair import SLOTS, distinct_labels
from vae_gui.workers.pacing import Turns

if TYPE_CHECKING:
    from vae_gui.model.config import ModelConfig, TrainConfig
    from vae_gui.model.data import DatasetBundle
    from vae_gui.model.training import Column, Snapshot

# The two columns. Each holds an AE or a VAE (of any β, or from a checkpoint): what a view
# shows for one depends on its column's model, never on its place.
MODELS = SLOTS
DEFAULT_NAMES = {"left": "AE", "right": "VAE"}  # before any snapshot: the default pair
# While a cursor is dragged during training, what the snapshots bring waits until the drag
# pauses for DRAG_QUIET_S or ends, and never longer than DRAG_MOST_S: a move then never
# queues behind a redraw (a snapshot brings about ten pieces of 2 to 8 ms here, each with a
# repaint), and the cloud under the cursor holds still while the user explores it. With a
# catch-up every second instead of 5, the p95 of a move to the screen while training was 14.8
# and 20.8 ms, against 9.8 and 10.8 ms with none (docs/benchmarks.md, round five).
DRAG_QUIET_S = 0.15
DRAG_MOST_S = 5.0
_SHOW = "show"  # the Turns key of a snapshot held back by a drag


@dataclass(frozen=True, eq=False)
class ModelsOrigin:
    """Where the models on screen come from and what they were trained on."""

    dataset: str  # what load_dataset takes to load the data again (saved in checkpoints)
    class_names: tuple[str, ...]
    image_shape: tuple[int, int]
    cloud_images: CloudImages  # the images behind the plotted points, in the same order
    model_config: ModelConfig
    train_config: TrainConfig | None
    source: str  # a checkpoint's path, or "training"
    # The dataset, for the evidence panel (its classifier trains on the training split, and
    # the bound is measured on training images too); None where it is not at hand.
    data: DatasetBundle | None = None


@dataclass(frozen=True)
class ViewOptions:
    """How the clouds are shown; every one is a View menu entry."""

    link_cursors: bool = True
    same_scale: bool = False  # each plot at its own scale: both clouds readable
    sampled_cloud: bool = False  # one z ~ q(z|x) per point instead of the means
    fade_uncertain: bool = False
    manifold_overlay: bool = False
    projection_dims: tuple[int, int] | None = None  # None: PCA above two dimensions
    density: bool = False  # clouds as a density image rather than dots
    # The VAE's histograms: the aggregate posterior (one z ~ q(z|x) per point, what should
    # match N(0, 1)) by default, or the means alone.
    marginal_means: bool = False
    train_points: bool = False  # the clouds show the training split after the test split


class ExplorerState(QtCore.QObject):
    """The newest snapshot, its origin, the projections, the cursor, the inspected point and
    the view options. Changing any of them emits the matching signal."""

    models_changed = QtCore.Signal(bool)  # a new snapshot or origin; True: refit the views
    cursor_changed = QtCore.Signal(str)  # which column's cursor moved ('left' or 'right')
    inspected_changed = QtCore.Signal(object)  # a test point's index, or None
    options_changed = QtCore.Signal()

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.snapshot: Snapshot | None = None
        self.origin: ModelsOrigin | None = None
        self.options = ViewOptions()
        self.projections: dict[str, Projection] = {}
        # Derived: one draw of each q(z|x), for each column that holds a VAE.
        self.sampled_z: dict[str, np.ndarray] = {}
        self.cursors: dict[str, np.ndarray] = {}  # which -> the full latent point z at its cursor
        self.live = False  # the snapshot comes from a run that is training now
        self.inspected: int | None = None
        self._turns = Turns(self)
        self._held_refit = False  # whether a snapshot held back by a drag asked for a refit

    def update_view(self, key: object, fn: Callable[[], object]) -> None:
        """Runs a view's redraw `fn` now; while training, in an event-loop turn of its own
        (see Turns), so that the work one snapshot brings never blocks input for long. A
        redraw still waiting is replaced by the newer one (`key` names it)."""
        if self.live:
            self._turns.add(key, fn)
        else:
            self._turns.drop(key)
            fn()

    def cancel_updates(self) -> None:
        """Drops redraws still waiting (the window is closing)."""
        self._turns.cancel()

    def hold_updates(self) -> None:
        """A cursor is being dragged: while training, new snapshots and redraws wait for the
        drag to pause (see DRAG_QUIET_S), so that the decoded images follow it at once."""
        if self.live:
            self._turns.hold(DRAG_QUIET_S, DRAG_MOST_S)

    def release_updates(self) -> None:
        """The drag ended: what waited for it is drawn now."""
        self._turns.release()

    # --- reading ------------------------------------------------------------------------
    def column(self, which: str) -> Column:
        """The newest snapshot's column `which` ('left' or 'right')."""
        return self.snapshot.columns[SLOTS.index(which)]

    def model(self, which: str):
        """The frozen model of column `which` in the newest snapshot."""
        return self.column(which).model

    def variational(self, which: str) -> bool:
        """Whether column `which` holds a VAE (False before any snapshot on the left)."""
        if self.snapshot is None:
            return which == "right"
        return self.column(which).variational

    def name(self, which: str) -> str:
        """How the window names column `which`: "AE", "VAE", "VAE β=4", "A: VAE"."""
        return DEFAULT_NAMES[which] if self.snapshot is None else self.column(which).name

    def label(self, which: str) -> str:
        """`name`, followed by the column ("VAE β=1 (left)") where both columns' names are
        the same: for menus and captions that must tell the columns apart."""
        return distinct_labels(self.name(w) for w in MODELS)[MODELS.index(which)]

    def encoded(self, which: str) -> np.ndarray:
        """The encoded test set of one model: an AE's codes or a VAE's means."""
        return self.column(which).mu

    def logvar(self, which: str) -> np.ndarray | None:
        """A VAE's log-variances of the encoded test set; None for an AE."""
        return self.column(which).logvar

    def plotted(self, which: str) -> np.ndarray:
        """The points each plot shows: as `encoded`, or a VAE's one-sample cloud."""
        if self.options.sampled_cloud and which in self.sampled_z:
            return self.sampled_z[which]
        return self.encoded(which)

    def marginal_points(self, which: str) -> np.ndarray:
        """The points the histograms show: an AE's codes; for a VAE one draw of each
        q(z|x) (a sample of the aggregate posterior), or its means when asked."""
        if which in self.sampled_z and not self.options.marginal_means:
            return self.sampled_z[which]
        return self.encoded(which)

    @property
    def cursor_z(self) -> np.ndarray | None:
        """The right column's cursor z (the tools pin and decode this one)."""
        return self.cursors.get("right")

    @property
    def latent_dim(self) -> int:
        return int(self.snapshot.left.mu.shape[1]) if self.snapshot is not None else 2

    @property
    def image_shape(self) -> tuple[int, int]:
        return self.origin.image_shape if self.origin is not None else (28, 28)

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.origin.class_names if self.origin is not None else ()

    # --- changing -----------------------------------------------------------------------
    def show(self, snapshot: Snapshot, origin: ModelsOrigin | None = None,
             refit: bool = False, live: bool = False) -> None:
        """Shows `snapshot` (and, when given, a new origin: a load, or a new training run);
        `live` while it comes from a run that is training now (views may redraw less, and
        wait while a cursor is dragged: see hold_updates)."""
        if live and origin is None and self._turns.holding():
            # Shown whole once the drag pauses: the cloud, the projection and the models
            # under the dragged cursor stay those of one snapshot meanwhile.
            self._held_refit = self._held_refit or refit
            self._turns.add(_SHOW, lambda: self._show_held(snapshot, live))
            return
        self._turns.drop(_SHOW)  # an older snapshot held back must not follow this one
        refit, self._held_refit = refit or self._held_refit, False
        old_dim = self.latent_dim if self.snapshot is not None else None
        self.snapshot = snapshot
        self.live = live
        if origin is not None:
            self.origin = origin
        self._match_images(snapshot)
        self._derive()
        if old_dim != self.latent_dim:
            refit = True
        if self.inspected is not None and self.inspected >= len(snapshot.labels):
            self.inspected = None  # fewer points now (the training split left the cloud)
        self.models_changed.emit(refit)

    def _show_held(self, snapshot: Snapshot, live: bool) -> None:
        self.show(snapshot, refit=False, live=live and self.live)

    def set_options(self, **changes) -> None:
        """Changes view options by name (see ViewOptions); redraws once."""
        new = dataclasses.replace(self.options, **changes)
        if new == self.options:
            return
        refit = new.projection_dims != self.options.projection_dims
        self.options = new
        self.options_changed.emit()
        if self.snapshot is not None:
            self._derive()
            self.models_changed.emit(refit)

    def move_cursor(self, which: str, z: np.ndarray) -> None:
        self.cursors[which] = np.asarray(z, dtype=np.float32).copy()
        self.cursor_changed.emit(which)

    def inspect(self, index: int | None) -> None:
        self.inspected = index
        self.inspected_changed.emit(index)

    def _match_images(self, snapshot: Snapshot) -> None:
        """Keeps the images behind the points those of the snapshot's points (a run that
        starts encoding the training split too, say)."""
        o = self.origin
        if o is None or o.data is None or snapshot.cloud is None:
            return
        if o.cloud_images.cloud != snapshot.cloud:
            self.origin = dataclasses.replace(o, cloud_images=CloudImages(
                snapshot.cloud, o.data.test_images, o.data.train_images))

    def _derive(self) -> None:
        """Projections and the one-sample cloud, from the snapshot and the options."""
        s = self.snapshot
        self.projections = {w: self._projection_for(c.mu)
                            for w, c in zip(SLOTS, s.columns, strict=True)}
        # Always derived (milliseconds): the histograms show it by default.
        self.sampled_z = {w: sample_posterior(c.mu, c.logvar)
                          for w, c in zip(SLOTS, s.columns, strict=True) if c.variational}

    def _projection_for(self, codes: np.ndarray) -> Projection:
        d = codes.shape[1]
        if d <= 2:
            return Projection.axes(d)
        dims = self.options.projection_dims
        if dims is not None and max(dims) < d:
            return Projection.axes(d, *dims)
        return pca_projection(codes)
