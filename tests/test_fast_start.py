"""The window's start-up imports pyqtgraph without the CUDA bindings, and leaves them
importable."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import importlib.util, sys
from vae_gui.fast_start import UNUSED_BY_PYQTGRAPH, import_pyqtgraph
import_pyqtgraph()
assert "pyqtgraph" in sys.modules
assert UNUSED_BY_PYQTGRAPH not in sys.modules, "the bindings were imported"
if importlib.util.find_spec("cuda") is not None and importlib.util.find_spec(
        UNUSED_BY_PYQTGRAPH) is not None:
    importlib.import_module(UNUSED_BY_PYQTGRAPH)  # still importable for whoever wants them
print("ok")
"""


def test_pyqtgraph_is_imported_without_the_cuda_bindings_which_stay_importable():
    done = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
