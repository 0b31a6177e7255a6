"""The layers stay apart: model/ never imports Qt, and the app starts without torch."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def _modules_after(code: str) -> set[str]:
    """The names in sys.modules after running `code` in a fresh interpreter."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def _top_level(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


def test_the_model_layer_never_imports_qt():
    # Every module of the package, including ones added later, and a dataset load.
    modules = _modules_after(
        "import importlib, pkgutil, model\n"
        "for m in pkgutil.iter_modules(model.__path__):\n"
        "    importlib.import_module('model.' + m.name)\n"
        "import model.training, model.checkpoint, model.cli\n"
        "from model.data import load_dataset\n"
        "load_dataset('mnist5k')"
    )
    assert {"model.training", "model.checkpoint", "model.cli", "torch"} <= modules
    assert not _top_level(modules) & {"PySide6", "pyqtgraph", "shiboken6", "vae_gui"}


@pytest.mark.parametrize("module", ["vae_gui.app", "model.cli", "model.data", "model.config"])
def test_light_modules_do_not_import_torch(module):
    # torch takes seconds to import: the entry point, the CLI's usage errors and the embedded
    # dataset must all be available before it is.
    modules = _modules_after(f"import {module}")
    assert module in modules
    assert not _top_level(modules) & {"torch", "torchvision"}
