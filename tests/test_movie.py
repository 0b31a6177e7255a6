"""A run's clouds as a movie: frames, the GIF Pillow reads back, and clear refusals. No Qt."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image
from vae_gui.model import movie
from vae_gui.model.class_colors import class_color, rgb
from vae_gui.model.movie import MovieError, plot_frames, render_frame, save_movie
from vae_gui.model.movie_settings import MovieSettings
from vae_gui.model.networks import build_models
from vae_gui.model.training import snapshot_of

NAMES = tuple(str(i) for i in range(10))


@pytest.fixture
def moments(tiny_data, small_config):
    """Four moments of 100 test points each, from differently seeded models."""
    out = []
    for step in range(4):
        ae, vae = build_models(small_config, seed=step)
        s = snapshot_of((ae, vae), tiny_data)
        out.append(dataclasses.replace(s, step=step * 10, epoch=float(step)))
    return out


def test_a_gif_has_one_frame_per_moment_at_the_size_and_rate_asked(moments, tmp_path):
    settings = MovieSettings(width=480, height=260, fps=4)
    done = []
    path = save_movie(moments, tmp_path / "run.gif", settings, NAMES, "tiny",
                      on_frame=lambda i, n: done.append((i, n)))
    assert done == [(1, 4), (2, 4), (3, 4), (4, 4)]
    with Image.open(path) as gif:
        assert gif.format == "GIF" and gif.size == (480, 260)
        assert gif.n_frames == len(moments)
        assert gif.info["duration"] == 250 and gif.info["loop"] == 0
        frames = []
        for i in range(gif.n_frames):
            gif.seek(i)
            frames.append(np.array(gif.convert("RGB")))
    assert not np.array_equal(frames[0], frames[-1])  # the clouds move
    # Each frame is the rendered one (GIF keeps these few colours exactly).
    views = plot_frames(moments, settings.models)
    for got, s in zip(frames, moments, strict=True):
        want = np.array(render_frame(s, views, settings, NAMES, movie.caption_of(s, "tiny")))
        assert (got != want).any(axis=2).mean() < 0.01


def test_points_land_where_the_prior_rings_say(moments):
    """A point at z = 0 is drawn at the centre of its plot, one at z = (2, 0) on the
    2-sigma ring, in its class's colour."""
    ae, vae = moments[0].columns
    s = dataclasses.replace(moments[0], columns=(
        dataclasses.replace(ae, mu=np.zeros((1, 2), np.float32)),
        dataclasses.replace(vae, mu=np.array([[2.0, 0.0]], np.float32),
                            logvar=np.zeros((1, 2), np.float32))), labels=np.array([3]))
    settings = MovieSettings(width=800, height=420)
    views = plot_frames([s], settings.models)
    assert views["right"].reach == pytest.approx(3 * 1.05)  # the 3-sigma ring fits
    pixels = np.array(render_frame(s, views, settings, NAMES, "caption"))
    side = min(400 - 2 * movie.MARGIN_PX,
               420 - movie.TITLE_PX - movie.CAPTION_PX - 2 * movie.MARGIN_PX)
    top = movie.TITLE_PX + movie.MARGIN_PX
    red = rgb(class_color(3, 10))
    for panel, z1 in ((0, 0.0), (1, 2.0)):
        left = panel * 400 + (400 - side) // 2
        x = left + side / 2 + z1 * side / (2 * views["right"].reach)
        y = top + side / 2
        assert tuple(pixels[int(y), int(x)]) == red
    # two 3x3 dots, and the legend's square: nothing else red
    plots = pixels[:420 - movie.CAPTION_PX]
    assert (plots == red).all(axis=2).sum() == 2 * 9
    assert (pixels[420 - movie.CAPTION_PX:] == red).all(axis=2).any()


def test_refusals_say_why(moments, tmp_path, monkeypatch):
    with pytest.raises(MovieError, match="no moments"):
        save_movie([], tmp_path / "a.gif", MovieSettings(), NAMES, "tiny")
    with pytest.raises(MovieError, match=r"\.gif"):
        save_movie(moments, tmp_path / "a.avi", MovieSettings(), NAMES, "tiny")
    with pytest.raises(MovieError, match="size must be"):
        save_movie(moments, tmp_path / "a.gif", MovieSettings(width=10), NAMES, "tiny")
    with pytest.raises(MovieError, match="frame rate"):
        save_movie(moments, tmp_path / "a.gif", MovieSettings(fps=0), NAMES, "tiny")
    monkeypatch.setattr(movie.shutil, "which", lambda _name: None)
    with pytest.raises(MovieError, match="needs ffmpeg"):
        save_movie(moments, tmp_path / "a.mp4", MovieSettings(), NAMES, "tiny")
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_one_model_fills_the_frame(moments, tmp_path):
    settings = MovieSettings(models=("vae",), width=300, height=300)
    path = save_movie(moments, tmp_path / "vae.gif", settings, NAMES, "tiny")
    with Image.open(path) as gif:
        assert gif.size == (300, 300) and gif.n_frames == 4


@pytest.mark.skipif(shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None,
                    reason="ffmpeg and ffprobe are not on the PATH (MP4 and WebM need them)")
@pytest.mark.parametrize("suffix, codec", [(".mp4", "h264"), (".webm", "vp9")])
def test_mp4_and_webm_go_through_ffmpeg_with_every_frame(moments, tmp_path, suffix, codec):
    # An odd width: yuv420p needs even sides, so the frame loses its last column.
    path = save_movie(moments, tmp_path / f"run{suffix}", MovieSettings(width=401, height=220,
                                                                        fps=4), NAMES, "tiny")
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_entries",
         "stream=codec_name,width,height,nb_read_frames", "-of", "json", str(path)],
        capture_output=True, text=True, timeout=60, check=True)
    (stream,) = json.loads(probe.stdout)["streams"]
    assert stream["codec_name"] == codec and (stream["width"], stream["height"]) == (400, 220)
    assert int(stream["nb_read_frames"]) == len(moments)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temporary left
