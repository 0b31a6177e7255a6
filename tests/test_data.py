"""Datasets: the embedded mnist5k, torchvision's IDX files (written here, never downloaded),
.npz files and folders of images, and a DatasetError that says what to do for each problem."""

from __future__ import annotations

import gzip
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from dataset_files import damage as _damage
from dataset_files import write_idx
from dataset_files import write_torchvision_layout as _write_torchvision_layout
from vae_gui.model.data import BUILTIN_DATASETS, load_dataset, stratified_split
from vae_gui.model.errors import DatasetError

SHARED_T10K = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist-t10k"
LAYOUTS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST", "kmnist": "KMNIST"}


@pytest.fixture(autouse=True)
def _offline(no_network):
    """No test here may reach the network (the fixture is in conftest.py)."""


def _check_bundle(bundle, n_train, n_test, side=28, n_classes=10):
    assert bundle.train_images.shape == (n_train, side, side)
    assert bundle.test_images.shape == (n_test, side, side)
    assert bundle.train_labels.shape == (n_train,) and bundle.test_labels.shape == (n_test,)
    assert bundle.image_shape == (side, side)
    assert len(bundle.class_names) == n_classes
    for images in (bundle.train_images, bundle.test_images):
        assert images.dtype == np.float32
        assert images.min() >= 0.0 and images.max() <= 1.0
        assert not images.flags.writeable
    for labels in (bundle.train_labels, bundle.test_labels):
        assert labels.dtype == np.int64 and labels.min() >= 0 and labels.max() < n_classes


# ------------------------------------------------------------------------------- mnist5k


def test_mnist5k_has_the_documented_shapes(mnist5k):
    _check_bundle(mnist5k, 4000, 1000)
    assert mnist5k.name == "mnist5k"
    assert mnist5k.class_names == tuple(str(d) for d in range(10))
    assert np.bincount(mnist5k.train_labels).tolist() == [400] * 10
    assert np.bincount(mnist5k.test_labels).tolist() == [100] * 10
    assert mnist5k.train_images.max() == 1.0  # scaled from 0..255, not left at 0..255
    # Real digits: mostly black background, a bright stroke of 10-25% of the pixels.
    assert 0.08 < (mnist5k.train_images > 0.5).mean() < 0.25


def test_mnist5k_loads_the_same_twice():
    a, b = load_dataset("mnist5k"), load_dataset("mnist5k")
    assert np.array_equal(a.train_images, b.train_images)
    assert np.array_equal(a.test_labels, b.test_labels)


def test_stratified_split_keeps_class_shares_and_is_reproducible():
    labels = np.repeat(np.arange(4), [10, 20, 30, 40])
    train, test = stratified_split(labels, 0.2, seed=5)
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(100))
    assert np.bincount(labels[test]).tolist() == [2, 4, 6, 8]
    again = stratified_split(labels, 0.2, seed=5)
    assert np.array_equal(train, again[0]) and np.array_equal(test, again[1])


# -------------------------------------------------------------------------- torchvision


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_torchvision_sets_load_from_idx_files(tmp_path, name):
    import torchvision

    raw, arrays = _write_torchvision_layout(tmp_path, LAYOUTS[name])
    bundle = load_dataset(name, data_root=tmp_path)
    _check_bundle(bundle, 30, 10)
    assert bundle.name == name
    assert bundle.class_names == tuple(getattr(torchvision.datasets, LAYOUTS[name]).classes)
    assert np.array_equal(bundle.train_labels, arrays["train"][1])
    assert np.array_equal(bundle.test_labels, arrays["t10k"][1])
    np.testing.assert_allclose(bundle.test_images, arrays["t10k"][0] / 255.0, atol=1e-7)


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_missing_files_offline_raise_dataset_error_saying_what_to_do(tmp_path, monkeypatch,
                                                                     name):
    import socket

    import torchvision

    # Offline, a download fails at its first step, the host name lookup: record each one.
    lookups = []

    def offline_lookup(host, *args, **kwargs):
        lookups.append(host)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", offline_lookup)
    started = time.perf_counter()
    with pytest.raises(DatasetError) as info:
        load_dataset(name, data_root=tmp_path / "empty")
    message = str(info.value)
    assert "could not be downloaded" in message and "Connect to the internet once" in message
    assert "train-images-idx3-ubyte" in message
    assert str(tmp_path / "empty" / LAYOUTS[name] / "raw") in message
    # No waiting on a network that is not there: one try of each mirror for the first file,
    # whose failure is the reason given, and no retries.
    assert "Temporary failure in name resolution" in message
    assert len(lookups) == len(getattr(torchvision.datasets, LAYOUTS[name]).mirrors)
    assert time.perf_counter() - started < 60  # a bound for a hang only


def test_files_for_one_set_do_not_count_for_another(tmp_path):
    _write_torchvision_layout(tmp_path, "MNIST")
    with pytest.raises(DatasetError, match="could not be downloaded"):
        load_dataset("kmnist", data_root=tmp_path)


