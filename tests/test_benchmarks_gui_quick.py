"""The GUI benchmarks' quick modes run and print their tables; no timing is asserted.

Each runs in its own process, as a user runs it, on Qt's offscreen platform.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

# Each runs a GUI benchmark's quick mode for 20 to 45 s: `pytest -m slow` runs them (.ci/run does).
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent


def run_benchmark(script: str, *args: str) -> str:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    result = subprocess.run([sys.executable, f"benchmarks/{script}", "--quick", *args],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    for bad in ("Traceback", "deallocating", "QThread: Destroyed"):
        assert bad not in result.stderr, result.stderr[-3000:]
    return result.stdout


def numbers_in_rows(out: str, first_cell: str, exact: bool = False) -> list[list[float]]:
    """The numeric cells of the markdown table rows whose first cell starts with first_cell
    (or is first_cell, when `exact`)."""
    rows = []
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and (cells[0] == first_cell if exact
                                     else cells[0].startswith(first_cell)):
            rows.append([float(c.replace(",", "").rstrip("x")) for c in cells[1:]
                         if re.fullmatch(r"-?[0-9][0-9,]*(\.[0-9]+)?x?", c)])
    return rows


def test_bench_gui_quick_prints_every_table(tmp_path) -> None:
    png = tmp_path / "plots.png"
    out = run_benchmark("bench_gui.py", "--png", str(png))
    for heading in ("## Drag latency", "## Latent plot refresh",
                    "## Responsiveness: event-loop stalls", "## Live-training overhead"):
        assert heading in out
    assert "| condition" in out and "p95 ms" in out
    drag = (numbers_in_rows(out, "idle", exact=True)
            + numbers_in_rows(out, "while training", exact=True))
    assert len(drag) == 4 and all(len(r) >= 3 and all(math.isfinite(v) for v in r) for r in drag)
    for size in ("1k", "10k", "70k", "200k"):
        rows = numbers_in_rows(out, size, exact=True)
        assert len(rows) >= 4, (size, out)
    assert "[density]" in out and "[points]" in out  # both modes drawn and named
    stalls = numbers_in_rows(out, "training with live views")
    # seconds, beats, gap p50, p99 and max are positive; the count of gaps > 50 ms may be 0
    assert stalls and all(math.isfinite(v) and v > 0 for v in stalls[0][:5])
    assert stalls[0][5] >= 0
    rates = numbers_in_rows(out, "GUI: Train") + numbers_in_rows(out, "headless")
    assert len(rates) == 2 and all(r[0] > 0 for r in rates), out
    assert re.search(r"target: the GUI trains at least .*\(([0-9.]+)x\)", out)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_startup_quick_prints_its_table() -> None:
    out = run_benchmark("bench_startup.py")
    assert "| what" in out and "median s" in out
    for label in ("reference: python -c", "app: first window painted", "app: interactive",
                  "python -m vae_gui.app --screenshot"):
        rows = numbers_in_rows(out, label)
        assert rows and rows[0][0] > 0, (label, out)
    assert "first paint at most" in out and "interactive at most" in out


def test_bench_points_quick_prints_every_table() -> None:
    out = run_benchmark("bench_points.py")
    for heading in ("## Encoding one snapshot's cloud", "## Drawing: both latent plots",
                    "## Training beside a 7,000-point cloud",
                    "## The window training on the 70k set"):
        assert heading in out, out
    # Each table has its rows, with the point counts the quick mode's data gives.
    for first in ("test split", "test + training splits"):
        assert len(numbers_in_rows(out, first, exact=True)) == 2, out
    assert numbers_in_rows(out, "no snapshots (a script)", exact=True)
    window = numbers_in_rows(out, "1,000", exact=True) + numbers_in_rows(out, "7,000",
                                                                          exact=True)
    assert len(window) == 2 and all(len(r) == 6 for r in window), out  # the count is the key
