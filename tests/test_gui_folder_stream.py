"""The window trains on a folder streamed from disk, says so, shows the load's progress, and
leaves no worker process behind when the run stops."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from gui_helpers import (  # noqa: F401 - the fixture is used by every test here
    collect_windows_after_test,
    make_window,
    press,
    type_into,
)


def _children(pid: int) -> list[int]:
    """The living (not zombie) child processes of `pid`."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] not in ("Z", "X"):
            found.append(int(stat.parent.name))
    return found


def _stream_workers() -> list[int]:
    """The DataLoader workers running for this process: children of its fork server."""
    servers = [p for p in _children(os.getpid())
               if b"forkserver" in Path(f"/proc/{p}/cmdline").read_bytes()]
    return [w for server in servers for w in _children(server)]


def test_training_on_a_folder_streamed_from_disk_says_so(qtbot, tmp_path, monkeypatch):
    from PIL import Image

    monkeypatch.setenv("VAE_GUI_STREAM_ABOVE_MB", "0")  # this small folder streams
    monkeypatch.setenv("VAE_GUI_STREAM_WORKERS", "1")
    rng = np.random.default_rng(0)
    root = tmp_path / "pictures"
    for name in ("dots", "lines"):
        (root / name).mkdir(parents=True)
        for k in range(30):
            pixels = rng.integers(0, 256, (10, 10), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{k}.png")
    window = make_window(qtbot, tmp_path)
    panel, pretrained = window.settings_panel, window.snapshot
    loading = []
    window.session.loading.connect(loading.append)
    type_into(qtbot, panel.dataset, str(root))
    panel.image_size.setValue(10)
    press(qtbot, window, window.train_action)
    qtbot.waitUntil(lambda: window.snapshot is not pretrained and window.snapshot.step > 0,
                    timeout=60000)
    assert window.image_shape == (10, 10)
    text = window.source_label.text()
    assert text.startswith("Training on pictures (") and (
        "streamed from disk by 1 worker process; test loss and clouds: all 12 test images"
        in text), text
    # The load said how far it had got: the listing, then the images held in memory.
    assert [p.stage for p in loading][-1] == "reading" and loading[-1].done == 60
    assert loading[-1].describe() == f"Reading images of {root}: 60 of 60"
    qtbot.waitUntil(lambda: len(_stream_workers()) == 1, timeout=30000)
    press(qtbot, window, window.stop_action)
    qtbot.waitUntil(lambda: not window.session.running, timeout=30000)
    qtbot.waitUntil(lambda: _stream_workers() == [], timeout=10000)


def test_opening_a_checkpoint_of_a_folder_shows_how_its_reading_goes(
        qtbot, tmp_path, make_checkpoint):
    from PIL import Image
    from vae_gui.model.checkpoint import save_checkpoint
    from vae_gui.model.config import ModelConfig

    rng = np.random.default_rng(1)
    root = tmp_path / "pictures"
    for name in ("dots", "lines"):
        (root / name).mkdir(parents=True)
        for k in range(20):
            Image.fromarray(rng.integers(0, 256, (10, 10), dtype=np.uint8)).save(
                root / name / f"{k}.png")
    config = ModelConfig(image_shape=(10, 10), hidden=(8,), latent_dim=2)
    path = save_checkpoint(make_checkpoint(config=config, dataset=str(root),
                                           class_names=("dots", "lines")),
                           tmp_path / "folder.safetensors")
    window = make_window(qtbot, tmp_path)
    messages = []
    window.files.message.connect(lambda text, _ms: messages.append(text))
    with qtbot.waitSignal(window.files.loaded, timeout=60000):
        window.files.open_checkpoint(str(path), ask=False)
    # The load's thread reported the listing and the reading; the status bar shows the
    # latest a few times a second (here the last, since 40 images read in a moment).
    last = window.files._load_progress[0]
    assert (last.stage, last.done, last.total) == ("reading", 40, 40)
    window.files._show_load_progress()
    assert messages[-1] == f"Reading images of {root}: 40 of 40\u2026"
    assert window.image_shape == (10, 10)
