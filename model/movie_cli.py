"""`vae-gui movie RUN_FOLDER --out run.gif`: a run's latent clouds as a movie, headless."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vae_gui.model.cli import nonempty

DESCRIPTION = ("Save a run's latent clouds as a movie: GIF needs nothing else, MP4 and "
               "WebM need ffmpeg. RUN is a folder that 'vae-gui train --out FOLDER "
               "--save-every-epoch' wrote (one frame per epoch), or a checkpoint saved with "
               "its run's timeline (one frame per moment).")


def movie_size(text: str) -> tuple[int, int]:
    """An argparse type for WIDTHxHEIGHT."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give the size as WIDTHxHEIGHT, "
                                         "e.g. 800x420") from None
    return w, h


def add_movie_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", type=nonempty,
                   help="a run folder, or a checkpoint saved with its run's timeline")
    p.add_argument("--out", required=True, type=nonempty,
                   help="the movie to write: .gif, .mp4 or .webm")
    p.add_argument("--models", choices=("both", "left", "right", "ae", "vae"), default="both",
                   help="which clouds the movie shows: both columns (the default), one "
                        "column, or the pair's AE or its VAE")
    p.add_argument("--size", type=movie_size, default=(800, 420), metavar="WxH",
                   help="frame size in pixels (default: 800x420)")
    p.add_argument("--fps", type=float, default=5.0, help="frames a second (default: 5)")
    p.add_argument("--data-root", type=nonempty, default=None,
                   help="where torchvision datasets are kept")


def run_movie(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from vae_gui.model.movie_settings import MODELS, MovieSettings

    models = MODELS if args.models == "both" else (args.models,)
    settings = MovieSettings(models, *args.size, args.fps)
    if problems := settings.problems():
        parser.error("; ".join(problems))
    from tqdm import tqdm
    from vae_gui.model.errors import VaeGuiError
    from vae_gui.model.movie import save_movie
    from vae_gui.model.run_timeline import load_timeline

    def bar(what: str):
        state = {}

        def update(done: int, total: int) -> None:
            if "bar" not in state:
                state["bar"] = tqdm(total=total, desc=what, unit="", file=sys.stderr,
                                    leave=False)
            state["bar"].update(done - state["bar"].n)
            if done == total:
                state["bar"].close()

        return update

    try:
        run = load_timeline(args.run, args.data_root, progress=bar("encoding moments"))
        path = save_movie(run.moments, Path(args.out), settings, run.last.class_names,
                          run.last.dataset, on_frame=bar("drawing frames"))
    except (VaeGuiError, OSError) as e:
        print(f"vae-gui movie: {e}", file=sys.stderr)
        return 1
    print(f"vae-gui movie: {len(run.moments)} frames (epochs {run.moments[0].epoch:g} to "
          f"{run.moments[-1].epoch:g}) written to {path}", file=sys.stderr)
    return 0
