"""Entry point: `vae-gui train ...` trains headless, `vae-gui evaluate CHECKPOINT` measures
a checkpoint headless, `vae-gui movie RUN --out run.gif` saves a run as a movie,
`vae-gui sweep --beta 0.5 1 2 4 8 --out DIR` trains one VAE per β;
`vae-gui [open] ...` opens the window.

Parsing needs neither Qt nor torch, so `--help` and usage errors answer at once.
"""

from __future__ import annotations

import argparse
import gc
import signal
import sys

from vae_gui.model.cli import DESCRIPTION as TRAIN_DESCRIPTION
from vae_gui.model.cli import add_train_arguments, nonempty, run_training, safe_output
from vae_gui.model.compare import DESCRIPTION as COMPARE_DESCRIPTION
from vae_gui.model.compare import add_compare_arguments, run_compare
from vae_gui.model.evaluate import DESCRIPTION as EVALUATE_DESCRIPTION
from vae_gui.model.evaluate import add_evaluate_arguments, run_evaluate
from vae_gui.model.movie_cli import DESCRIPTION as MOVIE_DESCRIPTION
from vae_gui.model.movie_cli import add_movie_arguments, run_movie
from vae_gui.model.sweep_cli import DESCRIPTION as SWEEP_DESCRIPTION
from vae_gui.model.sweep_cli import add_sweep_arguments, run_sweep

# The commands that need no window: a summary, a description, the arguments, the runner.
HEADLESS = {
    "train": ("train both models headless", TRAIN_DESCRIPTION, add_train_arguments,
              run_training),
    "evaluate": ("measure a checkpoint headless", EVALUATE_DESCRIPTION,
                 add_evaluate_arguments, run_evaluate),
    "compare": ("measure two checkpoints side by side, headless", COMPARE_DESCRIPTION,
                add_compare_arguments, run_compare),
    "movie": ("save a run's clouds as a movie, headless", MOVIE_DESCRIPTION,
              add_movie_arguments, run_movie),
    "sweep": ("train one VAE per beta and show what beta does", SWEEP_DESCRIPTION,
              add_sweep_arguments, run_sweep),
}
COMMANDS = ("open", *HEADLESS)


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The top-level parser and each command's own (which reports that command's errors)."""
    parser = argparse.ArgumentParser(
        prog="vae-gui",
        description="Explore an autoencoder and a variational autoencoder side by side. "
                    "With no command, opens the window (as 'vae-gui open').")
    commands = parser.add_subparsers(dest="command", metavar="{" + ",".join(COMMANDS) + "}")
    gui = commands.add_parser("open", help="open the window (the default command)",
                              description="Open the window on the pretrained models or on "
                                          "a checkpoint.")
    add_window_arguments(gui)
    parsers = {"open": gui}
    for name, (summary, description, add_arguments, _run) in HEADLESS.items():
        parsers[name] = commands.add_parser(name, help=summary, description=description)
        add_arguments(parsers[name])
    return parser, parsers


def add_window_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", nargs="?", type=nonempty,
                   help="a checkpoint to open instead of the pretrained models")
    p.add_argument("--screenshot", metavar="PATH", type=image_target,
                   help="open the window, save it as a PNG once the models are drawn, and exit")
    p.add_argument("--train", action="store_true",
                   help="start training from scratch as soon as the window is up")
    p.add_argument("--follow", metavar="DIR", type=folder_to_follow,
                   help="show each checkpoint that 'vae-gui train --out DIR' writes, as it lands")
    p.add_argument("--demo", choices=("shapes",),
                   help="shapes: train a convolutional pair on colour images of shapes, "
                        "generated on the fly, as soon as the window is up")


def image_target(text: str) -> str:
    """An argparse type for a file to write an image to: refused at once (exit 2) when its
    folder is missing or it names a folder, a pipe, a device or a socket (a pipe would block
    the save for ever), before a window is opened for nothing."""
    import os
    import stat
    from pathlib import Path

    path = Path(nonempty(text)).expanduser()
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: its folder does not exist")
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return text  # not there yet: it will be made
    if stat.S_ISDIR(mode):
        raise argparse.ArgumentTypeError(f"{text} is a folder; give a file name such as "
                                         f"{path / 'vae-gui.png'}")
    if not stat.S_ISREG(mode):
        raise argparse.ArgumentTypeError(f"{text} is not a regular file (a pipe, device or "
                                         "socket); give a file name")
    return text


def folder_to_follow(text: str) -> str:
    """An argparse type for --follow: a folder, or a path where none is yet (the run makes
    it); a file, pipe or device there is a usage error (exit 2)."""
    from pathlib import Path

    path = Path(nonempty(text)).expanduser()
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is not a folder; give the folder that "
                                         "'vae-gui train --out FOLDER' writes into")
    return text


def parse(argv: list[str]) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    """The command's parser and the parsed arguments. The window is the default command:
    `vae-gui ckpt.safetensors` is `vae-gui open ckpt.safetensors`."""
    parser, commands = build_parser()
    if not argv or (argv[0] not in COMMANDS and argv[0] not in ("-h", "--help")):
        argv = ["open", *argv]
    args = parser.parse_args(argv)
    return commands[args.command], args


def main(argv: list[str] | None = None) -> int:
    parser, args = parse(list(sys.argv[1:] if argv is None else argv))
    safe_output()
    if args.command in HEADLESS:
        return HEADLESS[args.command][3](args, parser)
    from vae_gui.display_check import display_problem

    if (problem := display_problem()) is not None:
        print(f"vae-gui: {problem}", file=sys.stderr)
        return 1
    # Until the window can close itself, Ctrl-C or SIGTERM is only noted: a signal that
    # lands while Qt's libraries load would otherwise crash the process.
    pending: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, _frame: pending.append(signum))
    from vae_gui.fast_start import import_pyqtgraph

    import_pyqtgraph()
    from vae_gui.launch import run_gui

    code = run_gui(args, pending)
    # Python's own teardown walks every object torch created (about a second here);
    # frozen objects are skipped, and the window is already closed and its threads joined.
    gc.freeze()
    return code


if __name__ == "__main__":
    sys.exit(main())
