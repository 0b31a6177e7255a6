"""A folder too large for memory streams from disk: the automatic choice, the same batches as
in memory, the fixed test subset, damaged files, worker processes that end, progress, the CLI.

Streaming is forced on tiny folders with VAE_GUI_STREAM_ABOVE_MB=0. The first test that
starts a worker process starts the fork server too (about 2 s: it imports torch once); later
workers start in milliseconds.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from vae_gui.model import data as data_module
from vae_gui.model.config import MAX_DATASET_MB_VARIABLE, ModelConfig, TrainConfig
from vae_gui.model.data import (
    STREAM_ABOVE_MB_VARIABLE,
    LoadProgress,
    load_dataset,
    read_image,
    stream_threshold,
)
from vae_gui.model.distributed import DistributedContext, share
from vae_gui.model.errors import DatasetError
from vae_gui.model.folder_stream import STREAM_WORKERS_VARIABLE, EpochBatches, batch_rows
from vae_gui.model.training import Trainer, TrainingControl

CONFIG = ModelConfig(image_shape=(8, 8), hidden=(16,), latent_dim=2)


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    monkeypatch.delenv(STREAM_ABOVE_MB_VARIABLE, raising=False)
    monkeypatch.setenv(STREAM_WORKERS_VARIABLE, "1")
    yield
    torch.set_num_threads(threads)


def _folder(root: Path, per_class: int = 20, classes: int = 3, side: int = 8,
            colour: bool = False, seed: int = 0) -> Path:
    """PNGs of random pixels, `per_class` in each of `classes` class folders."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for c in range(classes):
        (root / f"class{c}").mkdir(parents=True)
        for k in range(per_class):
            shape = (side, side, 3) if colour else (side, side)
            pixels = rng.integers(0, 256, shape, dtype=np.uint8)
            Image.fromarray(pixels).save(root / f"class{c}" / f"{k:03d}.png")
    return root


def _streamed(monkeypatch, root: Path, **kwargs):
    monkeypatch.setenv(STREAM_ABOVE_MB_VARIABLE, "0")
    bundle = load_dataset(str(root), image_size=8, **kwargs)
    monkeypatch.delenv(STREAM_ABOVE_MB_VARIABLE)
    assert bundle.stream is not None
    return bundle


