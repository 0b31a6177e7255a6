"""A run's latent clouds as a movie: one frame per kept moment, the AE and the VAE side by
side (or one of them), each in a frame that stays still while the cloud moves.

Drawn with Pillow, so a GIF needs no system tools; MP4 and WebM go through an `ffmpeg` found
on PATH. Qt-free: the window and `vae-gui movie` both call `save_movie`.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from vae_gui.model.atomic_write import write_atomic
from vae_gui.model.class_colors import class_colors, rgb
from vae_gui.model.errors import VaeGuiError
from vae_gui.model.latent import Projection, pca_projection
from vae_gui.model.movie_settings import FORMATS, MovieSettings
from vae_gui.model.pair import column_of

if TYPE_CHECKING:
    from vae_gui.model.training import Snapshot

LEGEND_CLASSES = 10  # a legend of more would not fit under the plots
TITLE_PX, CAPTION_PX, MARGIN_PX = 20, 20, 6
FONT_PX = 13
RING_GREY = (150, 150, 150)
FRAME_GREY = (200, 200, 200)
TEXT = (40, 40, 40)
# The square each plot shows reaches this quantile of the points' distance from the centre
# over the whole run (a few strays never shrink the cloud to a dot), and never less than
# the prior's 3-sigma ring.
REACH_QUANTILE = 0.995


class MovieError(VaeGuiError):
    """A movie that cannot be made, with a sentence that says why."""


@dataclass(frozen=True)
class PlotFrame:
    """Where one model's cloud is drawn: its projection and the half-width of its square."""

    projection: Projection
    reach: float


def _points(snapshot: Snapshot, which: str) -> np.ndarray:
    return column_of(snapshot, which).mu


def _title(snapshot: Snapshot, which: str) -> str:
    """"AE: codes", "VAE β=4: means"."""
    column = column_of(snapshot, which)
    # Pillow's built-in font has no Greek letters: "VAE beta=4" rather than a box for β.
    name = column.name.replace("\u03b2", "beta")
    return f"{name}: {'means' if column.variational else 'codes'}"


def plot_frames(moments: Sequence[Snapshot], models: Sequence[str]) -> dict[str, PlotFrame]:
    """One still frame per model for the whole run: the plane of its last moment (PCA above
    two dimensions), wide enough for the cloud at every moment."""
    frames = {}
    for which in models:
        try:
            last = _points(moments[-1], which)
        except ValueError:  # "vae" for a pair of two VAEs
            raise MovieError(f"The run's pair holds no single {which.upper()}; choose a "
                             "column (left or right) instead.") from None
        projection = (pca_projection(last) if last.shape[1] > 2 else
                      Projection.axes(last.shape[1]))
        reach = 3.0
        for s in moments:
            xy = projection.to_plane(_points(s, which))
            radius = np.abs(xy[np.isfinite(xy).all(axis=1)])
            if radius.size:
                reach = max(reach, float(np.quantile(radius, REACH_QUANTILE)))
        frames[which] = PlotFrame(projection, reach * 1.05)
    return frames


def movie_font() -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=FONT_PX)  # Pillow 10.1 on: a scalable font
    except TypeError:
        return ImageFont.load_default()


