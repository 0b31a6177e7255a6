"""Datasets: the embedded mnist5k, torchvision's IDX files (written here, never downloaded),
.npz files and folders of images, and a DatasetError that says what to do for each problem."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from dataset_files import damage as _damage
from dataset_files import npy_bytes, npy_header, write_idx, write_npz_by_hand
from dataset_files import write_torchvision_layout as _write_torchvision_layout
from vae_gui.model import data as data_module
from vae_gui.model.config import MAX_DATASET_MB_VARIABLE
from vae_gui.model.data import BUILTIN_DATASETS, load_dataset, stratified_split
from vae_gui.model.errors import DatasetError

SHARED_T10K = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist-t10k"
LAYOUTS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST", "kmnist": "KMNIST"}


@pytest.fixture(autouse=True)
def _offline(no_network):
    """No test here may reach the network (the fixture is in conftest.py)."""


def _check_bundle(bundle, n_train, n_test, side=28, n_classes=10, channels=1):
    shape = (side, side) if channels == 1 else (side, side, channels)
    assert bundle.train_images.shape == (n_train, *shape)
    assert bundle.test_images.shape == (n_test, *shape)
    assert bundle.train_labels.shape == (n_train,) and bundle.test_labels.shape == (n_test,)
    assert bundle.image_shape == shape and bundle.channels == channels
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
    # Float pixels within 0..1 are taken as they are (no longer rescaled by a guess).
    images, labels = _digits(20)
    path = tmp_path / "floats.npz"
    np.savez(path, images=images / 255.0, labels=labels,
             class_names=np.array(["a", "b", "c", "d", "e"]))
    bundle = load_dataset(str(path))
    assert bundle.class_names == ("a", "b", "c", "d", "e")
    assert bundle.train_images.max() <= 1.0 and bundle.train_images.max() > 0.9
    loaded = np.sort(np.concatenate([bundle.train_images, bundle.test_images]).ravel())
    np.testing.assert_array_equal(loaded, np.sort((images / 255.0).astype(np.float32).ravel()))


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


def test_folder_of_colour_images_is_resized_and_keeps_its_channels(tmp_path):
    root = tmp_path / "shapes"
    for i in range(5):
        _png(root / "red" / f"{i}.png", (40 + i, 30), (255, 0, 0))  # odd sizes, colour
        _png(root / "white" / f"{i}.PNG", (20, 20), 255, mode="L")  # grey among colour
    (root / "white" / "notes.txt").write_text("not an image")  # ignored
    (root / ".hidden").mkdir()  # not a class
    _png(root / "white" / ".thumbnail.png", (5, 5), 0, mode="L")  # hidden: ignored
    bundle = load_dataset(str(root), image_size=16)
    _check_bundle(bundle, 8, 2, side=16, n_classes=2, channels=3)
    assert bundle.class_names == ("red", "white")
    images = np.concatenate([bundle.train_images, bundle.test_images])
    labels = np.concatenate([bundle.train_labels, bundle.test_labels])
    np.testing.assert_array_equal(images[labels == 0], np.broadcast_to([1.0, 0.0, 0.0],
                                                                       (5, 16, 16, 3)))
    np.testing.assert_array_equal(images[labels == 1], 1.0)


def test_folder_of_grey_pictures_stays_grey_even_when_saved_as_rgb(tmp_path):
    root = tmp_path / "greys"
    for i in range(5):
        _png(root / "dark" / f"{i}.png", (30, 30), (76, 76, 76))  # RGB file, grey picture
        _png(root / "light" / f"{i}.png", (20, 20), 200, mode="L")
    bundle = load_dataset(str(root), image_size=16)
    _check_bundle(bundle, 8, 2, side=16, n_classes=2, channels=1)
    images = np.concatenate([bundle.train_images, bundle.test_images])
    labels = np.concatenate([bundle.train_labels, bundle.test_labels])
    np.testing.assert_allclose(images[labels == 0], 76 / 255, atol=1e-7)
    np.testing.assert_allclose(images[labels == 1], 200 / 255, atol=1e-7)


def test_npz_of_rgb_images_keeps_its_channels_and_one_channel_is_grey(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (20, 8, 8, 3), dtype=np.uint8)
    labels = np.arange(20) % 2
    np.savez(tmp_path / "rgb.npz", images=rgb, labels=labels)
    bundle = load_dataset(str(tmp_path / "rgb.npz"))
    _check_bundle(bundle, 16, 4, side=8, n_classes=2, channels=3)
    both = np.concatenate([bundle.train_images, bundle.test_images])
    # Every value kept, as uint8 / 255 in float32 (the split only reorders the images).
    expected = np.sort(rgb.reshape(-1)).astype(np.float32) / np.float32(255)
    np.testing.assert_array_equal(np.sort(both.reshape(-1)), expected)
    np.savez(tmp_path / "one.npz", images=rgb[..., :1], labels=labels)
    _check_bundle(load_dataset(str(tmp_path / "one.npz")), 16, 4, side=8, n_classes=2)
    np.savez(tmp_path / "rgba.npz", images=np.zeros((20, 8, 8, 4), np.uint8), labels=labels)
    with pytest.raises(DatasetError, match=r"\(H, W, 3\) for RGB colour"):
        load_dataset(str(tmp_path / "rgba.npz"))


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
    (dict(images=np.zeros((4, 8, 8, 2)), labels=np.arange(4) % 2), "expected N images of shape"),
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
     r"bad\.npz has labels up to 2, but its 'class_names' holds only 1 name: add a name"),
], ids=["wrong-keys", "two-channel-images", "flat-images", "length-mismatch", "one-image",
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


# ------------------------------------------------------------------- hostile .npz files


def _count_inflated_bytes(monkeypatch) -> list[int]:
    """Counts the bytes read from every archive member from now on (one running total)."""
    total = [0]
    read = zipfile.ZipExtFile.read

    def counting_read(self, n=-1):
        data = read(self, n)
        total[0] += len(data)
        return data

    monkeypatch.setattr(zipfile.ZipExtFile, "read", counting_read)
    return total


def test_hand_written_npz_files_are_what_numpy_reads(tmp_path):
    # The helper behind the gigabyte members below writes genuine .npz files.
    path = write_npz_by_hand(tmp_path / "hand.npz", {
        "images": (npy_header((3, 4, 4)), 48), "labels": npy_bytes(np.arange(3))})
    with np.load(path) as f:
        assert f["images"].shape == (3, 4, 4) and not f["images"].any()
        assert f["labels"].tolist() == [0, 1, 2]


def _blank_images_npz(tmp_path, n=500_000) -> Path:
    """n blank 28 x 28 uint8 images with their labels: 0.4 GB of arrays in a 0.4 MB file."""
    return write_npz_by_hand(tmp_path / "blank.npz", {
        "images": (npy_header((n, 28, 28)), n * 28 * 28),
        "labels": (npy_header((n,)), n)})


@pytest.mark.parametrize("limit_mb, fragment", [
    ("100", "declares arrays of 374 MB, which exceeds the limit of 100 MB; "
            "set VAE_GUI_MAX_DATASET_MB to raise it."),
    ("1000", "holds 500,000 images of 28x28 pixels; as float32 they take 1,495 MB, which "
             "exceeds the limit of 1,000 MB; set VAE_GUI_MAX_DATASET_MB to raise it."),
], ids=["declared-arrays", "float32-pixels"])
def test_an_npz_over_the_size_limit_is_refused_before_inflating(tmp_path, monkeypatch, limit_mb,
                                                                 fragment):
    path = _blank_images_npz(tmp_path)
    monkeypatch.setenv(MAX_DATASET_MB_VARIABLE, limit_mb)
    inflated = _count_inflated_bytes(monkeypatch)
    with pytest.raises(DatasetError) as info:
        load_dataset(str(path))
    assert str(path) in str(info.value) and fragment in str(info.value)
    assert inflated[0] < 10_000  # the .npy headers only


def test_the_default_size_limit_is_1024_mb(tmp_path, monkeypatch):
    # The zip states the size the header declares, but holds none of it: nothing is read.
    monkeypatch.delenv(MAX_DATASET_MB_VARIABLE, raising=False)
    head = npy_header((3_000_000, 28, 28))
    path = write_npz_by_hand(tmp_path / "huge.npz", {
        "images": head, "labels": npy_bytes(np.zeros(3_000_000, np.uint8))},
        stated_sizes={"images": len(head) + 3_000_000 * 28 * 28})
    with pytest.raises(DatasetError, match="exceeds the limit of 1,024 MB; set "
                                           "VAE_GUI_MAX_DATASET_MB to raise it"):
        load_dataset(str(path))


@pytest.mark.parametrize("value", ["lots", "0", "-5", "1.5"])
def test_a_bad_size_limit_variable_says_how_to_fix_it(tmp_path, monkeypatch, value):
    images, labels = _digits(10)
    np.savez(tmp_path / "ok.npz", images=images, labels=labels)
    monkeypatch.setenv(MAX_DATASET_MB_VARIABLE, value)
    with pytest.raises(DatasetError, match=f"VAE_GUI_MAX_DATASET_MB is '{value}', but it must "
                                           "be a whole number of megabytes"):
        load_dataset(str(tmp_path / "ok.npz"))


def test_raising_the_size_limit_lets_a_large_npz_load(tmp_path, monkeypatch):
    images, labels = _digits(2000)
    np.savez(tmp_path / "big.npz", images=images, labels=labels)  # 6 MB as float32
    monkeypatch.setenv(MAX_DATASET_MB_VARIABLE, "5")
    with pytest.raises(DatasetError, match="exceeds the limit of 5 MB"):
        load_dataset(str(tmp_path / "big.npz"))
    monkeypatch.setenv(MAX_DATASET_MB_VARIABLE, "7")
    assert len(load_dataset(str(tmp_path / "big.npz")).train_images) == 1600


_PEAK_MEMORY = """
import json, resource, sys
from vae_gui.model.data import load_dataset
scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is bytes there, KiB elsewhere
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
bundle = load_dataset(sys.argv[1])
growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * scale
print(json.dumps({"growth_mb": growth / 2**20, "train": list(bundle.train_images.shape),
                  "test": list(bundle.test_images.shape),
                  "names": list(bundle.class_names)}))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="the resource module is Unix-only")
