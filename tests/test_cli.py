"""`vae-gui train`: a real run, usage errors with exit status 2, and Ctrl-C (issue 6, item 6)."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from vae_gui.model.checkpoint import load_checkpoint
from vae_gui.model.cli import main

TRAIN = [sys.executable, "-m", "vae_gui.app", "train"]


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def _wait_for(condition, timeout: float = 90.0) -> bool:
    """Polls `condition` until it holds or `timeout` seconds (a generous bound) pass."""
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()


def _env() -> dict[str, str]:
    # One thread: the test process and other work share the cores, and an oversubscribed
    # OpenMP pool slows training several times over.
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    env.pop("PYTHONWARNINGS", None)
    return env


@pytest.mark.parametrize("how", [
    # main() in this process: the quick real run of the default `pytest` (~0.3 s once
    # torch is imported and warm).
    "in-process",
    # The command itself, in a new process: importing torch there takes most of its ~6 s.
    pytest.param("command", marks=pytest.mark.slow),
])
def test_a_real_run_writes_a_checkpoint_and_metrics(tmp_path, capsys, how):
    out = tmp_path / "run"
    args = ["--epochs", "1", "--hidden", "64", "--out", str(out), "--save-every-epoch",
            "--device", "cpu"]
    if how == "command":
        result = subprocess.run([*TRAIN, *args], capture_output=True, text=True, timeout=120,
                                env=_env())
        code, stdout, stderr = result.returncode, result.stdout, result.stderr
    else:
        code = main(args)
        stdout, stderr = capsys.readouterr()
    assert code == 0, stderr
    assert "epoch   1/1  test: AE recon" in stdout + stderr
    assert "Saved" in stdout
    checkpoint = load_checkpoint(out / "checkpoint.safetensors")
    assert (checkpoint.epoch, checkpoint.dataset, checkpoint.step) == (1, "mnist5k", 32)
    assert checkpoint.model_config.hidden == (64,) and len(checkpoint.history) == 1
    per_epoch = load_checkpoint(out / "epoch-0001.safetensors")
    assert per_epoch.metadata() == checkpoint.metadata()

    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["dataset"] == "mnist5k" and metrics["model"]["hidden"] == [64]
    assert metrics["device"] == "cpu" and metrics["training"]["epochs"] == 1
    (epoch,) = metrics["epochs"]
    assert epoch["epoch"] == 1 and epoch["seconds"] > 0
    for split in ("train", "test"):
        assert set(epoch[split]) == {"left", "right"}
        ae, vae = epoch[split]["left"], epoch[split]["right"]
        assert (ae["kind"], ae["kl"], vae["kind"]) == ("ae", 0.0, "vae")
        assert all(50 < v < 600 for v in (ae["recon"], vae["loss"], vae["recon"]))
    assert epoch["test"]["right"]["loss"] == pytest.approx(checkpoint.history[0].test.vae_loss)
    # Written through temporary files, none of which is left; readable like any other file.
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.safetensors",
                                                     "epoch-0001.safetensors", "metrics.json"]
    # metrics.json describes the checkpoint's moment, from its own metadata.
    assert (metrics["epoch"], metrics["step"]) == (checkpoint.epoch, checkpoint.step)
    umask = os.umask(0)
    os.umask(umask)
    for p in out.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~umask


def _usage_error(capsys, argv) -> str:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: vae-gui train") and "error:" in err
    return err


@pytest.mark.parametrize("argv, fragment", [
    (["--epochs", "0"], "--epochs: must be at least 1, not 0"),
    (["--epochs", "ten"], "--epochs: 'ten' is not a whole number"),
    (["--epochs", "100001"], "--epochs: must be at most 100000, not 100001"),
    (["--beta", "-1"], "--beta: must be at least 0, not -1"),
    (["--beta", "inf"], "--beta: must be a finite number, not inf"),
    (["--beta", "1000.5"], "--beta: must be at most 1000, not 1000.5"),
    (["--beta", "much"], "--beta: 'much' is not a number"),
    (["--latent-dim", "0"], "--latent-dim: must be at least 1"),
    (["--latent-dim", "100000"], "--latent-dim: must be at most 512"),
    (["--hidden", "0"], "--hidden: must be at least 1"),
    (["--hidden", "10000000"], "--hidden: must be at most 8192"),
    (["--hidden", *["8"] * 9], "--hidden: the number of layer sizes must be at most 8, not 9"),
    (["--lr", "0"], "--lr: must be at least 1e-08, not 0"),
    (["--lr", "nan"], "--lr: must be a finite number, not nan"),
    (["--lr", "1e6"], "--lr: must be at most 10, not 1000000"),
    (["--batch-size", "0"], "--batch-size: must be at least 1"),
    (["--batch-size", "8193"], "--batch-size: must be at most 8192, not 8193"),
    (["--seed", "-1"], "--seed: must be at least 0"),
    (["--seed", str(10**30)], "--seed: must be at most 4294967295"),
    (["--image-size", "100000"], "--image-size: must be at most 512"),
    (["--loss", "l1"], "--loss: invalid choice"),
    (["--device", "tpu"], "--device: invalid choice"),
    (["--dataset", "nosuch"], "--dataset 'nosuch': not one of mnist5k"),
    (["--frobnicate"], "unrecognized arguments"),
])
def test_invalid_values_give_a_usage_error(capsys, tmp_path, argv, fragment):
    out = tmp_path / "out"
    err = _usage_error(capsys, [*argv, "--out", str(out)])
    assert fragment in err
    assert not out.exists()  # nothing was written for a run that never started


def test_an_unwritable_out_gives_a_usage_error(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a regular file, so nothing can be created under it")
    err = _usage_error(capsys, ["--out", str(blocker / "run")])
    assert f"--out {blocker / 'run'}: cannot write there" in err


def test_usage_errors_exit_2_from_the_real_command(tmp_path):
    # -X importtime lists every module the command imports (on stderr, one per line).
    result = subprocess.run([sys.executable, "-X", "importtime", *TRAIN[1:], "--epochs", "0",
                             "--out", str(tmp_path / "o")],
                            capture_output=True, text=True, timeout=60, env=_env())
    assert result.returncode == 2
    assert "usage: vae-gui train" in result.stderr and "--epochs" in result.stderr
    assert "Traceback" not in result.stderr
    # Usage errors answer before torch is imported (which takes seconds).
    imported = [line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines()
                if line.startswith("import time:")]
    assert "vae_gui.model.cli" in imported  # the list is there and complete
    assert not [name for name in imported if name == "torch" or name.startswith("torch.")]


def test_a_dataset_problem_exits_1_with_the_reason(capsys, tmp_path):
    empty = tmp_path / "empty-folder"
    empty.mkdir()
    assert main(["--dataset", str(empty), "--out", str(tmp_path / "o")]) == 1
    assert "no sub-folders" in capsys.readouterr().err


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="CUDA is available here")
def test_an_absent_device_exits_1_with_the_reason(capsys, tmp_path):
    assert main(["--device", "cuda", "--out", str(tmp_path / "o")]) == 1
    assert "use --device cpu" in capsys.readouterr().err


def test_a_diverging_run_exits_1_and_says_what_to_do(capsys, tmp_path):
    # 10 is the highest rate allowed (BOUNDS["lr"]); with the default network (hidden 256 128,
    # batch 128) it makes the VAE's log-variance overflow within 3 to 5 steps (seeds 0 to 2).
    out = tmp_path / "o"
    assert main(["--lr", "10", "--epochs", "2", "--out", str(out), "--device", "cpu"]) == 1
    err = capsys.readouterr().err
    assert "Training diverged" in err and "lower the learning rate (now 10)" in err
    assert not (out / "checkpoint.safetensors").exists()  # it diverged in the first epoch


def test_a_full_disk_during_a_save_exits_1_and_keeps_nothing_half_written(
        capsys, tmp_path, monkeypatch):
    import errno

    import vae_gui.model.atomic_write

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(vae_gui.model.atomic_write.os, "replace", no_space)
    out = tmp_path / "o"
    assert main(["--epochs", "1", "--hidden", "16", "--out", str(out), "--device", "cpu"]) == 1
    monkeypatch.undo()
    assert "No space left on device" in capsys.readouterr().err
    assert list(out.iterdir()) == []  # no checkpoint, no temporary file


@pytest.mark.slow  # a new process (~6 s) each; the quick equivalent follows
@pytest.mark.parametrize("sig, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)],
                         ids=["SIGINT", "SIGTERM"])
def test_ctrl_c_keeps_the_last_completed_epoch(tmp_path, sig, status):
    # SIGTERM (kill, a session ending) is handled as Ctrl-C is, with its own exit status;
    # before, it ended the run without a word.
    out = tmp_path / "run"
    checkpoint = out / "checkpoint.safetensors"
    # stderr to a file, not a pipe: nobody reads it until the end, and the progress bar
    # would block the run once a pipe was full.
    stderr_path = tmp_path / "stderr.txt"
    with open(stderr_path, "w") as stderr_file:
        child = subprocess.Popen([*TRAIN, "--epochs", "1000", "--hidden", "64", "--out",
                                  str(out), "--device", "cpu"],
                                 stdout=subprocess.DEVNULL, stderr=stderr_file, env=_env())
    try:
        # metrics.json is written last of an epoch's files: once it is there, epoch 1 is
        # saved and the run trains on (a Ctrl-C during the save would be held back).
        assert _wait_for(lambda: (out / "metrics.json").exists() or child.poll() is not None)
        assert (out / "metrics.json").exists(), "no epoch completed"
        child.send_signal(sig)
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    stderr = stderr_path.read_text()
    assert child.returncode == status, stderr
    assert "Traceback" not in stderr
    saved = load_checkpoint(checkpoint)
    assert saved.epoch >= 1 and len(saved.history) == saved.epoch
    assert f"Interrupted; the checkpoint of epoch {saved.epoch} is in {checkpoint}" in stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["epochs"]) == saved.epoch == metrics["epoch"]
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.safetensors", "metrics.json"]


@pytest.mark.slow  # ten real runs, each killed (about 60 s)
def test_a_run_killed_at_any_moment_leaves_a_checkpoint_and_metrics_that_agree(tmp_path):
    # Before: of 33 SIGKILLs, 9 to 17 left checkpoint.safetensors and metrics.json one epoch
    # apart, 1 left no metrics.json, and 12 left temporary files that nothing removed. Now
    # the pair is staged and renamed back to back (a kill can fall only between the two
    # renames), a killed run's metrics.json is repaired from its checkpoint when the folder
    # is next used, and the next save removes the killed saves' temporary files.
    import random

    from vae_gui.model.run_folder import repair_metrics

    out = tmp_path / "run"
    rng = random.Random(15)
    apart, leftovers = 0, 0
    for _ in range(10):
        # One step an epoch: about ten saves a second, so that kills land in saves too.
        child = subprocess.Popen([*TRAIN, "--epochs", "100000", "--hidden", "8", "--batch-size",
                                  "8192", "--out", str(out), "--device", "cpu"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 env=_env())
        try:
            assert _wait_for(lambda c=child: (out / "metrics.json").exists()
                             or c.poll() is not None)
            time.sleep(rng.uniform(0, 1.5))  # a random moment: what this test is about
        finally:
            child.kill()
            child.wait()
        checkpoint = load_checkpoint(out / "checkpoint.safetensors")  # always whole
        metrics = out / "metrics.json"
        if not metrics.exists() or json.loads(metrics.read_text())["epoch"] != checkpoint.epoch:
            apart += 1
        leftovers += len([p for p in out.iterdir() if p.name.endswith(".tmp")])
        repair_metrics(out)  # what the next run, or the window opening it, does first
        assert json.loads(metrics.read_text())["epoch"] == checkpoint.epoch
        (out / "metrics.json").unlink()  # the next run starts from an empty folder's view
    print(f"kills leaving the pair apart before repair: {apart} of 10; temporary files left: "
          f"{leftovers}")
    # A final run into the same folder removes what killed saves left behind.
    assert main(["--epochs", "1", "--hidden", "8", "--out", str(out), "--device", "cpu"]) == 0
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp") or p.name.startswith(
        ".vae-gui")]


@pytest.mark.slow  # a real run (~6 s)
def test_a_file_name_the_terminal_cannot_encode_is_printed_escaped(tmp_path):
    # A folder name with bytes that are not UTF-8, and a strict UTF-8 stdout: before, the
    # final "Saved ..." line raised UnicodeEncodeError after training (exit 1).
    out = os.fsencode(tmp_path) + b"/run-\xff\xfe"
    env = dict(_env(), PYTHONIOENCODING="utf-8:strict", LC_ALL="C.UTF-8")
    result = subprocess.run([*map(os.fsencode, TRAIN), b"--epochs", b"1", b"--hidden", b"8",
                             b"--out", out, b"--device", b"cpu"], env=env, capture_output=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert b"Saved " in result.stdout and b"run-\\udcff\\udcfe" in result.stdout
    assert (Path(os.fsdecode(out)) / "checkpoint.safetensors").is_file()


@pytest.mark.slow  # a real run (~4 s)
def test_a_model_too_large_for_the_memory_limit_is_refused_up_front(tmp_path):
    # Before: under an 8 GB address-space limit, 8 hidden layers of 8192 ended after 12 s and
    # 5 GB in a traceback from torch's allocator.
    import resource

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (8 * 1024**3, 8 * 1024**3))

    result = subprocess.run([*TRAIN, "--hidden", *["8192"] * 8, "--out", str(tmp_path / "o"),
                             "--device", "cpu"], env=_env(), capture_output=True, text=True,
                            timeout=300, preexec_fn=limit)
    assert result.returncode == 1, result.stderr
    assert "would need about" in result.stderr and "GB is available" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_interrupt_after_an_epoch_exits_130_and_keeps_that_epoch(tmp_path, capsys,
                                                                   monkeypatch):
    # The quick equivalent of the test above, in this process: Ctrl-C (KeyboardInterrupt, as
    # Python raises it) lands at the first step of epoch 2.
    from vae_gui.model.training import Trainer

    real_step = Trainer.train_step

    def step(self):
        if self.epoch == 1:
            raise KeyboardInterrupt
        return real_step(self)

    monkeypatch.setattr(Trainer, "train_step", step)
    out = tmp_path / "run"
    checkpoint = out / "checkpoint.safetensors"
    try:
        code = main(["--epochs", "3", "--hidden", "16", "--out", str(out), "--device", "cpu"])
    except KeyboardInterrupt:  # escaping, it would stop the whole pytest session
        pytest.fail("the interrupt escaped main()")
    assert code == 130
    err = capsys.readouterr().err
    assert f"Interrupted; the checkpoint of epoch 1 is in {checkpoint}" in err
    saved = load_checkpoint(checkpoint)
    assert saved.epoch == 1 and len(saved.history) == 1
    assert len(json.loads((out / "metrics.json").read_text())["epochs"]) == 1
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.safetensors", "metrics.json"]


def test_ctrl_c_during_an_epoch_save_waits_for_the_save_to_finish():
    # The checkpoint and metrics.json of one epoch are written as a unit: a Ctrl-C that lands
    # while they are written is raised only afterwards, so they always agree.
    from vae_gui.model.cli import interrupt_after

    finished = []
    delivered = threading.Event()
    # Whatever handled Ctrl-C before (Python's default; SIG_IGN under a background job).
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt), interrupt_after():
        holder = signal.getsignal(signal.SIGINT)  # the handler that holds Ctrl-C back

        def spy(signum, frame):
            holder(signum, frame)  # raises nothing: it only notes the signal
            delivered.set()

        signal.signal(signal.SIGINT, spy)
        os.kill(os.getpid(), signal.SIGINT)
        assert delivered.wait(60)  # the signal has been delivered, and held back
        finished.append(True)
    assert finished == [True]
    assert signal.getsignal(signal.SIGINT) == before  # the handler restored


def test_help_lists_every_documented_option(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--dataset", "--data-root", "--epochs", "--latent-dim", "--hidden", "--beta",
                   "--lr", "--batch-size", "--loss", "--seed", "--device", "--out",
                   "--save-every-epoch"):
        assert option in text


def test_the_entry_point_routes_train_to_the_cli(tmp_path, capsys):
    from vae_gui.app import main as app_main

    with pytest.raises(SystemExit) as info:
        app_main(["train", "--epochs", "0", "--out", str(tmp_path / "o")])
    assert info.value.code == 2
    assert Path(tmp_path / "o").exists() is False


# ------------------------------------------------------------------ the epoch line's labels


def _metrics(beta: float):
    from vae_gui.model.training import EpochMetrics, Losses

    recon, kl = 150.0, 8.0
    test = Losses.ae_vae(ae_recon=140.0, vae_loss=recon + beta * kl, vae_recon=recon, vae_kl=kl)
    return EpochMetrics(3, 1.25, test, test, ((), (4.0, 4.0)))


def _terms(line: str) -> dict[str, float]:
    """The labelled numbers of an epoch line: {'VAE loss': 158.0, 'recon': 150.0, ...}."""
    import re

    return {label: float(number) for label, number in
            re.findall(r"(VAE loss|AE recon|recon|beta\*KL|KL|beta)\s+([-\d.]+)", line)}


def test_the_epoch_line_prints_the_kl_under_its_own_name_when_beta_is_1():
    from vae_gui.model.cli import format_epoch

    line = format_epoch(_metrics(1.0), 10, beta=1.0)
    assert "recon  150.00 + KL   8.00" in line and "beta" not in line
    terms = _terms(line)
    assert terms["VAE loss"] == terms["recon"] + terms["KL"] == 158.0


@pytest.mark.parametrize("beta", [0.0, 0.5, 4.0])
def test_the_epoch_line_prints_beta_times_kl_as_beta_kl(beta):
    # It used to print the unweighted KL after the label "beta*KL", so that the terms of
    # "VAE loss = recon + beta*KL" did not add up whenever beta was not 1.
    from vae_gui.model.cli import format_epoch

    line = format_epoch(_metrics(beta), 10, beta=beta)
    terms = _terms(line)
    assert terms["beta*KL"] == pytest.approx(beta * 8.0) and terms["KL"] == 8.0
    assert terms["beta"] == beta
    assert terms["VAE loss"] == pytest.approx(terms["recon"] + terms["beta*KL"])
    assert line.startswith("epoch   3/10  test: AE recon  140.00 | VAE loss")


@pytest.mark.slow  # format_epoch's tests above check the line quickly
def test_a_run_with_beta_prints_the_weighted_kl(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["--epochs", "1", "--hidden", "16", "--beta", "0.5", "--out", str(out),
                 "--device", "cpu"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("epoch"))
    metrics = json.loads((out / "metrics.json").read_text())["epochs"][0]["test"]["right"]
    terms = _terms(line)
    assert terms["beta*KL"] == pytest.approx(0.5 * metrics["kl"], abs=0.01)
    assert terms["KL"] == pytest.approx(metrics["kl"], abs=0.01)


def test_a_real_run_with_beta_4_prints_four_times_the_kl_it_records(tmp_path, capsys):
    # A user saw `--beta 4` print "beta*KL 3.15" where 3.15 was the unweighted KL. The real
    # path: parsing, the trainer's evaluation, the printed line and metrics.json.
    out = tmp_path / "run"
    assert main(["--epochs", "1", "--hidden", "16", "--beta", "4", "--out", str(out),
                 "--device", "cpu"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("epoch"))
    test = json.loads((out / "metrics.json").read_text())["epochs"][0]["test"]["right"]
    terms = _terms(line)
    assert terms["beta"] == 4
    # Each printed number is rounded to 2 decimals: half a unit in the last place each.
    assert terms["beta*KL"] == pytest.approx(4 * test["kl"], abs=0.005)
    assert terms["KL"] == pytest.approx(test["kl"], abs=0.005)
    assert terms["recon"] == pytest.approx(test["recon"], abs=0.005)
    assert test["loss"] == pytest.approx(test["recon"] + 4 * test["kl"], rel=1e-6)
    assert terms["VAE loss"] == pytest.approx(terms["recon"] + terms["beta*KL"], abs=0.015)


# ------------------------------------------------------------------------ the run folder


def test_run_folder_names():
    from vae_gui.model.run_folder import (
        CHECKPOINT_NAME,
        METRICS_NAME,
        epoch_checkpoint_name,
        epoch_of,
    )

    assert (CHECKPOINT_NAME, METRICS_NAME) == ("checkpoint.safetensors", "metrics.json")
    assert epoch_checkpoint_name(1) == "epoch-0001.safetensors"
    assert epoch_checkpoint_name(12345) == "epoch-12345.safetensors"
    assert epoch_of("epoch-0042.safetensors") == 42 and epoch_of("epoch-12345.safetensors")
    for name in ("epoch-.safetensors", ".epoch-0001.safetensors.abc.tmp", "epoch-1.pt",
                 "checkpoint.safetensors", "epoch-0001.safetensors.bak"):
        assert epoch_of(name) is None, name
    with pytest.raises(ValueError):
        epoch_checkpoint_name(-1)


def test_latest_checkpoint_prefers_the_runs_checkpoint_then_the_highest_epoch(tmp_path):
    from vae_gui.model.run_folder import epoch_checkpoint_name, latest_checkpoint

    assert latest_checkpoint(tmp_path) is None
    assert latest_checkpoint(tmp_path / "missing") is None
    (tmp_path / "metrics.json").write_text("{}")
    (tmp_path / ".epoch-0099.safetensors.x1y2.tmp").write_bytes(b"")  # an unfinished save
    (tmp_path / "epoch-0500.safetensors").mkdir()  # not a file
    assert latest_checkpoint(tmp_path) is None
    for epoch in (1, 2, 9999, 10000, 3):
        (tmp_path / epoch_checkpoint_name(epoch)).write_bytes(b"")
    # By number, not by name: "epoch-10000" sorts before "epoch-9999" as text.
    assert latest_checkpoint(tmp_path) == tmp_path / "epoch-10000.safetensors"
    (tmp_path / "checkpoint.safetensors").write_bytes(b"")
    assert latest_checkpoint(str(tmp_path)) == tmp_path / "checkpoint.safetensors"


@pytest.mark.slow  # the test above checks latest_checkpoint quickly
def test_latest_checkpoint_of_a_real_run(tmp_path):
    from vae_gui.model.run_folder import CHECKPOINT_NAME, latest_checkpoint

    out = tmp_path / "run"
    assert main(["--epochs", "2", "--hidden", "16", "--out", str(out), "--device", "cpu",
                 "--save-every-epoch"]) == 0
    assert latest_checkpoint(out) == out / CHECKPOINT_NAME
    (out / CHECKPOINT_NAME).unlink()
    assert latest_checkpoint(out) == out / "epoch-0002.safetensors"
    assert load_checkpoint(latest_checkpoint(out)).epoch == 2


def test_a_failed_save_of_an_epoch_keeps_the_previous_pair(tmp_path, monkeypatch):
    # Checkpoint and metrics.json are staged, then renamed together: a write that fails
    # (a full disk at metrics.json's sync) replaces neither and leaves no temporary file.
    import errno

    import vae_gui.model.atomic_write
    from vae_gui.model.checkpoint import Checkpoint
    from vae_gui.model.cli import save_run
    from vae_gui.model.config import ModelConfig, TrainConfig
    from vae_gui.model.networks import build_models

    config = ModelConfig((4, 4), (3,), 2)
    ae, vae = build_models(config, 0)
    first = Checkpoint(ae, vae, config, TrainConfig(), "mnist5k", ("a", "b"), 1, 10)
    save_run(tmp_path, first, every_epoch=False)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    syncs = []

    def no_space_at_the_second(fd):
        syncs.append(fd)
        if len(syncs) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(vae_gui.model.atomic_write.os, "fsync", no_space_at_the_second)
    with pytest.raises(OSError, match="No space"):
        save_run(tmp_path, dataclasses.replace(first, epoch=2, step=20), every_epoch=False)
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert json.loads(before["metrics.json"])["epoch"] == 1


def test_following_a_pipe_is_a_usage_error(capsys, tmp_path):
    from vae_gui.app import main as app_main

    pipe = tmp_path / "run"
    os.mkfifo(pipe)
    with pytest.raises(SystemExit) as info:
        app_main(["--follow", str(pipe)])
    assert info.value.code == 2 and "is not a folder" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["train", "--dataset", ""], ["train", "--out", ""], ["train", "--data-root", " "],
    [""], ["--screenshot", ""], ["--follow", ""], ["open", "--screenshot", "", "x"],
    ["evaluate", ""], ["evaluate", "ckpt.safetensors", "--held-out", ""],
    ["evaluate", "ckpt.safetensors", "--json", ""],
], ids=lambda argv: " ".join(repr(a) for a in argv))
def test_an_empty_path_or_name_is_a_usage_error(capsys, tmp_path, monkeypatch, argv):
    from vae_gui.app import main as app_main

    monkeypatch.chdir(tmp_path)  # nothing may be written here either
    with pytest.raises(SystemExit) as info:
        app_main(argv)
    assert info.value.code == 2
    assert "must not be empty" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
