"""Model-level fixtures: datasets, small models and checkpoints. No Qt is imported here.

Fixtures only: helpers that test modules share live in checkpoint_files.py,
dataset_files.py and gui_helpers.py, and are imported from there."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from checkpoint_files import join_safetensors, split_safetensors

# The README's `pytest` must run anywhere, with or without a display: every window the tests
# open (and every app they start as a subprocess) uses Qt's offscreen platform.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session")
def mnist5k():
    """The embedded dataset, loaded once (its arrays are read-only, so sharing is safe)."""
    from vae_gui.model.data import load_dataset

    return load_dataset("mnist5k")


@pytest.fixture(scope="session")
def tiny_data(mnist5k):
    """400 train and 100 test digits of mnist5k: enough to train on for a few steps."""
    from vae_gui.model.data import DatasetBundle

    return DatasetBundle(
        "tiny",
        mnist5k.train_images[:400],
        mnist5k.train_labels[:400],
        mnist5k.test_images[:100],
        mnist5k.test_labels[:100],
        mnist5k.class_names,
    )


@pytest.fixture
def small_config():
    """A small network, so that building and saving it takes milliseconds."""
    from vae_gui.model.config import ModelConfig

    return ModelConfig(hidden=(32,), latent_dim=2)


@pytest.fixture
def make_checkpoint(small_config) -> Callable:
    """Builds a Checkpoint of freshly initialised small models (seed chosen by the caller)."""
    from vae_gui.model.checkpoint import Checkpoint
    from vae_gui.model.config import TrainConfig
    from vae_gui.model.networks import build_models
    from vae_gui.model.training import EpochMetrics, Losses

    def make(seed: int = 1, config=None, **kwargs) -> Checkpoint:
        config = config or small_config
        ae, vae = build_models(config, seed)
        losses = Losses.ae_vae(100.0, 120.0, 110.0, 10.0)
        history = (EpochMetrics(1, 0.5, losses, losses, ((), (5.0,) * config.latent_dim)),)
        fields = dict(model_config=config, train_config=TrainConfig(epochs=3, seed=seed),
                      dataset="mnist5k", class_names=tuple("0123456789"), epoch=1, step=32,
                      history=history)
        fields.update(kwargs)
        return Checkpoint(ae, vae, **fields)

    return make


@pytest.fixture
def saved_checkpoint(tmp_path, make_checkpoint) -> Path:
    """A valid checkpoint file on disk."""
    from vae_gui.model.checkpoint import save_checkpoint

    return save_checkpoint(make_checkpoint(), tmp_path / "good.safetensors")


@pytest.fixture
def rewrite_checkpoint(saved_checkpoint, tmp_path) -> Callable:
    """Writes a copy of the good checkpoint with its header or metadata changed.

    `edit_meta(meta)` changes the decoded vae-gui metadata in place; `edit_header(header)`
    changes the whole safetensors header (after edit_meta); `raw_meta` replaces the metadata
    string as it is.
    """

    def rewrite(edit_meta=None, edit_header=None, raw_meta=None, name="bad.safetensors"):
        header, data = split_safetensors(saved_checkpoint.read_bytes())
        if raw_meta is not None:
            header["__metadata__"]["vae_gui"] = raw_meta
        if edit_meta is not None:
            meta = json.loads(header["__metadata__"]["vae_gui"])
            edit_meta(meta)
            header["__metadata__"]["vae_gui"] = json.dumps(meta)
        if edit_header is not None:
            edit_header(header)
        path = tmp_path / name
        path.write_bytes(join_safetensors(header, data))
        return path

    return rewrite


@pytest.fixture
def no_network(monkeypatch):
    """Downloads and sockets fail at once, as on a machine with no network."""
    import socket
    from urllib.error import URLError

    import torchvision.datasets.mnist as tv_mnist

    def no_download(url, *args, **kwargs):
        raise URLError("the network is switched off in tests")

    def no_connect(self, *args, **kwargs):
        raise OSError("the network is switched off in tests")

    monkeypatch.setattr(tv_mnist, "download_and_extract_archive", no_download)
    monkeypatch.setattr(socket.socket, "connect", no_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", no_connect)


@pytest.fixture
def one_thread():
    """One torch thread for the test (a module asks for it with `pytestmark =
    pytest.mark.usefixtures("one_thread")`): on a shared 2-core machine an oversubscribed pool
    made small models' steps an order of magnitude slower (0.5 s instead of 10 ms), and the
    numbers are the same as with two threads for these sizes."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def qt_leak_guard(request, monkeypatch):
    """GUI tests (those that use qtbot) fail when they leave a QThread running, a QThreadPool
    busy, a QTimer active or a top-level widget visible (see qt_leaks.py). Other tests are
    untouched: Qt is imported only for tests that use qtbot."""
    if "qtbot" not in request.fixturenames:
        yield
        return
    from qt_leaks import guard

    with guard(request, monkeypatch):
        yield


def pytest_collection_finish(session):
    """What collecting imported (torch, Qt, pyqtgraph, every test module) stays until the end:
    freeze it, so that the garbage collection after each GUI test (gui_helpers.py) walks
    only what the tests created since (0.24 s -> 0.10 s a test here)."""
    import gc

    gc.collect()
    gc.freeze()
