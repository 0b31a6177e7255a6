"""Downloading the torchvision datasets in chunks: mirrors, checksums, cancelling, and the
real loader end to end, against a stand-in for the network (nothing leaves this machine)."""

from __future__ import annotations

import gzip
import hashlib
import io
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest
import vae_gui.model.download as download
from dataset_files import write_torchvision_layout
from vae_gui.model.data import load_dataset


class _Response(io.BytesIO):
    """What urlopen returns: a readable body with headers, usable as a context manager."""

    def __init__(self, body: bytes) -> None:
        super().__init__(body)
        self.headers = {"Content-Length": str(len(body))}


@pytest.fixture
def served(monkeypatch):
    """A stand-in network: url -> bytes; a url it does not hold fails as offline would."""
    files: dict[str, bytes] = {}
    asked: list[str] = []

    def urlopen(url, timeout=None):
        asked.append(url)
        if url not in files:
            raise URLError("no route to host")
        return _Response(files[url])

    monkeypatch.setattr(download.urllib.request, "urlopen", urlopen)
    files["asked"] = asked  # type: ignore[assignment]
    return files


def _dataset(packed: dict[str, bytes], mirrors: list[str]):
    class Fake:
        resources = [(name, hashlib.md5(blob).hexdigest()) for name, blob in packed.items()]

    Fake.mirrors = mirrors
    return Fake


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_a_file_comes_from_the_first_mirror_that_serves_it_and_is_unpacked(tmp_path, served):
    body = bytes(range(256)) * 1000  # several chunks
    packed = gzip.compress(body)
    served["http://b/data.gz"] = packed
    progress = []
    download.download_raw_files(_dataset({"data.gz": packed}, ["http://a/", "http://b/"]),
                                tmp_path, on_progress=lambda *p: progress.append(p))
    assert (tmp_path / "data").read_bytes() == body
    assert served["asked"] == ["http://a/data.gz", "http://b/data.gz"]
    assert progress[-1] == ("data.gz", len(packed), len(packed))
    assert _leftovers(tmp_path) == [] and not (tmp_path / "data.gz").exists()


def test_a_damaged_download_is_refused_and_leaves_nothing(tmp_path, served):
    packed = gzip.compress(b"x" * 10000)
    served["http://a/data.gz"] = packed[:-10] + b"0123456789"
    with pytest.raises(ValueError, match="checksum"):
        download.download_raw_files(_dataset({"data.gz": packed}, ["http://a/"]), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_check_that_raises_cancels_between_chunks_and_leaves_nothing(tmp_path, served):
    packed = gzip.compress(np.random.default_rng(0).bytes(1_000_000))
    served["http://a/data.gz"] = packed
    calls = []

    class Cancelled(Exception):
        pass

    def check():
        calls.append(1)
        if len(calls) == 3:
            raise Cancelled

    with pytest.raises(Cancelled):
        download.download_raw_files(_dataset({"data.gz": packed}, ["http://a/"]), tmp_path,
                                    check=check)
    assert len(calls) == 3  # it stopped at once, with most of the file still to come
    assert list(tmp_path.iterdir()) == []


def test_load_dataset_downloads_mnist_through_the_real_loader(tmp_path, served, monkeypatch):
    import torchvision.datasets as tv

    # The four IDX files as MNIST's mirrors serve them (gzipped), made here.
    raw, arrays = write_torchvision_layout(tmp_path / "made", "MNIST")
    packed = {f.name + ".gz": gzip.compress(f.read_bytes()) for f in sorted(raw.iterdir())}
    for name, blob in packed.items():
        served["http://mirror/" + name] = blob
    fake = _dataset(packed, ["http://mirror/"])
    monkeypatch.setattr(tv.MNIST, "resources", fake.resources)
    monkeypatch.setattr(tv.MNIST, "mirrors", fake.mirrors)

    data = load_dataset("mnist", tmp_path / "root")
    train_images, train_labels = arrays["train"]
    np.testing.assert_array_equal(data.train_labels, train_labels)
    np.testing.assert_allclose(data.train_images, train_images / 255.0, atol=1e-6)
    assert len(data.test_images) == len(arrays["t10k"][0])
    assert _leftovers(tmp_path / "root" / "MNIST" / "raw") == []
