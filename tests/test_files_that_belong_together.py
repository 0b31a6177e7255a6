"""Files vae-gui writes open again and agree with each other (issue 15, items 3, 6 and 8):
bounded histories, checkpoint and metrics.json staged together, the run folder's lock and its
repair, stale temporary files of killed saves, and models too large for memory. No Qt."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import vae_gui.model.atomic_write as atomic_write_module
import vae_gui.model.training as training_module
from vae_gui.model.atomic_write import remove_stale_temporaries, write_atomic
from vae_gui.model.checkpoint import (
    MAX_HEADER_BYTES,
    checkpoint_bytes,
    load_checkpoint,
    save_checkpoint,
)
from vae_gui.model.cli import main as train_main
from vae_gui.model.cli import save_run
from vae_gui.model.config import ModelConfig, TrainConfig
from vae_gui.model.errors import CheckpointError, TooLarge
from vae_gui.model.memory_needs import check_fits, parameter_count, training_bytes
from vae_gui.model.networks import build_models
from vae_gui.model.run_folder import LOCK_NAME, RunLock, repair_metrics
from vae_gui.model.training import (
    MAX_HISTORY,
    EpochMetrics,
    Losses,
    Trainer,
    thin_history,
    thin_rows,
)

fcntl = pytest.importorskip("fcntl")  # the locks are flock locks (not on Windows)


def _metrics(epoch: int, latent: int = 2) -> EpochMetrics:
    losses = Losses.ae_vae(100.0 + epoch, 110.0, 100.0, 10.0)
    return EpochMetrics(epoch, 0.5, losses, losses, ((), tuple(0.1 * k for k in range(latent))))


# ------------------------------------------------------------------------------ history


@pytest.mark.parametrize("n", [1, 999, 1000, 1001, 1600,
                               pytest.param(100_000, marks=pytest.mark.slow)])  # 1.4 s
def test_a_thinned_history_is_bounded_evenly_spaced_and_keeps_the_latest(n):
    history = [_metrics(e) for e in range(1, n + 1)]
    kept = thin_history(history)
    epochs = [m.epoch for m in kept]
    assert len(kept) <= MAX_HISTORY and epochs[-1] == n
    assert kept == history if n <= MAX_HISTORY else len(kept) > MAX_HISTORY // 2
    steps = {b - a for a, b in zip(epochs[:-2], epochs[1:-1], strict=True)}
    assert len(steps) <= 1  # evenly spaced, but for the latest


def test_thinned_curve_rows_are_bounded_and_keep_the_latest():
    rows = list(range(50_001))
    kept = thin_rows(rows, 20_000)
    assert len(kept) <= 20_000 and kept[-1] == 50_000 and kept == sorted(kept)


def test_the_trainer_keeps_a_bounded_history_over_a_long_run(tiny_data, monkeypatch):
    monkeypatch.setattr(training_module, "MAX_HISTORY", 8)
    config = ModelConfig(hidden=(4,), latent_dim=2)
    trainer = Trainer(tiny_data, config, TrainConfig(epochs=37, batch_size=400))
    seen = []
    trainer.run(on_epoch=seen.append)
    assert [m.epoch for m in seen] == list(range(1, 38))  # every epoch is still reported
    epochs = [m.epoch for m in trainer.history]
    assert len(epochs) <= 8 and epochs[-1] == 37 and trainer.epoch == 37
    assert epochs[:-1] == list(range(epochs[1] - epochs[0], 37, epochs[1] - epochs[0]))[
        :len(epochs) - 1]


def test_a_checkpoint_of_1600_epochs_at_latent_512_opens_again(tmp_path):
    # Each epoch's entry holds 512 KL terms (about 11 kB of JSON): unthinned, 1,600 of them
    # made a header larger than loading accepts, so the run wrote a file it could not open.
    config = ModelConfig((4, 4), (8,), 512)
    ae, vae = build_models(config, 0)
    history = tuple(_metrics(e, 512) for e in range(1, 1601))
    from vae_gui.model.checkpoint import Checkpoint

    ckpt = Checkpoint(ae, vae, config, TrainConfig(), "mnist5k", ("a",), 1600, 16000, history)
    loaded = load_checkpoint(save_checkpoint(ckpt, tmp_path / "long.safetensors"))
    assert loaded.epoch == 1600 and loaded.history[-1].epoch == 1600
    assert len(loaded.history) <= MAX_HISTORY
    assert loaded.history == tuple(thin_history(history))


def test_metadata_too_large_to_open_is_refused_before_anything_is_written(tmp_path):
    config = ModelConfig((4, 4), (8,), 2)
    ae, vae = build_models(config, 0)
    from vae_gui.model.checkpoint import Checkpoint

    huge = Checkpoint(ae, vae, config, TrainConfig(), "x" * MAX_HEADER_BYTES, ("a",))
    with pytest.raises(CheckpointError, match="nothing was saved"):
        checkpoint_bytes(huge)
    with pytest.raises(CheckpointError):
        save_checkpoint(huge, tmp_path / "c.safetensors")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------- checkpoint and metrics.json together


ABOUT_DATA = {"data_path": "streamed from disk by 2 worker processes",
              "test_set": "a fixed subset of 10,000 of the 20,000 test images (seed 0)"}


def _pair(tmp_path: Path, epoch: int):
    from vae_gui.model.checkpoint import Checkpoint

    config = ModelConfig((4, 4), (3,), 2)
    ae, vae = build_models(config, epoch)
    ckpt = Checkpoint(ae, vae, config, TrainConfig(), "mnist5k", ("a", "b"), epoch,
                      10 * epoch, tuple(_metrics(e) for e in range(1, epoch + 1)), "cpu")
    save_run(tmp_path, ckpt, every_epoch=False, about_data=ABOUT_DATA)
    return ckpt


def _metrics_epoch(folder: Path) -> int:
    return json.loads((folder / "metrics.json").read_text())["epoch"]


def test_metrics_json_is_the_checkpoints_own_account_of_the_run(tmp_path):
    ckpt = _pair(tmp_path, 3)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    meta = load_checkpoint(tmp_path / "checkpoint.safetensors").metadata()
    assert (metrics["epoch"], metrics["step"], metrics["device"]) == (3, 30, "cpu")
    assert metrics["epochs"] == meta["history"] and metrics["model"] == meta["model"]
    assert metrics["training"] == ckpt.train_config.to_dict()


def test_a_killed_runs_metrics_are_repaired_from_its_checkpoint(tmp_path):
    # A kill between the two renames: the checkpoint at epoch 3, metrics.json at 2; and a
    # kill after the first epoch's checkpoint, before any metrics.json. The killed run left
    # its lock file; nobody holds it.
    _pair(tmp_path, 2)
    metrics_2 = (tmp_path / "metrics.json").read_bytes()
    _pair(tmp_path, 3)
    (tmp_path / "metrics.json").write_bytes(metrics_2)
    (tmp_path / LOCK_NAME).touch()
    assert repair_metrics(tmp_path) and _metrics_epoch(tmp_path) == 3
    repaired = json.loads((tmp_path / "metrics.json").read_text())
    assert {k: repaired[k] for k in ABOUT_DATA} == ABOUT_DATA  # what the run said is kept
    assert not (tmp_path / LOCK_NAME).exists()  # whole again
    assert not repair_metrics(tmp_path)  # nothing to do now

    (tmp_path / "metrics.json").unlink()
    (tmp_path / LOCK_NAME).touch()
    assert repair_metrics(tmp_path) and _metrics_epoch(tmp_path) == 3


def test_no_repair_while_a_run_holds_the_folder_or_where_no_run_was_killed(tmp_path):
    _pair(tmp_path, 3)
    stale = json.dumps({"epoch": 1}).encode()
    (tmp_path / "metrics.json").write_bytes(stale)
    # No lock file: not a folder a killed run left (the package's pretrained models, say).
    assert not repair_metrics(tmp_path)
    lock = RunLock(tmp_path)
    assert lock.acquire()
    try:  # a live run writes the pair itself; a repair now could undo its next rename
        assert not repair_metrics(tmp_path)
        assert (tmp_path / "metrics.json").read_bytes() == stale
    finally:
        lock.release()
    assert repair_metrics(tmp_path) and _metrics_epoch(tmp_path) == 3


def test_a_second_run_into_a_folder_in_use_is_refused(tmp_path, capsys):
    lock = RunLock(tmp_path)
    assert lock.acquire()
    try:
        code = train_main(["--epochs", "1", "--hidden", "8", "--out", str(tmp_path),
                           "--device", "cpu"])
    finally:
        lock.release(remove=True)
    assert code == 1
    assert "another vae-gui train is writing to" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_lock_taken_on_a_removed_lock_file_is_taken_again(tmp_path):
    # The holder removes the file as it lets go; a process that opened the old file must
    # not believe it holds the lock on it while another locks the new one.
    first = RunLock(tmp_path)
    assert first.acquire()
    late_fd = os.open(tmp_path / LOCK_NAME, os.O_RDWR)  # opened before the release
    first.release(remove=True)
    second = RunLock(tmp_path)
    assert second.acquire()
    fcntl.flock(late_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # locks only the removed file
    third = RunLock(tmp_path)
    assert not third.acquire()  # the current file is held by `second`
    os.close(late_fd)
    second.release(remove=True)
    assert not (tmp_path / LOCK_NAME).exists()


# ------------------------------------------------------ temporary files of killed saves


def _stale(folder: Path, name: str, age_s: float = 60.0) -> Path:
    path = folder / name
    path.write_bytes(b"half a checkpoint")
    then = time.time() - age_s
    os.utime(path, (then, then))
    return path


def test_the_next_save_removes_what_killed_saves_left_behind(tmp_path):
    leftovers = [_stale(tmp_path, f".checkpoint.safetensors.vae-gui-{k}abcdef.tmp")
                 for k in range(3)] + [_stale(tmp_path, ".metrics.json.vae-gui-x1y2z3.tmp")]
    unrelated = [_stale(tmp_path, ".notes.txt.tmp"), _stale(tmp_path, "draft.vae-gui-1.tmp")]
    write_atomic(tmp_path / "metrics.json", b"{}")
    assert not any(p.exists() for p in leftovers)
    assert all(p.exists() for p in unrelated)  # not ours: never touched


def test_a_save_in_progress_elsewhere_keeps_its_temporary_file(tmp_path):
    live = _stale(tmp_path, ".checkpoint.safetensors.vae-gui-live01.tmp")
    fd = os.open(live, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # as another process's save holds it while writing
    try:
        assert remove_stale_temporaries(tmp_path) == []
        assert live.exists()
    finally:
        os.close(fd)
    fresh = _stale(tmp_path, ".checkpoint.safetensors.vae-gui-new001.tmp", age_s=0)
    assert remove_stale_temporaries(tmp_path) == [live.name]  # unlocked now; too new to tell
    assert fresh.exists()


def test_a_pipe_or_folder_is_never_replaced_by_a_save(tmp_path):
    pipe = tmp_path / "x.json"
    os.mkfifo(pipe)
    with pytest.raises(OSError, match="not a regular file"):
        write_atomic(pipe, b"{}")  # and it does not block, as opening a pipe would
    with pytest.raises(IsADirectoryError):
        write_atomic(tmp_path, b"{}")
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_save_run_holds_an_interrupt_until_the_pair_is_renamed(tmp_path, monkeypatch):
    # A Ctrl-C during the renames is not in the model layer's hands; the CLI holds it back
    # (interrupt_after). Here: the renames of a staged pair always complete together.
    _pair(tmp_path, 1)
    renames = []
    real_replace = atomic_write_module.os.replace

    def counting(src, dst):
        renames.append(Path(dst).name)
        real_replace(src, dst)

    monkeypatch.setattr(atomic_write_module.os, "replace", counting)
    _pair(tmp_path, 2)
    assert renames == ["checkpoint.safetensors", "metrics.json"]
    assert _metrics_epoch(tmp_path) == load_checkpoint(tmp_path / "checkpoint.safetensors").epoch


# ------------------------------------------------------------------- models too large


def test_the_memory_estimate_counts_the_parameters_it_builds():
    for config in (ModelConfig(), ModelConfig((12, 20), (7, 9, 3), 5), ModelConfig(latent_dim=1)):
        ae, vae = build_models(config, 0)
        assert parameter_count(config) == sum(p.numel() for m in (ae, vae)
                                              for p in m.parameters())


def test_a_model_too_large_for_memory_is_refused_before_allocation(tiny_data, monkeypatch):
    huge = ModelConfig(hidden=(8192,) * 8, latent_dim=2)
    need = training_bytes(huge, 128, 500)
    assert need > 50 * 1024**3  # about 1.9 billion parameters with their training state
    with pytest.raises(TooLarge, match=r"would need about [\d.,]+ GB.*only 4\.0 GB is avail"):
        check_fits(huge, 128, 500, available=4 * 1024**3)
    monkeypatch.setattr("vae_gui.model.memory_needs.available_bytes", lambda: 4 * 1024**3)
    built = []
    monkeypatch.setattr(training_module, "build_pair",
                        lambda *a, **k: built.append(a) or pytest.fail("allocated"))
    with pytest.raises(TooLarge):
        Trainer(tiny_data, huge, TrainConfig())
    assert built == []
    check_fits(ModelConfig(), 128, 5000, available=4 * 1024**3)  # the default pair fits