@pytest.mark.parametrize("how", ["truncated-images", "truncated-header", "empty-images",
                                 "bad-magic", "labels-are-images", "fewer-labels",
                                 "label-out-of-range"])
def test_corrupt_or_truncated_idx_files_raise_dataset_error(tmp_path, how):
    raw, _ = _write_torchvision_layout(tmp_path, "MNIST")
    _damage(raw, how)
    with pytest.raises(DatasetError) as info:
        load_dataset("mnist", data_root=tmp_path)
    message = str(info.value)
    assert "damaged" in message or "labels outside" in message, message


@pytest.mark.skipif(not SHARED_T10K.is_dir(), reason="../shared/data/mnist-t10k is not here "
                    "(it is optional, beside the project, never in it)")
def test_real_mnist_test_set_through_the_torchvision_loader(tmp_path):
    # The real t10k files, unpacked into a temporary root; the training split is a slice of
    # them written back as IDX, since only the test split is available without a network.
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        with gzip.open(SHARED_T10K / f"{name}.gz") as src, open(raw / name, "wb") as dst:
            shutil.copyfileobj(src, dst)
    import torchvision.datasets.mnist as tv_mnist

    images = tv_mnist.read_image_file(str(raw / "t10k-images-idx3-ubyte")).numpy()
    labels = tv_mnist.read_label_file(str(raw / "t10k-labels-idx1-ubyte")).numpy()
    write_idx(raw / "train-images-idx3-ubyte", images[:500])
    write_idx(raw / "train-labels-idx1-ubyte", labels[:500].astype(np.uint8))
    bundle = load_dataset("mnist", data_root=tmp_path)
    _check_bundle(bundle, 500, 10_000)
    counts = np.bincount(bundle.test_labels)
    assert counts.sum() == 10_000 and counts.min() > 850  # every digit, roughly balanced
    assert bundle.class_names[0] == "0 - zero"


# ------------------------------------------------------------------------ .npz and folders


def _digits(n, side=28, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, side, side), dtype=np.uint8), np.arange(n) % 5


def test_npz_with_images_and_labels_loads_with_a_stratified_split(tmp_path):
    images, labels = _digits(50)
    path = tmp_path / "mine.npz"
    np.savez(path, images=images, labels=labels)
    bundle = load_dataset(str(path))
    _check_bundle(bundle, 40, 10, n_classes=5)
    assert bundle.name == "mine" and bundle.class_names == ("0", "1", "2", "3", "4")
    assert np.bincount(bundle.test_labels).tolist() == [2] * 5


def test_npz_with_float_images_and_class_names(tmp_path):
    images, labels = _digits(20)
    path = tmp_path / "floats.npz"
    np.savez(path, images=images / 255.0, labels=labels,
             class_names=np.array(["a", "b", "c", "d", "e"]))
    bundle = load_dataset(str(path))
    assert bundle.class_names == ("a", "b", "c", "d", "e")
    assert bundle.train_images.max() <= 1.0 and bundle.train_images.max() > 0.9


def test_npz_with_its_own_train_and_test_split(tmp_path):
    images, labels = _digits(30)
    path = tmp_path / "split.npz"
    np.savez(path, train_images=images[:20], train_labels=labels[:20],
             test_images=images[20:], test_labels=labels[20:])
    bundle = load_dataset(str(path))
    _check_bundle(bundle, 20, 10, n_classes=5)
    np.testing.assert_allclose(bundle.test_images, images[20:] / 255.0, atol=1e-7)


def _png(path: Path, size, color, mode="RGB") -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color).save(path)


def test_folder_of_images_is_resized_and_made_grayscale(tmp_path):
    root = tmp_path / "shapes"
    for i in range(5):
        _png(root / "red" / f"{i}.png", (40 + i, 30), (255, 0, 0))  # odd sizes, colour
        _png(root / "white" / f"{i}.PNG", (20, 20), 255, mode="L")
    (root / "white" / "notes.txt").write_text("not an image")  # ignored
    (root / ".hidden").mkdir()  # not a class
    _png(root / "white" / ".thumbnail.png", (5, 5), 0, mode="L")  # hidden: ignored
    bundle = load_dataset(str(root), image_size=16)
    _check_bundle(bundle, 8, 2, side=16, n_classes=2)
    assert bundle.class_names == ("red", "white")
    images = np.concatenate([bundle.train_images, bundle.test_images])
    labels = np.concatenate([bundle.train_labels, bundle.test_labels])
    # Pure red in grayscale is 0.299 * 255 = 76 (ITU-R 601-2 luma, as PIL converts to "L").
    np.testing.assert_allclose(images[labels == 0], 76 / 255, atol=1 / 255)
    np.testing.assert_allclose(images[labels == 1], 1.0)


