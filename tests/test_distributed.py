"""Training across processes with torch.distributed (gloo on the CPU). No Qt."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist
from vae_gui.model.config import TrainConfig
from vae_gui.model.distributed import DistributedContext, context_from_environment, share
from vae_gui.model.training import Trainer


def test_torchruns_environment_describes_the_process():
    assert context_from_environment({}) is None
    assert context_from_environment({"WORLD_SIZE": "1", "RANK": "0"}) is None
    ctx = context_from_environment({"WORLD_SIZE": "4", "RANK": "2", "LOCAL_RANK": "0"})
    assert ctx == DistributedContext(2, 4, 0) and not ctx.is_main
    assert ctx.backend("cpu") == "gloo" and ctx.backend("cuda") == "nccl"
    for bad in ({"WORLD_SIZE": "2", "RANK": "2"}, {"WORLD_SIZE": "two"}):
        with pytest.raises(ValueError):
            context_from_environment(bad)


def test_each_process_takes_an_interleaved_share_and_together_the_whole_batch():
    batch = torch.arange(10)
    shares = [share(batch, DistributedContext(r, 3, r)) for r in range(3)]
    assert [s.tolist() for s in shares] == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]
    assert share(batch, None) is batch


@pytest.fixture
def one_process_group(tmp_path):
    """A gloo process group of one (rendezvous through a file: no network)."""
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rendezvous'}", rank=0,
                            world_size=1)
    yield DistributedContext(0, 1, 0)
    dist.destroy_process_group()


def test_the_distributed_step_is_the_single_process_step(tiny_data, small_config,
                                                         one_process_group):
    """Through DistributedDataParallel with one process, the run is the plain run."""
    config = TrainConfig(epochs=1, batch_size=50, seed=3)
    plain = Trainer(tiny_data, small_config, config)
    wrapped = Trainer(tiny_data, small_config, config, distributed=one_process_group)
    assert all(isinstance(m, torch.nn.parallel.DistributedDataParallel)
               for m in wrapped._step_mods)
    plain.run()
    wrapped.run()
    assert wrapped.history[0].test == plain.history[0].test
    for a, b in zip(plain.vae.state_dict().values(), wrapped.vae.state_dict().values(),
                    strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # two runs in new processes, about 20 s
def test_torchrun_with_two_processes_matches_one_process_of_the_same_batches(tmp_path):
    args = ["train", "--epochs", "2", "--hidden", "64", "--device", "cpu",
            "--batch-size", "100"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1"}
    two = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
         "--master-addr", "127.0.0.1", "--master-port", str(_free_port()),
         "-m", "vae_gui", *args, "--out", str(tmp_path / "two")],
        capture_output=True, text=True, timeout=300, env=env)
    assert two.returncode == 0, two.stderr[-2000:]
    assert "2 processes on cpu, each with 1/2 of every batch of 100" in two.stdout
    assert two.stdout.count("Saved") == 1  # process 0 alone writes
    one = subprocess.run([sys.executable, "-m", "vae_gui", *args, "--out",
                          str(tmp_path / "one")],
                         capture_output=True, text=True, timeout=300, env=env)
    assert one.returncode == 0, one.stderr[-2000:]
    runs = [json.loads((tmp_path / name / "metrics.json").read_text())["epochs"]
            for name in ("two", "one")]
    for a, b in zip(*runs, strict=True):
        # The AE is deterministic: averaged gradients of two halves are the whole batch's.
        assert a["test"]["left"]["recon"] == pytest.approx(b["test"]["left"]["recon"],
                                                           rel=1e-4)
        # The VAE's noise differs between the processes: close, not equal.
        assert a["test"]["right"]["loss"] == pytest.approx(b["test"]["right"]["loss"],
                                                           rel=0.02)
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == [
        "checkpoint.safetensors", "metrics.json"]
