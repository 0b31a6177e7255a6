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
