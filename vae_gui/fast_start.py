"""What the window's start-up does before its first frame that a plain import would not."""

from __future__ import annotations

import importlib
import sys

# pyqtgraph's RawImageGLWidget (which vae-gui never uses) tries the CUDA runtime bindings
# that recent torch wheels install; importing them took about 0.1 s of a start-up measured
# at 1.8 s (docs/benchmarks.md, Start-up).
UNUSED_BY_PYQTGRAPH = "cuda.bindings"


def import_pyqtgraph() -> None:
    """Imports pyqtgraph without the CUDA bindings it would only look for; they stay
    importable afterwards (torch may want them)."""
    if "pyqtgraph" in sys.modules or UNUSED_BY_PYQTGRAPH in sys.modules:
        return
    sys.modules[UNUSED_BY_PYQTGRAPH] = None  # an ImportError to pyqtgraph, which carries on
    try:
        importlib.import_module("pyqtgraph")
    finally:
        if sys.modules.get(UNUSED_BY_PYQTGRAPH, 0) is None:
            del sys.modules[UNUSED_BY_PYQTGRAPH]
