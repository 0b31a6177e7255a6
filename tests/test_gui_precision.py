"""The settings panel's precision reaches the run, and the status bar names it (issue 14)."""

from __future__ import annotations

from gui_helpers import (  # noqa: F401 - the fixture is used by every test here
    collect_windows_after_test,
    make_window,
    press,
)


def test_bf16_chosen_in_the_panel_trains_and_the_status_bar_says_so(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path, load=False)
    panel = window.settings_panel
    combo = panel.precision
    assert [combo.itemText(i) for i in range(combo.count())] == ["auto", "fp32", "bf16", "fp16"]
    assert combo.currentText() == "auto" and "Auto picks" in combo.toolTip()
    combo.setCurrentIndex(combo.findText("bf16"))
    assert panel.spec().train_config.precision == "bf16"
    press(qtbot, window, window.train_action)
    qtbot.waitUntil(lambda: window.source_label.text().startswith("Training on"),
                    timeout=60000)
    text = window.source_label.text()  # "(cpu, bf16)" here; a GPU machine names cuda
    assert text.startswith("Training on mnist5k (") and text.endswith(", bf16)"), text
    press(qtbot, window, window.stop_action)
    qtbot.waitUntil(lambda: not window.session.running, timeout=30000)
    assert window.state.origin.train_config.precision == "bf16"