def test_an_unused_gigabyte_member_is_never_inflated(tmp_path):
    # np.load would inflate every member, and this one is a gigabyte of zeros in a 1 MB file.
    images, labels = _digits(50)
    path = write_npz_by_hand(tmp_path / "padded.npz", {
        "images": npy_bytes(images), "labels": npy_bytes(labels),
        "class_names": npy_bytes(np.array(list("abcde"))),
        "padding": (npy_header((1_000_000_000,)), 1_000_000_000)})
    assert path.stat().st_size < 5 * 2**20
    with zipfile.ZipFile(path) as archive:
        assert archive.getinfo("padding.npy").file_size > 1_000_000_000
    # In a fresh process, so that the peak is this load's, not an earlier test's.
    run = subprocess.run([sys.executable, "-c", _PEAK_MEMORY, str(path)], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["train"] == [40, 28, 28] and result["test"] == [10, 28, 28]
    assert result["names"] == list("abcde")
    assert result["growth_mb"] < 200, result


def test_a_member_holding_more_than_it_declares_is_read_only_as_far_as_declared(tmp_path,
                                                                               monkeypatch):
    # A gigabyte of zeros after the 20 images the header declares: never inflated.
    images, labels = _digits(20)
    path = write_npz_by_hand(tmp_path / "long.npz", {
        "images": (npy_bytes(images), 1_000_000_000), "labels": npy_bytes(labels)})
    inflated = _count_inflated_bytes(monkeypatch)
    bundle = load_dataset(str(path))
    assert inflated[0] < 10 * 2**20
    loaded = np.concatenate([bundle.train_images, bundle.test_images])
    np.testing.assert_array_equal(np.sort(loaded.ravel()),
                                  np.sort((images / np.float32(255)).ravel()))


@pytest.mark.parametrize("zip_states", ["its-true-size", "the-declared-size"])
def test_a_member_holding_less_than_it_declares_is_truncated(tmp_path, zip_states):
    head = npy_header((20, 8, 8))
    stated = {"images": len(head) + 20 * 64} if zip_states == "the-declared-size" else {}
    path = write_npz_by_hand(tmp_path / "short.npz", {
        "images": head + bytes(100), "labels": npy_bytes(np.arange(20) % 2)}, stated)
    with pytest.raises(DatasetError, match=r"Could not read .*short\.npz as a \.npz file: array "
                                           r"'images' is truncated: it declares 1,280 bytes"):
        load_dataset(str(path))


def test_a_fortran_ordered_npz_array_keeps_its_values(tmp_path):
    images, labels = _digits(10)
    path = tmp_path / "fortran.npz"
    np.savez(path, train_images=np.asfortranarray(images[:8]), train_labels=labels[:8],
             test_images=images[8:], test_labels=labels[8:])
    bundle = load_dataset(str(path))
    np.testing.assert_array_equal(bundle.train_images, images[:8] / np.float32(255))
    assert bundle.train_images.flags.c_contiguous


# ----------------------------------------------------------------------------- class names


@pytest.mark.parametrize("class_names, fragment", [
    (np.array([str(i) for i in range(1001)]), "has 1,001 class names; vae-gui handles at most "
                                              "1000"),
    (np.array(["a", "b" * 256]), "class name 1 is 256 characters long; class names may have at "
                                 "most 255, so shorten it"),
    (np.arange(5), "'class_names' must be an array of strings, not int64 values"),
    (np.array(["a"] * 1000, dtype="U300"), "'class_names' takes 1,200,000 bytes, more than 1000 "
                                           "names of 255 characters need"),
], ids=["too-many", "too-long", "not-strings", "padded-too-wide"])
def test_unusable_class_names_are_refused(tmp_path, class_names, fragment):
    images, labels = _digits(10)
    path = _npz(tmp_path, images=images, labels=labels % 2, class_names=class_names)
    with pytest.raises(DatasetError, match=fragment):
        load_dataset(path)


def test_class_names_as_bytes_are_decoded_as_utf8(tmp_path):
    images, labels = _digits(10)
    path = _npz(tmp_path, images=images, labels=labels % 2,
                class_names=np.array([b"caf\xc3\xa9", b"bad \xff"]))
    assert load_dataset(path).class_names == ("café", "bad \ufffd")


def test_a_class_folder_name_over_the_limit_is_refused(tmp_path, monkeypatch):
    # Most file systems hold names of at most 255 bytes, so the limit is lowered to test it.
    monkeypatch.setattr(data_module, "MAX_CLASS_NAME_CHARS", 5)
    root = tmp_path / "names"
    for folder in ("short", "toolong"):
        for i in range(3):
            _png(root / folder / f"{i}.png", (8, 8), 0, mode="L")
    with pytest.raises(DatasetError, match="class folder whose name is 7 characters long "
                                           r"\(toolong\.\.\.\); class names may have at most 5"):
        load_dataset(str(root))


# ------------------------------------------------------------------- non-regular files


def _finishes(call, *pipes: Path, seconds: float = 20.0):
    """call() in a thread: a failure, not a hung suite, when it blocks on one of `pipes`
    (which are then opened for writing, so that the blocked reader wakes up and ends)."""
    outcome: dict = {}

    def run():
        try:
            outcome["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        for pipe in pipes:
            with contextlib.suppress(OSError):  # no reader waiting: nothing to wake
                os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(5)
        pytest.fail(f"the load blocked for {seconds} s on a pipe")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")


@needs_fifo
def test_a_pipe_among_the_images_is_refused_without_blocking(tmp_path):
    root = tmp_path / "piped"
    for i in range(3):
        _png(root / "a" / f"{i}.png", (8, 8), 0, mode="L")
    fifo = root / "a" / "x.png"
    os.mkfifo(fifo)  # opening a pipe for reading blocks until someone writes to it
    with pytest.raises(DatasetError) as info:
        _finishes(lambda: load_dataset(str(root)), fifo)
    assert str(info.value) == (f"{fifo} is not a regular file (a pipe, device or socket); "
                               "remove it from the folder.")


@needs_fifo
def test_a_pipe_given_as_the_npz_is_refused_without_opening_it(tmp_path):
    fifo = tmp_path / "pipe.npz"
    os.mkfifo(fifo)
    with pytest.raises(DatasetError, match="pipe.npz is not a regular file"):
        _finishes(lambda: load_dataset(str(fifo)), fifo)


def test_a_device_given_as_the_npz_is_refused_without_reading_it(tmp_path):
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero here")
    link = tmp_path / "zeros.npz"
    link.symlink_to("/dev/zero")  # reading it would never end
    with pytest.raises(DatasetError, match="zeros.npz is not a regular file"):
        _finishes(lambda: load_dataset(str(link)))


def test_a_folder_named_like_an_npz_is_refused(tmp_path):
    (tmp_path / "data.npz").mkdir()
    with pytest.raises(DatasetError, match=r"data\.npz is a folder, not a file; choose a \.npz"):
        load_dataset(str(tmp_path / "data.npz"))


@pytest.mark.parametrize("name", ["", "   ", "\t\n"])
def test_an_empty_dataset_name_is_refused_rather_than_scanning_the_current_folder(name):
    with pytest.raises(DatasetError, match="No dataset named: the name is empty. Choose one "
                                           "of mnist5k"):
        load_dataset(name)


# -------------------------------------------------------------------------- pixel ranges


def _split_npz(tmp_path, train_images, test_images) -> str:
    """An .npz with its own split, so that the loaded images keep their order."""
    path = tmp_path / "pixels.npz"
    np.savez(path, train_images=train_images, train_labels=np.arange(len(train_images)) % 2,
             test_images=test_images, test_labels=np.arange(len(test_images)) % 2)
    return str(path)


def _ramp(dtype, low, high, n=6):
    return np.linspace(low, high, n * 64).reshape(n, 8, 8).astype(dtype)


@pytest.mark.parametrize("images, fragment", [
    (_ramp(np.uint16, 0, 65535), "uint16 pixels from 0 to 65535"),
    (_ramp(np.int64, 0, 255), "int64 pixels from 0 to 255"),
    (_ramp(np.int32, -3, 7), "int32 pixels from -3 to 7"),
    (_ramp(np.float64, 0, 1.2), "float64 pixels from 0 to 1.2"),
    (_ramp(np.float32, -0.5, 1), "float32 pixels from -0.5 to 1"),
    (np.full((6, 8, 8), 1j), "complex128 pixels"),
], ids=["uint16", "int64", "int32-negative", "float-above-1", "float-below-0", "complex"])
def test_pixels_of_unstated_range_are_refused_not_guessed(tmp_path, images, fragment):
    path = _split_npz(tmp_path, images, images[:2])  # the training split has the full range
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    message = str(info.value)
    assert path in message and fragment in message, message
    assert "complex" in fragment or "in its training images" in message, message
    assert ("store uint8 images 0..255 or float images 0..1, e.g. images.astype(np.uint8) for "
            "integers 0..255, or images / images.max() for other non-negative values."
            in message), message


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_float_pixels_that_are_not_finite_are_refused(tmp_path, bad):
    images = _ramp(np.float64, 0, 1)
    images[2, 3, 4] = bad
    with pytest.raises(DatasetError, match="NaN or infinite pixel values"):
        load_dataset(_split_npz(tmp_path, images[:4], images[4:]))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_float_pixels_within_0_and_1_are_kept_as_they_are(tmp_path, dtype):
    images = _ramp(dtype, 0, 1)
    bundle = load_dataset(_split_npz(tmp_path, images[:4], images[4:]))
    np.testing.assert_array_equal(bundle.train_images, images[:4].astype(np.float32))
    np.testing.assert_array_equal(bundle.test_images, images[4:].astype(np.float32))
    assert bundle.train_images.max() == 1.0 or bundle.test_images.max() == 1.0


def test_bool_pixels_are_0_and_1(tmp_path):
    images = _ramp(np.float64, 0, 1) > 0.5
    bundle = load_dataset(_split_npz(tmp_path, images[:4], images[4:]))
    np.testing.assert_array_equal(bundle.train_images, images[:4].astype(np.float32))


def test_uint8_pixels_are_divided_by_255(tmp_path):
    images = _ramp(np.uint8, 0, 255)
    bundle = load_dataset(_split_npz(tmp_path, images[:4], images[4:]))
    np.testing.assert_array_equal(bundle.test_images,
                                  images[4:].astype(np.float32) / np.float32(255))


# ---------------------------------------------------------------- cancellable folder scans


class _Cancelled(Exception):
    pass


def _twenty_images(root: Path) -> Path:
    for folder in ("a", "b"):
        for i in range(10):
            _png(root / folder / f"{i}.png", (8, 8), 0, mode="L")
    return root


def _count_opened_images(monkeypatch) -> list[Path]:
    from PIL import Image

    opened, real_open = [], Image.open

    def counting_open(fp, *args, **kwargs):
        opened.append(getattr(fp, "name", fp))
        return real_open(fp, *args, **kwargs)

    monkeypatch.setattr(Image, "open", counting_open)
    return opened


def test_check_is_called_per_class_folder_and_per_image(tmp_path, monkeypatch):
    root = _twenty_images(tmp_path / "twenty")
    calls = []
    opened = _count_opened_images(monkeypatch)
    bundle = load_dataset(str(root), check=lambda: calls.append(1))
    assert len(calls) == 2 + 20 and len(opened) == 20
    assert len(bundle.train_images) + len(bundle.test_images) == 20


def test_a_check_that_raises_stops_a_folder_scan_at_the_next_image(tmp_path, monkeypatch):
    root = _twenty_images(tmp_path / "twenty")
    calls = []

    def check():
        calls.append(1)
        if len(calls) == 5:
            raise _Cancelled

    opened = _count_opened_images(monkeypatch)
    with pytest.raises(_Cancelled):
        load_dataset(str(root), check=check)
    assert len(calls) == 5
    assert 0 < len(opened) < 20  # 2 calls while listing the folders, then 2 images opened


def test_grey_pixels_of_a_colour_picture_are_its_luma_as_pillow_computes_it():
    from PIL import Image
    from vae_gui.model.data import grey_pixels

    rgb = np.random.default_rng(3).integers(0, 256, (9, 7, 3), dtype=np.uint8)
    expected = np.asarray(Image.fromarray(rgb).convert("L"))
    np.testing.assert_array_equal(grey_pixels(rgb), expected)
    grey = np.repeat(expected[..., None], 3, axis=-1)  # a grey picture stored as RGB
    np.testing.assert_array_equal(grey_pixels(grey), expected)