def _gone(pid: int, timeout: float = 10.0) -> bool:
    """Whether process `pid` has ended (a zombie counts: its parent, the fork server, reaps
    it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


def test_the_size_decides_and_the_threshold_is_stated(tmp_path, monkeypatch):
    root = _folder(tmp_path / "small")  # 60 images of 8x8: 15 kB as float32
    assert load_dataset(str(root), image_size=8).stream is None  # the default: in memory
    monkeypatch.setenv(STREAM_ABOVE_MB_VARIABLE, "1")
    assert load_dataset(str(root), image_size=8).stream is None  # under 1 MB
    monkeypatch.setenv(STREAM_ABOVE_MB_VARIABLE, "0")
    streamed = load_dataset(str(root), image_size=8)
    assert streamed.stream is not None and streamed.stream.threshold_bytes == 0
    assert "over the streaming threshold of 0 MB" in streamed.stream.reason()
    # The default: the dataset byte limit, or half the memory available if that is less.
    monkeypatch.delenv(STREAM_ABOVE_MB_VARIABLE)
    monkeypatch.setenv(MAX_DATASET_MB_VARIABLE, "10")
    assert stream_threshold() == 10 * 1024**2
    monkeypatch.setattr(data_module, "available_bytes", lambda: 8 * 1024**2)
    assert stream_threshold() == 4 * 1024**2
    monkeypatch.setenv(STREAM_ABOVE_MB_VARIABLE, "lots")
    with pytest.raises(DatasetError, match="VAE_GUI_STREAM_ABOVE_MB is 'lots', but it must be "
                                           "a whole number of megabytes"):
        load_dataset(str(root), image_size=8)


def test_a_folder_over_the_byte_limit_streams_instead_of_being_refused(tmp_path, monkeypatch):
    # Before: refused ("exceeds the limit of 10 MB"). The limit bounds what is held in memory.
    root = _folder(tmp_path / "big", per_class=10, classes=2, side=8)
    monkeypatch.setenv(MAX_DATASET_MB_VARIABLE, "10")
    bundle = load_dataset(str(root), image_size=512)  # 20 MB as float32
    assert bundle.stream is not None and bundle.n_train + bundle.n_test == 20
    held = bundle.train_images.nbytes + bundle.test_images.nbytes
    assert held <= 5 * 1024**2  # at most half the limit is held


def test_a_streamed_folder_is_split_and_converted_as_in_memory(tmp_path, monkeypatch):
    for colour in (False, True):
        root = _folder(tmp_path / f"colour-{colour}", colour=colour)
        memory = load_dataset(str(root), image_size=8)
        streamed = _streamed(monkeypatch, root)
        assert streamed.image_shape == memory.image_shape == ((8, 8, 3) if colour else (8, 8))
        assert streamed.stream.colour_rule.startswith("colour" if colour else "grey")
        # Small enough to hold both splits whole: the same images, in the same order.
        for name in ("train_images", "train_labels", "test_images", "test_labels"):
            np.testing.assert_array_equal(getattr(streamed, name), getattr(memory, name))
        assert (streamed.n_train, streamed.n_test) == (len(memory.train_images),
                                                       len(memory.test_images))
        # File i of the training split is the image the in-memory path holds at row i.
        for i in (0, 17, streamed.n_train - 1):
            rgb = read_image(Path(streamed.stream.train_files[i]), 8)
            pixels = rgb if colour else rgb[..., 0]
            np.testing.assert_array_equal(pixels / np.float32(255), memory.train_images[i])
        assert streamed.test_set() == memory.test_set() == "all 12 test images"


def test_the_test_split_held_in_memory_is_a_fixed_stated_subset(tmp_path, monkeypatch):
    root = _folder(tmp_path / "many", per_class=40)
    monkeypatch.setattr(data_module, "HELD_TEST_IMAGES", 10)
    monkeypatch.setattr(data_module, "HELD_TRAIN_IMAGES", 7)
    memory = load_dataset(str(root), image_size=8)
    first, again = _streamed(monkeypatch, root), _streamed(monkeypatch, root)
    assert len(first.test_images) == 10 and len(first.train_images) == 7
    assert (first.n_test, first.n_train) == (24, 96)
    np.testing.assert_array_equal(first.stream.held_test, again.stream.held_test)
    np.testing.assert_array_equal(first.test_images, memory.test_images[first.stream.held_test])
    np.testing.assert_array_equal(first.test_labels, memory.test_labels[first.stream.held_test])
    np.testing.assert_array_equal(first.train_images,
                                  memory.train_images[first.stream.held_train])
    assert first.test_set() == "a fixed subset of 10 of the 24 test images (seed 0)"
    trainer = Trainer(first, CONFIG, TrainConfig(epochs=1, batch_size=32))
    assert trainer.steps_per_epoch == 3  # the whole training split: 96 images
    assert trainer.test_set == first.test_set() and trainer.data_path == (
        "streamed from disk by 1 worker process")
    assert len(trainer.snapshot().vae_mu) == 10  # the cloud: the held test images


@pytest.mark.slow  # a few seconds; bench_stream's quick mode checks the same weights too
def test_streamed_training_gives_the_in_memory_weights(tmp_path, monkeypatch):
    root = _folder(tmp_path / "same")  # 48 training images: batches of 20, 20 and 8
    memory = load_dataset(str(root), image_size=8)
    streamed = _streamed(monkeypatch, root)
    config = TrainConfig(epochs=2, batch_size=20, seed=5)
    in_memory, from_disk = Trainer(memory, CONFIG, config), Trainer(streamed, CONFIG, config)
    assert in_memory.data_path == "in memory"
    in_memory.run()
    from_disk.run()
    assert from_disk.step == in_memory.step == 6
    for a, b in ((in_memory.ae, from_disk.ae), (in_memory.vae, from_disk.vae)):
        for (name, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
            assert torch.equal(x, y), name
    assert [m.test for m in from_disk.history] == [m.test for m in in_memory.history]


def test_batches_for_a_distributed_run_are_each_process_s_share(tmp_path):
    order = torch.randperm(11, generator=torch.Generator().manual_seed(0))
    for context in (None, DistributedContext(1, 2, 1), DistributedContext(2, 3, 0)):
        sampler = EpochBatches(4, context)
        sampler.order = order
        # The in-memory path's rows, including the last batch topped up for 3 processes.
        expected = []
        for pos in range(0, 11, 4):
            idx = order[pos:pos + 4]
            if context is not None and len(idx) < context.world_size:
                idx = torch.cat([idx, order[:context.world_size - len(idx)]])
            expected.append(share(idx, context).tolist())
        assert list(sampler) == expected
        assert [batch_rows(order, p, 4, context)[1] for p in (0, 4, 8)] == [4, 4, 3]
        sampler.start = 4
        assert list(sampler) == expected[1:] and len(sampler) == 2


def test_a_distributed_run_streams_the_batches_it_would_slice(tmp_path, monkeypatch):
    import torch.distributed as dist

    root = _folder(tmp_path / "ddp")
    memory, streamed = load_dataset(str(root), image_size=8), _streamed(monkeypatch, root)
    config = TrainConfig(epochs=1, batch_size=20, seed=2)
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rendezvous'}", rank=0,
                            world_size=1)
    try:
        context = DistributedContext(0, 1, 0)  # through DistributedDataParallel, one process
        trainers = [Trainer(d, CONFIG, config, distributed=context) for d in (memory, streamed)]
        for trainer in trainers:
            trainer.run()
    finally:
        dist.destroy_process_group()
    for a, b in zip(trainers[0].vae.state_dict().values(), trainers[1].vae.state_dict().values(),
                    strict=True):
        assert torch.equal(a, b)


def test_a_file_damaged_mid_epoch_stops_training_naming_it(tmp_path, monkeypatch):
    root = _folder(tmp_path / "damaged")
    streamed = _streamed(monkeypatch, root)
    trainer = Trainer(streamed, CONFIG, TrainConfig(epochs=1, batch_size=8, seed=0))
    trainer.train_step()
    # A file of the epoch's last batch, damaged after the run started.
    victim = Path(streamed.stream.train_files[int(trainer._order_cpu[-1])])
    victim.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with pytest.raises(DatasetError) as info:
        trainer.run()
    message = str(info.value)
    assert message.startswith(f"Could not read image {victim} (") and message.endswith(
        "; remove or replace it.")
    assert "Traceback" not in message and "worker" not in message
    assert trainer.stream_pids and all(_gone(pid) for pid in trainer.stream_pids)


def test_a_stopped_run_leaves_no_worker_process_and_continues(tmp_path, monkeypatch):
    monkeypatch.setenv(STREAM_WORKERS_VARIABLE, "2")
    streamed = _streamed(monkeypatch, _folder(tmp_path / "stop", per_class=40))
    trainer = Trainer(streamed, CONFIG, TrainConfig(epochs=1000, batch_size=4))
    control = TrainingControl()
    control.set_pace(200)  # slow enough to stop mid-epoch
    thread = threading.Thread(target=trainer.run, args=(control,))
    thread.start()
    deadline = time.monotonic() + 60
    while trainer.step < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    pids = trainer.stream_pids
    control.stop()
    thread.join(30)
    assert not thread.is_alive() and len(pids) == 2
    assert all(_gone(pid) for pid in pids)
    # Continue: new workers, at the batch where it stopped, and they end with the run.
    step = trainer.step
    trainer.set_epochs(trainer.epoch + 1)
    trainer.run()
    assert trainer.step == trainer.steps_per_epoch and trainer.step > step
    assert set(trainer.stream_pids).isdisjoint(pids)
    assert all(_gone(pid) for pid in trainer.stream_pids)


def test_progress_is_reported_while_a_folder_is_listed_and_read(tmp_path, monkeypatch):
    root = _folder(tmp_path / "progress")
    for streamed in (False, True):
        seen: list[LoadProgress] = []
        if streamed:
            _streamed(monkeypatch, root, progress=seen.append)
        else:
            load_dataset(str(root), image_size=8, progress=seen.append)
        stages = [p.stage for p in seen]
        assert stages[0] == "listing" and stages[-1] == "reading"
        assert stages == sorted(stages)  # all the listing first, then the reading
        listed = [p for p in seen if p.stage == "listing"][-1]
        assert listed.done == 60 and listed.total is None
        assert seen[-1].done == seen[-1].total == 60
        assert seen[-1].describe() == f"Reading images of {root}: 60 of 60"


def test_the_cli_says_which_path_and_metrics_json_records_it(tmp_path, monkeypatch, capsys):
    from vae_gui.model.cli import main

    root = _folder(tmp_path / "cli")
    args = ["--dataset", str(root), "--image-size", "8", "--epochs", "1", "--hidden", "16",
            "--device", "cpu"]
    assert main([*args, "--out", str(tmp_path / "memory")]) == 0
    out, _ = capsys.readouterr()
    assert "Data: in memory; the test loss is measured on all 12 test images." in out
    monkeypatch.setenv(STREAM_ABOVE_MB_VARIABLE, "0")
    assert main([*args, "--out", str(tmp_path / "streamed")]) == 0
    out, err = capsys.readouterr()
    assert ("Data: streamed from disk by 1 worker process, since its 60 images take 0 MB as "
            "float32, over the streaming threshold of 0 MB; the test loss and the encoded test "
            "set use all 12 test images.") in out
    assert "Reading images" in err  # the progress bar while the held images are read
    for run, path in (("memory", "in memory"), ("streamed", "streamed from disk by 1 worker "
                                                           "process")):
        metrics = json.loads((tmp_path / run / "metrics.json").read_text())
        assert metrics["data_path"] == path and metrics["test_set"] == "all 12 test images"


def test_the_beta_sweep_refuses_streamed_data_saying_why(tmp_path, monkeypatch):
    from vae_gui.model.sweep import sweep

    streamed = _streamed(monkeypatch, _folder(tmp_path / "sweep"))
    with pytest.raises(DatasetError, match="too large to hold in memory .* and the beta sweep "
                                           "trains only on data held in memory"):
        sweep(streamed, CONFIG, TrainConfig(epochs=1), [1.0, 2.0])