def render_frame(snapshot: Snapshot, frames: dict[str, PlotFrame], settings: MovieSettings,
                 class_names: Sequence[str], caption: str) -> Image.Image:
    """One frame: each model's cloud coloured by class with the prior's 1, 2 and 3 sigma
    rings, a title over each and `caption` and the class legend under them."""
    image = Image.new("RGB", (settings.width, settings.height), "white")
    draw = ImageDraw.Draw(image)
    font = movie_font()
    panel_w = settings.width // len(settings.models)
    side = max(10, min(panel_w - 2 * MARGIN_PX, settings.height - TITLE_PX - CAPTION_PX
                       - 2 * MARGIN_PX))
    colors = np.array([rgb(c) for c in class_colors(class_names)], np.uint8)
    dot = 2 if side < 240 else 3  # square dots of 2 or 3 pixels
    top = TITLE_PX + MARGIN_PX
    boxes = []
    for k, which in enumerate(settings.models):
        left = k * panel_w + (panel_w - side) // 2
        scale = side / (2 * frames[which].reach)  # pixels per latent unit
        boxes.append((which, left, scale))
        cx, cy = left + side / 2, top + side / 2
        draw.rectangle((left, top, left + side, top + side), outline=FRAME_GREY)
        for r in (1, 2, 3):  # the prior's rings, in the plane of the plot
            rr = r * scale
            draw.ellipse((cx - rr, cy - rr, cx + rr, cy + rr), outline=RING_GREY)
        title = _title(snapshot, which)
        if side >= 300:
            title += " (rings: 1, 2, 3 sd of the prior)"
        draw.text((left, MARGIN_PX // 2), title, fill=TEXT, font=font)
    draw_caption_and_legend(draw, font, settings.height - CAPTION_PX, settings.width,
                            caption, class_names, colors)
    pixels = np.array(image)
    # Class by class, as the window draws them: a later class lies on top.
    order = np.argsort(np.asarray(snapshot.labels), kind="stable")
    labels = np.asarray(snapshot.labels)[order]
    for which, left, scale in boxes:
        xy = frames[which].projection.to_plane(_points(snapshot, which)[order])
        paint_dots(pixels, xy, colors[labels], (left, top, side), scale, dot)
    return Image.fromarray(pixels)


def draw_caption_and_legend(draw: ImageDraw.ImageDraw, font, y: int, width: int, caption: str,
                            class_names: Sequence[str], colors: np.ndarray) -> None:
    """One line at `y`: the caption, then a coloured square and the name of each class (up
    to LEGEND_CLASSES, and as many as fit in `width`)."""
    draw.text((MARGIN_PX, y), caption, fill=TEXT, font=font)
    if len(class_names) > LEGEND_CLASSES:
        return
    x = MARGIN_PX + draw.textlength(caption, font=font) + 3 * MARGIN_PX
    for c, name in enumerate(class_names):
        name_width = draw.textlength(name, font=font)
        if x + FONT_PX + name_width > width:
            break
        draw.rectangle((x, y + 3, x + FONT_PX - 4, y + FONT_PX - 1),
                       fill=tuple(int(v) for v in colors[c]))
        draw.text((x + FONT_PX, y), name, fill=TEXT, font=font)
        x += FONT_PX + name_width + MARGIN_PX


def paint_dots(pixels: np.ndarray, xy: np.ndarray, colors: np.ndarray,
               square: tuple[int, int, int], scale: float, dot: int) -> None:
    """Paints points `xy` (latent units; 0 at the square's centre) as `dot`-pixel squares of
    `colors` (one RGB row per point; a later point lies on top) into `pixels`, inside the
    square (left, top, side); `scale` is pixels per latent unit. Points outside are left out."""
    left, top, side = square
    ok = np.isfinite(xy).all(axis=1)
    px = np.floor(left + side / 2 + xy[ok, 0] * scale - dot / 2).astype(np.int64)
    py = np.floor(top + side / 2 - xy[ok, 1] * scale - dot / 2).astype(np.int64)
    inside = (px > left) & (px < left + side - dot) & (py > top) & (py < top + side - dot)
    px, py, c = px[inside], py[inside], colors[ok][inside]
    for dy in range(dot):
        for dx in range(dot):
            pixels[py + dy, px + dx] = c


def caption_of(snapshot: Snapshot, dataset: str) -> str:
    return f"epoch {snapshot.epoch:.2f}, step {snapshot.step:,}: {dataset}"


def save_movie(moments: Sequence[Snapshot], path: str | os.PathLike, settings: MovieSettings,
               class_names: Sequence[str], dataset: str,
               on_frame: Callable[[int, int], None] | None = None) -> Path:
    """Renders one frame per moment and writes them to `path` (.gif, .mp4 or .webm), whole
    or not at all. `on_frame(done, total)` is called after each frame (it may raise to
    stop)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise MovieError(f"{path.name}: a movie is saved as {', '.join(FORMATS)}")
    if problems := settings.problems():
        raise MovieError("; ".join(problems).capitalize() + ".")
    if not moments:
        raise MovieError("there are no moments to show: train first, or open a run")
    ffmpeg = None
    if suffix != ".gif" and (ffmpeg := shutil.which("ffmpeg")) is None:
        raise MovieError(f"saving {suffix} needs ffmpeg on the PATH, and none was found; "
                         "save as .gif, which needs nothing else")
    frames = plot_frames(moments, settings.models)
    images = []
    for i, snapshot in enumerate(moments):
        images.append(render_frame(snapshot, frames, settings, class_names,
                                   caption_of(snapshot, dataset)))
        if on_frame is not None:
            on_frame(i + 1, len(moments))
    if ffmpeg is None:
        return write_atomic(path, gif_bytes(images, settings.fps))
    return _encode_with_ffmpeg(ffmpeg, images, settings, path)


def gif_bytes(images: Sequence[Image.Image], fps: float) -> bytes:
    """An animated GIF that loops for ever. GIF counts time in hundredths of a second."""
    buffer = io.BytesIO()
    duration = max(20, round(1000 / fps / 10) * 10)
    images[0].save(buffer, format="GIF", save_all=True, append_images=list(images[1:]),
                   duration=duration, loop=0, optimize=False)
    return buffer.getvalue()


def _encode_with_ffmpeg(ffmpeg: str, images: Sequence[Image.Image], settings: MovieSettings,
                        path: Path) -> Path:
    # yuv420p needs even sides.
    w, h = settings.width - settings.width % 2, settings.height - settings.height % 2
    codec = ["-c:v", "libx264", "-pix_fmt", "yuv420p"] if path.suffix.lower() == ".mp4" else \
        ["-c:v", "libvpx-vp9", "-pix_fmt", "yuv420p"]
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        done = subprocess.run(
            [ffmpeg, "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
             "-s", f"{w}x{h}", "-r", f"{settings.fps:g}", "-i", "-", *codec, tmp],
            input=b"".join(im.crop((0, 0, w, h)).tobytes() for im in images),
            capture_output=True, timeout=600, check=False)
        if done.returncode != 0:
            raise MovieError(f"ffmpeg could not write {path.name}: "
                             f"{done.stderr.decode(errors='replace').strip()[-300:]}")
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path
