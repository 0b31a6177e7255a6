"""The soak script's quick mode trains with live views, drags, and prints its table; no timing
or memory figure is asserted (the full 60 s run and its numbers are in docs/reliability.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# The soak's quick mode runs for about 15 s: `pytest -m slow` runs it (.ci/run does).
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent


def test_soak_quick_runs_without_errors_and_prints_its_table() -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    result = subprocess.run([sys.executable, "benchmarks/soak.py", "--quick"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "## Soak: 5 s of training" in out
    for row in ("| training steps", "| snapshots drawn", "| cursor moves decoded",
                "| heartbeat gaps p50 / p99 / max", "| stalls > 50 / 100 / 250 ms",
                "| RSS at start / after warm-up / end", "| RSS growth after warm-up",
                "| errors seen (exceptions, error dialogs) | 0"):
        assert row in out, out
    assert "Traceback" not in result.stderr, result.stderr
