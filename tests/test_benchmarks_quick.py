"""The training benchmark's quick mode runs and prints its tables; no timing is asserted."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

# The training benchmark's quick mode runs for about 10 s: `pytest -m slow` runs it (.ci/run does).
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent


def test_bench_train_quick_prints_tables() -> None:
    result = subprocess.run(
        [sys.executable, "benchmarks/bench_train.py", "--quick"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "| method" in out and "samples/s median" in out and "samples/s worst" in out
    for label in ("ours: Trainer", "reference: DataLoader + ToTensor"):
        assert label in out
    ratios = re.findall(r"^ratio ours/reference, [^:]*: ([0-9.]+)x", out, flags=re.MULTILINE)
    assert len(ratios) == 2, out
    assert all(math.isfinite(float(r)) and float(r) > 0 for r in ratios)
    assert "Training quality" in out
    losses = re.findall(r"^\| 1 +\| ([0-9.]+) +\| ([0-9.]+) +\|", out, flags=re.MULTILINE)
    assert len(losses) == 1, out
    assert all(math.isfinite(float(v)) and float(v) > 0 for v in losses[0])


def test_bench_train_precision_quick_prints_fp32_against_bf16() -> None:
    # Quick mode trains one epoch of 512 images in each precision (bf16 is emulated, and slow,
    # on a CPU without native bf16): about 6 s, most of it importing torch.
    result = subprocess.run(
        [sys.executable, "benchmarks/bench_train.py", "--part", "precision", "--quick"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "Mixed precision" in out and "--precision auto picks " in out
    row = re.search(r"^\| 1 +\| ([0-9.]+) +\| ([0-9.]+) +\| [-+][0-9.]+ \([-+][0-9.]+%\) +\|",
                    out, flags=re.MULTILINE)
    assert row is not None, out
    assert all(math.isfinite(float(v)) and float(v) > 0 for v in row.groups())
    assert re.search(r"^largest \|bf16 - fp32\| of the means over epochs: [0-9.]+%.*target 1% "
                     r"per epoch: (met|NOT met)$", out, flags=re.MULTILINE), out


# A stand-in for PyTorch's example (vae/main.py is not part of vae-gui): the same command line
# and the same epoch lines, reading ../data through torchvision as the example does, so that
# the benchmark's running, timing and parsing are exercised without a copy of it.
STAND_IN_EXAMPLE = '''
import argparse, torch
from torchvision import datasets, transforms
p = argparse.ArgumentParser()
p.add_argument("--epochs", type=int, default=10)
p.add_argument("--no-accel", action="store_true")
p.add_argument("--log-interval", type=int, default=10)
args = p.parse_args()
data = datasets.MNIST("../data", train=True, download=True, transform=transforms.ToTensor())
x = torch.stack([data[i][0].flatten() for i in range(len(data))])
w = torch.zeros(784, requires_grad=True)
opt = torch.optim.Adam([w], lr=0.1)
for epoch in range(1, args.epochs + 1):
    loss = torch.nn.functional.binary_cross_entropy_with_logits(
        w.expand_as(x), x, reduction="sum") / len(x)
    opt.zero_grad(); loss.backward(); opt.step()
    print(f"====> Epoch: {epoch} Average loss: {loss.item():.4f}")
    print(f"====> Test set loss: {loss.item():.4f}")
'''


def test_bench_example_quick_prints_both_tables(tmp_path) -> None:
    import gzip

    import numpy as np
    from dataset_files import write_idx

    rng = np.random.default_rng(0)
    data = tmp_path / "t10k"
    data.mkdir()
    for name, array in (("t10k-images-idx3-ubyte", rng.integers(0, 256, (200, 28, 28))),
                        ("t10k-labels-idx1-ubyte", np.arange(200) % 10)):
        write_idx(tmp_path / name, array)
        (data / f"{name}.gz").write_bytes(gzip.compress((tmp_path / name).read_bytes()))
    example = tmp_path / "main.py"
    example.write_text(STAND_IN_EXAMPLE)
    result = subprocess.run(
        [sys.executable, "benchmarks/bench_example.py", "--example", str(example), "--data",
         str(data), "--quick"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    row = re.search(r"^\| torch's default threads \| ([0-9.]+) +\| ([0-9.]+) +\| ([0-9.]+)x",
                    out, flags=re.MULTILINE)
    assert row is not None, out
    assert all(math.isfinite(float(v)) and float(v) >= 0 for v in row.groups())  # no timing
    losses = re.findall(r"^\| torch's default threads \| ([12]) +\| ([0-9.]+) +\| ([0-9.]+)",
                        out, flags=re.MULTILINE)
    assert [e for e, _, _ in losses] == ["1", "2"], out


def test_bench_stream_quick_prints_the_table_and_the_same_weights() -> None:
    # Writes 600 PNGs and trains on them in memory and streamed: about 15 s.
    result = subprocess.run(
        [sys.executable, "benchmarks/bench_stream.py", "--quick"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    for label in ("in memory (one tensor, sliced)", "streamed, 0 worker processes",
                  "streamed, 2 worker processes", "reading alone, no model"):
        assert label in out, out
    medians = re.findall(r"^\| streamed, \d worker process(?:es)? +\| ([0-9,]+) ", out,
                         flags=re.MULTILINE)
    assert len(medians) == 3 and all(int(m.replace(",", "")) > 0 for m in medians), out
    assert "every streamed run trained the same weights as the in-memory run: yes" in out


def test_bench_matmul_quick_prints_the_step_and_the_products() -> None:
    result = subprocess.run(
        [sys.executable, "benchmarks/bench_matmul.py", "--quick"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    share = re.search(r"^matrix products \(aten::mm \+ aten::addmm\): (\d+)% of the step",
                      out, flags=re.MULTILINE)
    assert share is not None and 0 < int(share.group(1)) <= 100, out
    speeds = re.findall(r"^\| [^|]+\| \d+ x \d+ x \d+ +\| (\d+) +\|", out, flags=re.MULTILINE)
    assert len(speeds) == 6 and all(int(s) > 0 for s in speeds), out
