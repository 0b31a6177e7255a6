"""A run's history: the snapshots it published, kept within a memory budget.

Every snapshot is immutable (frozen models, read-only arrays), so keeping one is keeping a
reference; what it costs is its models' weights and its encoded points. When the kept
snapshots would cost more than the budget, the one whose loss leaves the smallest gap is
dropped: intermediate snapshots before those that end an epoch, and never the first or the
newest. So a long run keeps evenly spread moments, epochs first.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # light: the window imports this before torch is loaded
    from vae_gui.model.training import Snapshot

DEFAULT_MAX_BYTES = 200 * 1024 * 1024
MIN_MOMENTS = 2  # the first and the newest, whatever they cost


def snapshot_bytes(snapshot: Snapshot) -> int:
    """What keeping `snapshot` costs: both models' weights and buffers, and its arrays."""
    total = 0
    for model in snapshot.models:
        total += sum(t.numel() * t.element_size() for t in model.state_dict().values())
    arrays = [a for c in snapshot.columns for a in (c.mu, c.logvar) if a is not None]
    arrays += [snapshot.labels, snapshot.train_curve]
    return total + sum(int(np.asarray(a).nbytes) for a in arrays)


def ends_an_epoch(snapshot: Snapshot) -> bool:
    """Whether the snapshot was taken at an epoch's end (or before the first step)."""
    return snapshot.epoch == int(snapshot.epoch)


@dataclass(frozen=True)
class Moment:
    """One kept snapshot and what keeping it costs."""

    snapshot: Snapshot
    nbytes: int
    epoch_end: bool

    @property
    def step(self) -> int:
        return self.snapshot.step


class Timeline:
    """The kept snapshots of one run, oldest first, within `max_bytes`."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_bytes <= 0:
            raise ValueError(f"the timeline's budget must be positive, not {max_bytes}")
        self.max_bytes = int(max_bytes)
        self._moments: list[Moment] = []
        self.dropped = 0  # moments dropped to stay within the budget

    def __len__(self) -> int:
        return len(self._moments)

    def __iter__(self) -> Iterator[Snapshot]:
        return (m.snapshot for m in self._moments)

    def __getitem__(self, index: int) -> Snapshot:
        return self._moments[index].snapshot

    @property
    def nbytes(self) -> int:
        return sum(m.nbytes for m in self._moments)

    @property
    def steps(self) -> list[int]:
        return [m.step for m in self._moments]

    def clear(self) -> None:
        self._moments.clear()
        self.dropped = 0

    def add(self, snapshot: Snapshot) -> bool:
        """Keeps `snapshot` as the newest moment; returns whether the earlier moments changed
        (one replaced at the same step, or some dropped for the budget)."""
        moment = Moment(snapshot, snapshot_bytes(snapshot), ends_an_epoch(snapshot))
        changed = False
        # A run that goes back in steps (a reset, or a continued run from an earlier
        # checkpoint) starts over; the same step again (a stop right after a snapshot)
        # replaces the moment.
        while self._moments and self._moments[-1].step >= moment.step:
            self._moments.pop()
            changed = True
        self._moments.append(moment)
        while self.nbytes > self.max_bytes and len(self._moments) > MIN_MOMENTS:
            self._moments.pop(self._least_missed())
            self.dropped += 1
            changed = True
        return changed

    def index_at_or_before(self, step: int) -> int:
        """The index of the newest moment at or before `step` (0 if none is)."""
        steps = self.steps
        return max(0, int(np.searchsorted(steps, step, side="right")) - 1)

    def _least_missed(self) -> int:
        """The index of the inner moment whose loss leaves the smallest gap in steps,
        an intermediate one before one that ends an epoch."""
        inner = range(1, len(self._moments) - 1)
        candidates = [i for i in inner if not self._moments[i].epoch_end] or list(inner)

        def gap(i: int) -> tuple[int, int]:
            return (self._moments[i + 1].step - self._moments[i - 1].step, i)

        return min(candidates, key=gap)
