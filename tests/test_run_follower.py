"""Following a run, without a window: RunFollower reports each new version of a run's
checkpoint once, by polling. Quick; test_gui_tools.py follows real training runs in the
window (slow: it trains twice)."""

from __future__ import annotations

import shutil

from vae_gui.model.checkpoint import save_checkpoint


def test_the_follower_reports_each_new_checkpoint_once(qtbot, tmp_path, saved_checkpoint,
                                                       make_checkpoint):
    from vae_gui.controllers.run_follower import RunFollower

    follower = RunFollower()
    seen: list[str] = []
    follower.checkpoint_changed.connect(seen.append)
    run = tmp_path / "run"
    run.mkdir()
    follower.follow(run)
    assert follower.following and seen == []  # nothing written yet
    target = run / "checkpoint.safetensors"

    # The first checkpoint is found by the follower's own polling.
    with qtbot.waitSignal(follower.checkpoint_changed, timeout=10000):
        shutil.copy(saved_checkpoint, target)
    assert seen == [str(target)]
    follower.poll()
    assert seen == [str(target)]  # unchanged: not reported again

    # A new version, saved as `vae-gui train` saves (an atomic rename), is reported once.
    save_checkpoint(make_checkpoint(seed=2, epoch=2), target)
    follower.poll()
    follower.poll()
    assert seen == [str(target)] * 2

    follower.stop()
    assert not follower.following
    save_checkpoint(make_checkpoint(seed=3, epoch=3), target)
    follower.poll()
    assert seen == [str(target)] * 2  # stopped: nothing more