@pytest.mark.parametrize("setup, fragment", [
    ("empty-folder", "no sub-folders"),
    ("no-images", "fewer than two readable images"),
    ("one-per-class", "no test images.*at least 3 images"),
    ("broken-png", "Could not read image"),
], ids=["empty-folder", "no-images", "one-per-class", "broken-png"])
def test_bad_folders_raise_dataset_error(tmp_path, setup, fragment):
    root = tmp_path / "data"
    root.mkdir()
    if setup == "no-images":
        (root / "a").mkdir()
        (root / "a" / "readme.txt").write_text("x")
    elif setup == "one-per-class":
        _png(root / "a" / "1.png", (8, 8), 0, mode="L")
        _png(root / "b" / "1.png", (8, 8), 0, mode="L")
    elif setup == "broken-png":
        _png(root / "a" / "1.png", (8, 8), 0, mode="L")
        (root / "a" / "2.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with pytest.raises(DatasetError, match=fragment):
        load_dataset(str(root))


def test_a_decompression_bomb_image_raises_dataset_error(tmp_path, monkeypatch):
    # PIL refuses images of more than 2 * MAX_IMAGE_PIXELS pixels with DecompressionBombError,
    # which is not an OSError; a tiny limit makes an 8 x 8 image such a bomb.
    from PIL import Image

    root = tmp_path / "bombs"
    _png(root / "a" / "1.png", (8, 8), 0, mode="L")
    _png(root / "a" / "2.png", (8, 8), 0, mode="L")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10)
    with pytest.raises(DatasetError, match="Could not read image .*decompression bomb"):
        load_dataset(str(root))


def _npz(tmp_path, **arrays) -> str:
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    return str(path)


@pytest.mark.parametrize("arrays, fragment", [
    (dict(pictures=np.zeros((4, 8, 8))), "must hold arrays 'images'"),
    (dict(images=np.zeros((4, 8, 8, 3)), labels=np.arange(4) % 2), "expected N images of shape"),
    (dict(images=np.zeros((4, 64)), labels=np.arange(4) % 2), "expected N images of shape"),
    (dict(images=np.zeros((4, 8, 8)), labels=np.arange(3)), "same length"),
    (dict(images=np.zeros((1, 8, 8)), labels=np.arange(1)), "same length >= 2"),
    (dict(images=np.zeros((6, 8, 8)), labels=np.array([0.5] * 6)), "whole class numbers"),
    (dict(images=np.zeros((6, 8, 8)), labels=np.array(["a", "b"] * 3)), "whole class numbers"),
    (dict(images=np.zeros((6, 8, 8)), labels=np.array([0, 1, 2**40] * 2)), "from 0 to 999"),
    (dict(images=np.zeros((6, 8, 8)), labels=np.array([0, -1, 1] * 2)), "from 0 to 999"),
    (dict(images=np.full((10, 8, 8), np.nan), labels=np.arange(10) % 2), "NaN or infinite"),
    (dict(train_images=np.zeros((4, 8, 8)), train_labels=np.zeros(4, int),
          test_images=np.zeros((2, 9, 9)), test_labels=np.zeros(2, int)), "differ in size"),
    (dict(train_images=np.zeros((0, 8, 8)), train_labels=np.zeros(0, int),
          test_images=np.zeros((0, 8, 8)), test_labels=np.zeros(0, int)), "labels must be"),
    (dict(images=np.zeros((6, 8, 8)), labels=np.arange(6) % 3, class_names=np.array(["x"])),
     "labels outside 0..0"),
], ids=["wrong-keys", "colour-images", "flat-images", "length-mismatch", "one-image",
        "float-labels", "string-labels", "huge-labels", "negative-labels", "nan-pixels",
        "train-test-size-mismatch", "empty-splits", "too-few-class-names"])
def test_bad_npz_contents_raise_dataset_error(tmp_path, arrays, fragment):
    with pytest.raises(DatasetError, match=fragment):
        load_dataset(_npz(tmp_path, **arrays))


def test_an_npz_that_is_not_an_npz(tmp_path):
    path = tmp_path / "noise.npz"
    path.write_bytes(b"PK\x03\x04 definitely not a zip archive")
    with pytest.raises(DatasetError, match="Could not read"):
        load_dataset(str(path))


def test_an_npz_holding_pickled_objects_is_not_unpickled(tmp_path):
    path = tmp_path / "objects.npz"
    np.savez(path, images=np.array([object()] * 4, dtype=object), labels=np.arange(4))
    with pytest.raises(DatasetError, match="Could not read"):
        load_dataset(str(path))


def test_a_missing_npz_file(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset(str(tmp_path / "gone.npz"))


def test_an_unknown_dataset_name_lists_the_choices():
    with pytest.raises(DatasetError) as info:
        load_dataset("nosuch")
    assert all(name in str(info.value) for name in BUILTIN_DATASETS)


@pytest.mark.parametrize("size", [0, -3, 100_000])
def test_an_absurd_image_size_is_refused(tmp_path, size):
    with pytest.raises(DatasetError, match="Image size must be between 1 and 512"):
        load_dataset(str(tmp_path), image_size=size)
