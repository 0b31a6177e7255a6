"""Mixed precision (issue 14, item 1): which precision trains where, a bf16 step under
autocast, and the precision named in the configuration, checkpoints, metrics.json and the CLI.

Qt-free. No GPU is needed: the CUDA rules are checked with torch's bf16 query replaced.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import torch
from vae_gui.model.config import PRECISIONS, ModelConfig, TrainConfig
from vae_gui.model.precision import (
    autocast,
    choose_precision,
    cpu_has_native_bf16,
    describe_auto,
    grad_scaler,
    read_cpu_flags,
)

CPU, CUDA, MPS = torch.device("cpu"), torch.device("cuda"), torch.device("mps")
REPO = Path(__file__).resolve().parent.parent


def flags(*names: str):
    """A CPU flag reader that reports `names`, as /proc/cpuinfo would."""
    return lambda: frozenset(names)


# ---------------------------------------------------------------------------- the rules


@pytest.mark.parametrize("cpu_flags, expected", [
    (("avx2", "avx512f"), "fp32"),  # AVX-512 without its bf16 extension: emulated, slower
    (("avx2", "avx512_bf16"), "bf16"),
    (("amx_bf16", "amx_tile"), "bf16"),
    ((), "fp32"),  # flags unknown (not Linux): no native bf16 assumed
])
def test_auto_on_the_cpu_picks_bf16_only_with_native_bf16(cpu_flags, expected):
    choice = choose_precision("auto", CPU, flags(*cpu_flags))
    assert choice.precision == expected and choice.reason.startswith("auto")
    assert choose_precision("auto", CPU, flags(*cpu_flags)).precision == expected


def test_fp32_and_bf16_on_the_cpu_are_what_was_asked_for():
    assert choose_precision("fp32", CPU, flags("avx512_bf16")).precision == "fp32"
    # bf16 works on any CPU (autocast emulates it), and the reason says it is slow there.
    slow = choose_precision("bf16", CPU, flags("avx2"))
    assert slow.precision == "bf16" and "slower" in slow.reason
    assert choose_precision("bf16", CPU, flags("amx_bf16")).reason == "asked for"


@pytest.mark.parametrize("device", [CPU, MPS])
def test_fp16_off_cuda_is_refused_with_a_sentence(device):
    with pytest.raises(ValueError, match=f"fp16 training needs a CUDA GPU, but this run trains "
                                         f"on {device.type}; use --precision bf16 or fp32"):
        choose_precision("fp16", device, flags("avx512_bf16"))


def test_mps_trains_in_fp32():
    assert choose_precision("auto", MPS).precision == "fp32"
    assert choose_precision("fp32", MPS).precision == "fp32"
    with pytest.raises(ValueError, match="bf16 training is not supported on mps"):
        choose_precision("bf16", MPS)


@pytest.mark.parametrize("native, expected", [(True, "bf16"), (False, "fp16")])
def test_auto_on_cuda_picks_bf16_where_the_gpu_has_it_else_fp16(monkeypatch, native, expected):
    asked = []

    def is_bf16_supported(including_emulation: bool = True) -> bool:
        asked.append(including_emulation)
        return native

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", is_bf16_supported)
    assert choose_precision("auto", CUDA).precision == expected
    assert asked == [False]  # native support only: emulated bf16 is slower than fp16
    assert choose_precision("fp16", CUDA).precision == "fp16"
    assert choose_precision("bf16", CUDA).precision == "bf16"


def test_an_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="precision must be one of auto, fp32, bf16, fp16"):
        choose_precision("fp8", CPU)


def test_the_cpu_flags_are_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Some CPU\n"
                       "flags\t\t: fpu sse2 avx2 avx512_bf16\n\nprocessor\t: 1\n")
    assert read_cpu_flags(str(cpuinfo)) >= {"avx2", "avx512_bf16"}
    assert cpu_has_native_bf16(lambda: read_cpu_flags(str(cpuinfo)))
    assert read_cpu_flags(str(tmp_path / "absent")) == frozenset()
    assert "fp32 on this CPU" in describe_auto(flags("avx2"))
    assert "bf16 on this CPU" in describe_auto(flags("amx_bf16"))


def test_autocast_and_the_gradient_scaler_follow_the_precision():
    linear = torch.nn.Linear(4, 3)
    with autocast("fp32", CPU):
        assert linear(torch.ones(2, 4)).dtype == torch.float32
    with autocast("bf16", CPU):
        assert linear(torch.ones(2, 4)).dtype == torch.bfloat16
    assert grad_scaler("fp32", CPU) is None and grad_scaler("bf16", CUDA) is None
    with warnings.catch_warnings():  # without CUDA here the scaler warns and disables itself
        warnings.simplefilter("ignore")
        assert isinstance(grad_scaler("fp16", CUDA), torch.amp.GradScaler)


# -------------------------------------------------------------------------- a train step


def _trainer(tiny_data, precision: str):
    from vae_gui.model.training import Trainer

    config = ModelConfig(hidden=(32,), latent_dim=2)
    return Trainer(tiny_data, config, TrainConfig(batch_size=64, seed=3, device="cpu",
                                                  precision=precision))


def test_a_bf16_step_runs_its_matrix_work_in_bf16_and_reports_a_loss_close_to_fp32s(
        tiny_data, one_thread):
    fp32, bf16 = _trainer(tiny_data, "fp32"), _trainer(tiny_data, "bf16")
    assert (fp32.precision, bf16.precision) == ("fp32", "bf16")
    assert fp32.scaler is None and bf16.scaler is None
    seen: dict[str, list[torch.dtype]] = {"fp32": [], "bf16": []}
    for name, trainer in (("fp32", fp32), ("bf16", bf16)):
        for model in (trainer.ae, trainer.vae):
            model.encoder.net[0].register_forward_hook(
                lambda module, args, out, name=name: seen[name].append(out.dtype))
    a, b = fp32.train_step(), bf16.train_step()  # the same weights, batch and noise
    assert set(seen["fp32"]) == {torch.float32} and set(seen["bf16"]) == {torch.bfloat16}
    assert b.is_finite() and b != a
    for x, y in zip(a.to_dict().values(), b.to_dict().values(), strict=True):
        assert y == pytest.approx(x, rel=0.02, abs=0.05)
    # The weights and the optimizers stay float32; so do evaluation and the snapshots.
    assert all(p.dtype == torch.float32 for p in (*bf16.ae.parameters(),
                                                  *bf16.vae.parameters()))
    seen["bf16"].clear()
    test, _ = bf16.evaluate()
    snapshot = bf16.snapshot()
    assert set(seen["bf16"]) == {torch.float32} and test.is_finite()
    assert snapshot.vae_mu.dtype == snapshot.ae_codes.dtype == "float32"


def test_fp16_on_the_cpu_is_refused_before_training(tiny_data):
    with pytest.raises(ValueError, match="fp16 training needs a CUDA GPU"):
        _trainer(tiny_data, "fp16")


# ------------------------------------------------------- configuration, checkpoint, metrics


def test_the_precision_round_trips_and_an_older_config_reads_as_fp32():
    assert TrainConfig().precision == "auto" and PRECISIONS == ("auto", "fp32", "bf16", "fp16")
    for precision in PRECISIONS:
        config = TrainConfig(precision=precision)
        assert TrainConfig.from_dict(config.to_dict()) == config
    older = TrainConfig().to_dict()
    del older["precision"]  # written before mixed precision: it trained in fp32
    assert TrainConfig.from_dict(older).precision == "fp32"
    with pytest.raises(ValueError, match="precision must be one of auto, fp32, bf16, fp16, "
                                         "not 'half'"):
        TrainConfig(precision="half")


def test_checkpoints_and_metrics_say_which_precision_trained(tmp_path, make_checkpoint):
    from vae_gui.model.checkpoint import load_checkpoint, read_metadata, save_checkpoint
    from vae_gui.model.run_folder import metrics_document

    path = save_checkpoint(make_checkpoint(device="cpu", precision="bf16"),
                           tmp_path / "bf16.safetensors")
    loaded = load_checkpoint(path)
    assert (loaded.device, loaded.precision) == ("cpu", "bf16")
    assert metrics_document(read_metadata(path))["precision"] == "bf16"


def test_older_checkpoints_open_with_the_precision_unknown(rewrite_checkpoint):
    from vae_gui.model.checkpoint import load_checkpoint
    from vae_gui.model.run_folder import metrics_document

    def older(meta: dict) -> None:
        del meta["precision"]
        del meta["training"]["precision"]

    loaded = load_checkpoint(rewrite_checkpoint(older))
    assert loaded.precision == "" and loaded.train_config.precision == "fp32"
    assert metrics_document(loaded.metadata())["precision"] == ""
    # The shipped pretrained models predate mixed precision, and still open.
    shipped = load_checkpoint(REPO / "resources" / "pretrained" / "checkpoint.safetensors")
    assert shipped.precision == "" and shipped.train_config.precision == "fp32"


@pytest.mark.parametrize("value", [16, None, "x" * 17])
def test_a_damaged_precision_is_refused(rewrite_checkpoint, value):
    from vae_gui.model.checkpoint import load_checkpoint
    from vae_gui.model.errors import CheckpointError

    with pytest.raises(CheckpointError, match="precision must be a short name"):
        load_checkpoint(rewrite_checkpoint(lambda meta: meta.update(precision=value)))


def test_the_cli_trains_in_the_precision_asked_for_and_says_so(tmp_path, capsys, one_thread):
    from vae_gui.model.cli import main

    out = tmp_path / "run"
    assert main(["--epochs", "1", "--hidden", "16", "--out", str(out), "--device", "cpu",
                 "--precision", "fp32"]) == 0
    stdout = capsys.readouterr().out
    assert " on cpu in fp32 (asked for)" in stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["device"], metrics["precision"]) == ("cpu", "fp32")
    assert metrics["training"]["precision"] == "fp32"


def test_the_cli_refuses_fp16_on_the_cpu_with_the_reason(tmp_path, capsys):
    from vae_gui.model.cli import main

    assert main(["--device", "cpu", "--precision", "fp16", "--out", str(tmp_path / "o")]) == 1
    assert "fp16 training needs a CUDA GPU" in capsys.readouterr().err


def test_auto_on_cuda_works_with_a_torch_that_has_no_including_emulation(monkeypatch):
    """torch 2.2 (allowed by pyproject) has is_bf16_supported() without the keyword."""
    import torch
    from vae_gui.model.precision import choose_precision

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert choose_precision("auto", torch.device("cuda")).precision == "fp16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert choose_precision("auto", torch.device("cuda")).precision == "bf16"
