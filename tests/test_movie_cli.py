"""`vae-gui movie RUN --out run.gif`, run as a user would (in-process). No Qt."""

from __future__ import annotations

import numpy as np
import torch
from checkpoint_files import checkpoint_with_timeline, write_run
from PIL import Image
from vae_gui.model.checkpoint import load_checkpoint, save_checkpoint
from vae_gui.model.data import load_dataset
from vae_gui.model.run_folder import CHECKPOINT_NAME, epoch_checkpoint_name
from vae_gui.model.run_timeline import load_run_timeline

from vae_gui.app import main


def test_a_run_folder_becomes_a_gif_with_one_frame_per_epoch(tmp_path, make_checkpoint,
                                                             capsys):
    run = write_run(tmp_path / "run", make_checkpoint)
    out = tmp_path / "run.gif"
    assert main(["movie", str(run), "--out", str(out), "--size", "400x220",
                 "--fps", "10"]) == 0
    assert "3 frames (epochs 1 to 3)" in capsys.readouterr().err
    with Image.open(out) as gif:
        assert gif.n_frames == 3 and gif.size == (400, 220) and gif.info["duration"] == 100
    # The moments are the checkpoints' models applied to the test split, epoch by epoch.
    timeline = load_run_timeline(run)
    data = load_dataset("mnist5k")
    for epoch, moment in enumerate(timeline.moments, start=1):
        ckpt = load_checkpoint(run / epoch_checkpoint_name(epoch))
        with torch.no_grad():
            mu, _ = ckpt.vae.encode(torch.tensor(data.test_images).flatten(1))
        np.testing.assert_allclose(moment.vae_mu, mu.numpy(), atol=1e-5)
        assert (moment.epoch, moment.step) == (epoch, 32 * epoch)


def test_a_checkpoint_with_its_timeline_becomes_a_gif(tmp_path, make_checkpoint, capsys):
    path = save_checkpoint(checkpoint_with_timeline(make_checkpoint, moments=3),
                           tmp_path / "run.safetensors")
    out = tmp_path / "run.gif"
    assert main(["movie", str(path), "--out", str(out), "--models", "vae"]) == 0
    assert "4 frames (epochs 1 to 4)" in capsys.readouterr().err
    with Image.open(out) as gif:
        assert gif.n_frames == 4


def main_err(argv, capsys) -> str:
    """What the command says on stderr; it must fail."""
    assert main(argv) == 1
    return capsys.readouterr().err


def test_what_cannot_be_a_movie_says_why(tmp_path, make_checkpoint, capsys):
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    save_checkpoint(make_checkpoint(), lonely / CHECKPOINT_NAME)
    assert main(["movie", str(lonely), "--out", str(tmp_path / "a.gif")]) == 1
    assert "--save-every-epoch" in capsys.readouterr().err
    assert "carries no timeline" in main_err(["movie", str(lonely / CHECKPOINT_NAME), "--out",
                                               str(tmp_path / "a.gif")], capsys)
    assert main(["movie", str(tmp_path / "none"), "--out", str(tmp_path / "a.gif")]) == 1
    assert "neither a run folder nor a checkpoint" in capsys.readouterr().err
    run = write_run(tmp_path / "run", make_checkpoint)
    assert main(["movie", str(run), "--out", str(tmp_path / "a.txt")]) == 1
    assert ".gif" in capsys.readouterr().err
    assert not (tmp_path / "a.gif").exists() and not (tmp_path / "a.txt").exists()
