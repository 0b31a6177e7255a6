"""`vae-gui sweep --beta 0.5 1 2 4 8 --out DIR`: one VAE per β, headless, and what β did:
a table of rate and distortion, DIR/sweep.png and DIR/sweep.json.

Parsing needs no torch (it is imported once the arguments are good), as for `vae-gui train`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from vae_gui.model.cli import (
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    Terminated,
    add_data_and_model_arguments,
    bound_range,
    bounded,
    check_data_and_model_arguments,
    interrupt_after,
    nonempty,
    safe_output,
    terminate_as_interrupt,
)
from vae_gui.model.config import DEVICES, RECONSTRUCTION_LOSSES, ModelConfig, TrainConfig

DESCRIPTION = ("Train one variational autoencoder per value of beta, from the same start on "
               "the same batches, and show what beta does: each one's rate (KL) and "
               "distortion (reconstruction) on the test split, a picture of their latent "
               "clouds and the rate-distortion curve (sweep.png) and the figures (sweep.json).")
PICTURE_NAME = "sweep.png"
FIGURES_NAME = "sweep.json"
MAX_BETAS = 12  # as vae_gui.model.sweep.MAX_BETAS, which imports torch


def add_sweep_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `vae-gui sweep`, with the bounds of vae_gui.model.config."""
    d_train = TrainConfig()
    p.add_argument("--beta", type=bounded("beta"), nargs="+", required=True,
                   help=f"the values of beta, 1 to {MAX_BETAS} of them, each "
                        f"{bound_range('beta')}; one VAE is trained for each")
    p.add_argument("--out", type=nonempty, required=True,
                   help=f"folder for {PICTURE_NAME} and {FIGURES_NAME} (made if missing)")
    add_data_and_model_arguments(p)
    p.add_argument("--epochs", type=bounded("epochs"), default=10,
                   help=f"{bound_range('epochs')} (default: 10)")
    p.add_argument("--batch-size", type=bounded("batch_size"), default=d_train.batch_size,
                   help=f"{bound_range('batch_size')} (default: {d_train.batch_size})")
    p.add_argument("--lr", type=bounded("lr"), default=d_train.lr,
                   help=f"learning rate, {bound_range('lr')} (default: {d_train.lr:g})")
    p.add_argument("--loss", choices=RECONSTRUCTION_LOSSES, default=d_train.loss,
                   help="reconstruction loss: bce (Bernoulli pixels) or mse (Gaussian "
                        "pixels with variance 1/2) (default: bce)")
    p.add_argument("--seed", type=bounded("seed"), default=d_train.seed,
                   help=f"{bound_range('seed')} (default: {d_train.seed})")
    p.add_argument("--device", choices=DEVICES, default=d_train.device,
                   help="where to train; a sweep always trains in fp32 (default: auto)")


