"""Nothing trained is lost silently: Reset, Train from scratch, Open and close ask first
(with "Don't ask again"), and File ▸ Restore pretrained models brings those back."""

from __future__ import annotations

import pytest
from gui_helpers import (  # noqa: F401 - the fixture is used by every test here
    answer_question,
    collect_windows_after_test,
    make_window,
    press,
)


def train_a_little(qtbot, window) -> None:
    shown = window.snapshot
    press(qtbot, window, window.train_action)
    qtbot.waitUntil(lambda: window.snapshot is not shown and window.snapshot.step > 3,
                    timeout=60000)
    press(qtbot, window, window.stop_action)
    qtbot.waitUntil(lambda: not window.session.running, timeout=30000)


@pytest.mark.slow  # a few seconds; the same question on closing is checked quickly below
def test_reset_asks_before_discarding_trained_models(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path, ask_before_discarding=True)
    train_a_little(qtbot, window)
    trained = window.snapshot
    asked = answer_question("Cancel")
    press(qtbot, window, window.reset_action)
    assert asked and "not saved" in asked[0] and "Reset replaces them" in asked[0]
    assert window.snapshot is trained and not window.session.running  # kept

    asked = answer_question("Discard", dont_ask_again=True)
    press(qtbot, window, window.reset_action)
    assert asked
    qtbot.waitUntil(lambda: window.snapshot.step == 0, timeout=30000)
    # "Don't ask again" holds: the next discard goes ahead without a question.
    train_a_little(qtbot, window)
    press(qtbot, window, window.reset_action)
    qtbot.waitUntil(lambda: window.snapshot.step == 0, timeout=30000)


def test_saved_models_are_not_asked_about(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path, ask_before_discarding=True)
    assert not window.guard.unsaved  # the pretrained models are on disk
    train_a_little(qtbot, window)
    assert window.guard.unsaved
    window.save_checkpoint(str(tmp_path / "kept.safetensors"))
    qtbot.waitUntil(lambda: not window.guard.unsaved, timeout=30000)
    press(qtbot, window, window.reset_action)  # no question: it would block this test
    qtbot.waitUntil(lambda: window.snapshot.step == 0, timeout=30000)


def test_closing_with_unsaved_models_asks_and_cancel_keeps_the_window(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path, ask_before_discarding=True)
    train_a_little(qtbot, window)
    asked = answer_question("Cancel")
    window.close()
    assert asked and window.isVisible()
    answer_question("Discard")
    with qtbot.waitSignal(window.closed, timeout=30000):
        window.close()


def test_restore_pretrained_models_brings_them_back(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    pretrained_step = window.snapshot.step
    train_a_little(qtbot, window)
    assert window.snapshot.step != pretrained_step
    with qtbot.waitSignal(window.files.loaded, timeout=30000):
        window.files.restore_action.trigger()
    assert window.snapshot.step == pretrained_step
    assert "pretrained" in window.source_label.text()
