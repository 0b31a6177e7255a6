"""The wheel, as a user gets it: built from the repository's committed files, it holds the
vae_gui package only (the model layer, the embedded data and the pretrained models inside it),
and once installed into a fresh virtual environment it runs from there, away from the
repository: import, `vae-gui train`, `vae-gui --screenshot` and `python -m vae_gui --help`.

Slow (a build, a venv and three real processes): `pytest -m slow` runs it, as .ci/run does.
Nothing is downloaded: the build uses this environment's setuptools (--no-build-isolation),
pip never looks at an index (--no-index), and the venv sees this environment's packages
(torch, Qt) through --system-site-packages.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
SHIPPED = ("vae_gui/__main__.py", "vae_gui/app.py", "vae_gui/model/__init__.py",
           "vae_gui/model/checkpoint.py", "vae_gui/resources/mnist5k.npz",
           "vae_gui/resources/pretrained/checkpoint.safetensors",
           "vae_gui/resources/pretrained/judge.safetensors")


def _run(args: list, cwd: Path, timeout: float = 300, env: dict | None = None,
         ) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, (f"{args} exited {result.returncode}\n"
                                    f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from `git archive HEAD`: what is committed, nothing else of the tree."""
    if not (REPO / ".git").exists():
        pytest.skip("the wheel is built from the git repository's committed files")
    source = tmp_path_factory.mktemp("source")
    archive = tmp_path_factory.mktemp("archive") / "head.tar"
    _run(["git", "-C", REPO, "archive", "--format=tar", "-o", archive, "HEAD"], cwd=REPO)
    with tarfile.open(archive) as tar:
        tar.extractall(source, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    dist = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
          "--no-index", "-q", "-w", dist, "."], cwd=source)
    wheels = list(dist.glob("*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A virtual environment with the wheel installed; torch and Qt come from this one."""
    root = tmp_path_factory.mktemp("venv") / "env"
    # No pip of its own (ensurepip is slow, and its setuptools may be older): this
    # environment's pip, run by the venv's Python, installs into the venv.
    _run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", root],
         cwd=root.parent)
    _run([python_of(root), "-m", "pip", "install", "--no-deps", "--no-index", "-q", wheel],
         cwd=root.parent)
    return root


def python_of(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def command_of(venv: Path) -> list:
    """`vae-gui` from the venv's scripts folder, or `python -m vae_gui` where there is none."""
    script = venv / ("Scripts/vae-gui.exe" if os.name == "nt" else "bin/vae-gui")
    return [script] if script.exists() else [python_of(venv), "-m", "vae_gui"]


def clean_env(**extra: str) -> dict:
    """This environment without PYTHONPATH (nothing points back into the repository)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(extra)
    return env


def test_the_wheel_holds_vae_gui_only_with_its_data(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
    for shipped in SHIPPED:
        assert shipped in names, f"{shipped} is not in the wheel"
    assert any(n.startswith("vae_gui/model/") for n in names)
    top = {n.split("/")[0] for n in names}
    dist_info = {t for t in top if t.endswith(".dist-info")}
    assert len(dist_info) == 1 and top - dist_info == {"vae_gui"}, sorted(top)
    assert not any(n.startswith(("model/", "resources/", "tests/")) for n in names)


def test_the_installed_wheel_imports_from_the_venv(venv, tmp_path):
    # The repository is also installed here in editable mode: the venv's copy must win.
    result = _run([python_of(venv), "-c",
                   "import vae_gui, vae_gui.model, vae_gui.resources;"
                   "print(vae_gui.__file__); print(vae_gui.model.__file__)"],
                  cwd=tmp_path, env=clean_env())
    files = [Path(line).resolve() for line in result.stdout.split()]
    assert len(files) == 2
    for file in files:
        assert file.is_relative_to(venv.resolve()), f"{file} is not inside the venv"
        assert not file.is_relative_to(REPO), f"{file} comes from the repository"


def test_python_m_vae_gui_help_exits_0(venv, tmp_path):
    result = _run([python_of(venv), "-m", "vae_gui", "--help"], cwd=tmp_path, env=clean_env())
    assert "usage: vae-gui" in result.stdout and "train" in result.stdout


def test_the_installed_command_trains_headless(venv, tmp_path):
    _run([*command_of(venv), "train", "--epochs", "1", "--hidden", "16", "--out", "RUN"],
         cwd=tmp_path, env=clean_env())
    assert (tmp_path / "RUN" / "checkpoint.safetensors").is_file()


def test_the_installed_command_opens_the_window_on_the_embedded_models(venv, tmp_path):
    # --screenshot opens the window on the embedded data and the pretrained models, saves
    # it once they are drawn, and exits 0.
    result = _run([*command_of(venv), "--screenshot", "shot.png"], cwd=tmp_path,
                  env=clean_env(QT_QPA_PLATFORM="offscreen"))
    assert (tmp_path / "shot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Traceback" not in result.stderr, result.stderr