def _check_arguments(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Path:
    """Usage errors (exit 2) before anything slow; returns the output folder, made."""
    if not 1 <= len(args.beta) <= MAX_BETAS:
        parser.error(f"--beta: give 1 to {MAX_BETAS} values, not {len(args.beta)}")
    check_data_and_model_arguments(args, parser)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        parser.error(f"--out {out}: this is a file; give a folder for {PICTURE_NAME} and "
                     f"{FIGURES_NAME} (it is made if it does not exist)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        parser.error(f"--out {out}: cannot make this folder ({exc.strerror or exc})")
    return out


def run_sweep(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Sweeps as `args` (from add_sweep_arguments) say; `parser` reports usage errors.

    0 when done; 1 with a sentence on stderr when the data, the device or the folder fail;
    130 on Ctrl-C (143 on SIGTERM), with nothing written.
    """
    safe_output()
    out = _check_arguments(args, parser)
    written: list[Path] = []
    try:
        with terminate_as_interrupt():
            return _sweep(args, out, written)
    except KeyboardInterrupt as exc:
        # Held back while the files were renamed into place, a Ctrl-C may come after them.
        done = (f"{' and '.join(map(str, written))} were written" if written else
                f"nothing was written to {out}")
        print(f"Interrupted; {done}.", file=sys.stderr)
        return EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_INTERRUPTED


def _sweep(args: argparse.Namespace, out: Path, written: list[Path]) -> int:
    """Sweeps into `out`; the paths of the files it has written are added to `written`."""
    # Imported here so that `--help` and usage errors answer before torch is imported.
    from tqdm import tqdm
    from vae_gui.model.data import load_dataset
    from vae_gui.model.errors import VaeGuiError
    from vae_gui.model.sweep import sweep

    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit="step", dynamic_ncols=True, file=sys.stderr,
                       leave=False)
        bar.update(done - bar.n)

    try:
        data = load_dataset(args.dataset, args.data_root)
        model_config = ModelConfig(data.image_shape, tuple(args.hidden), args.latent_dim,
                                   arch=args.arch)
        train_config = TrainConfig(args.epochs, args.batch_size, args.lr, 1.0, args.loss,
                                   args.seed, args.device, "fp32")
        print(f"Sweeping beta over {' '.join(f'{b:g}' for b in args.beta)} on {data.name} "
              f"({len(data.train_images)} train, {len(data.test_images)} test images): "
              f"{args.arch}, latent {args.latent_dim}, hidden {args.hidden}, {args.epochs} "
              f"epoch{'s' if args.epochs > 1 else ''}, "
              f"{args.loss} loss.", file=sys.stderr)
        try:
            result = sweep(data, model_config, train_config, args.beta, progress=progress)
        finally:
            if bar is not None:
                bar.close()
        print(format_table(result))
        picture, figures = sweep_files(result, model_config, train_config, data.source)
        write_files(out, picture, figures, written)
    except (VaeGuiError, ValueError, OSError) as exc:
        print(f"vae-gui sweep: {_reason(exc)}", file=sys.stderr)
        return 1
    print(f"Saved {out / PICTURE_NAME} and {out / FIGURES_NAME}.", file=sys.stderr)
    return 0


def _reason(exc: Exception) -> str:
    """The error as a sentence: an OSError's words and file, without its "[Errno 28]"."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return str(exc)


def format_table(result) -> str:
    """One row per β: rate, distortion and -ELBO = D + R, in nats per image (test split)."""
    head = (f"{'beta':>8}  {'rate (KL)':>10}  {'distortion':>10}  {'-ELBO = D + R':>13}")
    rows = [f"{b:>8g}  {r:>10.2f}  {d:>10.2f}  {d + r:>13.2f}"
            for b, r, d in zip(result.betas, result.rate, result.distortion, strict=True)]
    return "\n".join([head, *rows, "(nats per image, test split)"])


def figures_document(result, model_config: ModelConfig, train_config: TrainConfig,
                     dataset: str) -> dict:
    """What sweep.json holds: the settings and each β's figures, epoch by epoch."""
    training = train_config.to_dict()
    del training["beta"]  # each VAE's own is in "betas"
    return {
        "dataset": dataset,
        "model": model_config.to_dict(),
        "training": training,
        "betas": [{"beta": b, "rate": r, "distortion": d,
                   "epochs": [{"epoch": e.epoch, "rate": e.rate, "distortion": e.distortion}
                              for e in history]}
                  for b, r, d, history in zip(result.betas, result.rate, result.distortion,
                                              result.history, strict=True)],
    }


def sweep_files(result, model_config: ModelConfig, train_config: TrainConfig,
                dataset: str) -> tuple[bytes, bytes]:
    """The bytes of sweep.png and sweep.json, made before either is written."""
    import io

    from vae_gui.model.sweep_picture import sweep_picture

    buffer = io.BytesIO()
    sweep_picture(result).save(buffer, format="PNG")
    document = figures_document(result, model_config, train_config, dataset or result.dataset)
    return buffer.getvalue(), json.dumps(document, indent=2).encode()


def write_files(out: Path, picture: bytes, figures: bytes, written: list[Path]) -> None:
    """Both files staged first, then renamed back to back with Ctrl-C held: the folder holds
    the old pair or the new pair, never one of each, and never half a file."""
    from vae_gui.model.atomic_write import commit, discard, stage

    staged = []
    try:
        staged.append(stage(out / PICTURE_NAME, picture))
        staged.append(stage(out / FIGURES_NAME, figures))
    except BaseException:
        discard(staged)
        raise
    with interrupt_after():
        commit(staged)
        written.extend(f.path for f in staged)
