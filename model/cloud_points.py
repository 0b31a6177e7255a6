"""Which images the latent clouds show: the whole test split, and optionally the training
split after it, within a stated cap; and the images behind the points, without copying."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

# Points per cloud at most. 100,000 holds a 70k dataset (MNIST's 60,000 training and 10,000
# test images) whole; above it a fixed random subset is shown. Encoding is what grows with
# the points (about 0.5 s for 70k on two cores, benchmarks/bench_gui.py "points"): the
# trainer spaces its snapshots so that encoding stays within its share of training time.
MAX_CLOUD_POINTS = 100_000


@dataclass(frozen=True)
class CloudPoints:
    """The images a snapshot's points encode: the test split first (all of it, or a fixed
    random subset above `max_points`), then, with `include_train`, the training split's (all,
    or a fixed random subset of what the cap leaves)."""

    n_test: int  # images in the dataset's test split (held in memory)
    n_train: int  # and in its training split
    include_train: bool = False
    max_points: int = MAX_CLOUD_POINTS
    # The splits' whole sizes where fewer images are held (a folder streamed from disk holds
    # a fixed subset of each): what describe() counts the points out of.
    whole: tuple[int, int] | None = None

    @classmethod
    def of(cls, data, include_train: bool = False,
           max_points: int = MAX_CLOUD_POINTS) -> CloudPoints:
        """The points a cloud of `data` (a DatasetBundle) shows."""
        held = (len(data.test_images), len(data.train_images))
        whole = (data.n_test, data.n_train)
        return cls(*held, include_train, max_points, whole if whole != held else None)

    @functools.cached_property
    def test_index(self) -> np.ndarray:
        return _subset(self.n_test, self.max_points, seed=0)

    @functools.cached_property
    def train_index(self) -> np.ndarray:
        if not self.include_train:
            return np.zeros(0, dtype=np.int64)
        return _subset(self.n_train, self.max_points - len(self.test_index), seed=1)

    @property
    def test_count(self) -> int:
        """The points that come from the test split (the first ones)."""
        return len(self.test_index)

    @property
    def count(self) -> int:
        return len(self.test_index) + len(self.train_index)

    def describe(self) -> str:
        """How many points from which split, e.g. '10,000 test + 60,000 training images'."""
        n_test, n_train = self.whole or (self.n_test, self.n_train)
        test = f"{self.test_count:,} test"
        if self.test_count < n_test:
            test += f" (of {n_test:,})"
        if not self.include_train:
            return f"{test} images"
        train = f"{len(self.train_index):,} training"
        if len(self.train_index) < n_train:
            train += f" (of {n_train:,})"
        return f"{test} + {train} images"

    def split_of(self, index: int) -> tuple[str, int]:
        """('test' or 'training', the image's index in that split) of point `index`."""
        if index < self.test_count:
            return "test", int(self.test_index[index])
        return "training", int(self.train_index[index - self.test_count])

    def name(self, index: int) -> str:
        """Point `index` in words: 'test image 4,521' or 'training image 17'."""
        split, i = self.split_of(index)
        return f"{split} image {i:,}"

    def labels(self, test_labels: np.ndarray, train_labels: np.ndarray) -> np.ndarray:
        test = np.asarray(test_labels)[self.test_index]
        if not self.include_train:
            return test
        return np.concatenate([test, np.asarray(train_labels)[self.train_index]])

    def batches(self, test_x, train_x, size: int):
        """The points' images (any array or tensor indexable by an index array), `size` at a
        time, in point order: only one batch is ever copied."""
        for source, index in ((test_x, self.test_index), (train_x, self.train_index)):
            whole = len(index) == len(source)  # the whole split, in order: slices are views
            for start in range(0, len(index), size):
                if whole:
                    yield source[start:start + size]
                else:
                    yield source[_as_index(index[start:start + size], source)]


def _subset(n: int, k: int, seed: int) -> np.ndarray:
    """All of range(n), or a fixed random sorted subset of k of them."""
    if n <= k:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, max(k, 0), replace=False))


def _as_index(chunk: np.ndarray, source):
    """`chunk` as an index the source takes: numpy arrays take it as is; tensors want a
    tensor on their own device."""
    if isinstance(source, np.ndarray):
        return chunk
    import torch

    return torch.as_tensor(chunk, device=source.device)


class CloudImages:
    """The images behind a cloud's points, in point order, read from the dataset's arrays
    (a 70k cloud would otherwise copy 220 MB of pixels)."""

    def __init__(self, cloud: CloudPoints, test_images: np.ndarray,
                 train_images: np.ndarray) -> None:
        self.cloud = cloud
        self._test = test_images
        self._train = train_images

    def __len__(self) -> int:
        return self.cloud.count

    def __getitem__(self, index: int) -> np.ndarray:
        if not 0 <= index < len(self):
            raise IndexError(f"point {index} is not in a cloud of {len(self)}")
        split, i = self.cloud.split_of(index)
        return (self._test if split == "test" else self._train)[i]

    def test_images(self) -> np.ndarray:
        """The test split's images among the points (the evidence panel's held-out set)."""
        return self._test[self.cloud.test_index]
