"""The layers stay apart: vae_gui.model never imports Qt, and the app starts without torch."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

QT = {"PySide6", "pyqtgraph", "shiboken6", "superqt"}


def _modules_after(code: str) -> set[str]:
    """The names in sys.modules after running `code` in a fresh interpreter."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def _top_level(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


@pytest.mark.slow  # a new interpreter importing all of model/ (about 4 s)
def test_the_model_layer_never_imports_qt():
    # Every module of the package, including ones added later, and a dataset load.
    modules = _modules_after(
        "import importlib, pkgutil, vae_gui.model as m\n"
        "for info in pkgutil.iter_modules(m.__path__):\n"
        "    importlib.import_module('vae_gui.model.' + info.name)\n"
        "from vae_gui.model.data import load_dataset\n"
        "load_dataset('mnist5k')"
    )
    assert {"vae_gui.model.training", "vae_gui.model.checkpoint", "vae_gui.model.cli",
            "torch"} <= modules
    assert not _top_level(modules) & QT
    gui = {m for m in modules if m.startswith("vae_gui.")
           and not m.startswith(("vae_gui.model", "vae_gui.resources"))}
    assert not gui, f"the model layer imported GUI modules: {sorted(gui)}"


@pytest.mark.parametrize("module", ["vae_gui.app", "vae_gui.model.cli", "vae_gui.model.data",
                                    "vae_gui.model.config", "vae_gui.launch"])
def test_light_modules_do_not_import_torch(module):
    # torch takes seconds to import: the entry point, the CLI's usage errors, the embedded
    # dataset and the window (vae_gui.launch, which first paints it) must all be available
    # before it is. The window once imported torch through the settings panel, for a
    # constant: its first paint came 1.4 s later.
    modules = _modules_after(f"import {module}")
    assert module in modules
    assert not _top_level(modules) & {"torch", "torchvision"}


def test_no_module_of_the_model_layer_imports_qt_anywhere_in_its_source():
    # The import contract at any depth: an import inside a function runs only when called,
    # so the subprocess check above cannot see it; the source can.
    import ast
    from pathlib import Path

    import vae_gui.model

    folder = Path(vae_gui.model.__file__).parent
    offending = []
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""] if node.level == 0 else []
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                gui = name.startswith("vae_gui.") and not name.startswith(
                    ("vae_gui.model", "vae_gui.resources"))
                if top in QT or gui:
                    offending.append(f"{path.name}:{node.lineno} imports {name}")
    assert len(list(folder.glob("*.py"))) >= 10
    assert not offending, offending
