"""File > Compare two checkpoints, as a user would: both measured in the background, then
their clouds and figures side by side."""

from __future__ import annotations

import pytest
from gui_helpers import make_window
from vae_gui.model.checkpoint import save_checkpoint
from vae_gui.model.config import ModelConfig

TIMEOUT = 120000


@pytest.mark.slow  # measures two checkpoints as evaluate does: ~6 s
def test_two_checkpoints_are_shown_side_by_side_with_the_better_figures(
        qtbot, tmp_path, make_checkpoint):
    a = save_checkpoint(make_checkpoint(seed=1), tmp_path / "a.safetensors")
    b = save_checkpoint(make_checkpoint(seed=2), tmp_path / "b.safetensors")
    window = make_window(qtbot, tmp_path)
    assert window.compare.action in window.menuBar().actions()[0].menu().actions()  # File
    with qtbot.waitSignal(window.compare.shown, timeout=TIMEOUT) as shown:
        window.compare.compare(a, b, max_images=40)
    compared = shown.args[0]
    assert [p.name for p in compared.comparison.paths] == ["a.safetensors", "b.safetensors"]
    assert len(compared.pictures) == 2
    assert all(not label.pixmap().isNull() for label in compared.pictures)
    rows = {label: (va, vb, better) for label, va, vb, better in compared.rows}
    ae = rows["AE reconstruction, nats"]
    figures = [r["sets"]["test"]["left"]["recon"] for r in compared.comparison.reports]
    assert ae[:2] == tuple(f"{v:.2f}" for v in figures)
    assert ae[2] == ("A" if figures[0] < figures[1] else "B")
    assert "a.safetensors" in compared.table.text() and window.compare.action.isEnabled()
    compared.close()


def test_checkpoints_of_two_image_sizes_are_refused_with_the_reason(
        qtbot, tmp_path, make_checkpoint):
    a = save_checkpoint(make_checkpoint(), tmp_path / "a.safetensors")
    other = ModelConfig(image_shape=(16, 16), hidden=(32,), latent_dim=2)
    b = save_checkpoint(make_checkpoint(config=other), tmp_path / "b.safetensors")
    window = make_window(qtbot, tmp_path)
    with qtbot.waitSignal(window.compare.error, timeout=TIMEOUT) as error:
        window.compare.compare(a, b)
    assert "28x28 and 16x16" in error.args[1]
    assert window.compare.action.isEnabled()
