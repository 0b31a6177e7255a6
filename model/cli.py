"""`vae-gui train`: headless training of both models, with a progress bar and checkpoints."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from vae_gui.model.atomic_write import commit, discard, stage
from vae_gui.model.config import (
    ARCHITECTURES,
    BOUNDS,
    DEVICES,
    MAX_CONV_CHANNELS,
    PRECISIONS,
    RECONSTRUCTION_LOSSES,
    ModelConfig,
    TrainConfig,
)
from vae_gui.model.data import BUILTIN_DATASETS
from vae_gui.model.distributed import DistributedContext, context_from_environment
from vae_gui.model.errors import VaeGuiError
from vae_gui.model.pair import DEFAULT_PAIR, pair_labels, parse_pair, parse_spec
from vae_gui.model.run_folder import (
    CHECKPOINT_NAME,
    METRICS_NAME,
    RunLock,
    epoch_checkpoint_name,
    metrics_document,
    repair_metrics,
)

# The exit status of a process ended by a signal, as shells report it: 128 + its number.
EXIT_INTERRUPTED = 128 + signal.SIGINT
EXIT_TERMINATED = 128 + signal.SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled as Ctrl-C is (the last complete epoch is kept), exit 143."""


def safe_output() -> None:
    """Makes stdout and stderr print any text: a file name that is not valid in the
    terminal's encoding (bytes that are not UTF-8, under a strict UTF-8 locale) is written
    with backslash escapes instead of raising UnicodeEncodeError after the work is done."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):
                reconfigure(errors="backslashreplace")


def _on_sigterm(signum, frame) -> None:
    raise Terminated


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM raises Terminated (a KeyboardInterrupt) in the block, so that `kill` ends a
    run as cleanly as Ctrl-C; outside the main thread signals cannot be handled: no-op."""
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def bounded(key: str):
    """An argparse type: a whole number or a number within BOUNDS[key], as in the config."""
    bound = BOUNDS[key]

    def parse(text: str) -> int | float:
        try:
            value = int(text) if bound.whole else float(text)
        except ValueError:
            kind = "a whole number" if bound.whole else "a number"
            raise argparse.ArgumentTypeError(f"{text!r} is not {kind}") from None
        problem = bound.problem(value)
        if problem is not None:
            raise argparse.ArgumentTypeError(problem)
        return value
    return parse


def bound_range(key: str) -> str:
    return BOUNDS[key].text()


def build_parser(prog: str = "vae-gui train") -> argparse.ArgumentParser:
    """The parser of `vae-gui train` on its own (the app adds the same as a subcommand)."""
    p = argparse.ArgumentParser(prog=prog, description=DESCRIPTION)
    add_train_arguments(p)
    return p


DESCRIPTION = ("Train an autoencoder and a variational autoencoder side by side, headless, "
               "and write a checkpoint the GUI opens.")


def model_spec(text: str) -> str:
    """An argparse type for one model of --pair: ae, vae or vae:BETA, with BETA in BOUNDS."""
    try:
        spec = parse_spec(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if spec.beta is not None and (why := BOUNDS["beta"].problem(spec.beta)) is not None:
        raise argparse.ArgumentTypeError(f"the beta of {text!r} {why}")
    return spec.text()


def nonempty(text: str) -> str:
    """An argparse type for paths and names: an empty one is a usage error (exit 2), not the
    current folder or the default dataset."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def add_data_and_model_arguments(p: argparse.ArgumentParser) -> None:
    """--dataset, --data-root, --latent-dim and --hidden: the same for every command that
    trains."""
    d_model = ModelConfig()
    p.add_argument("--dataset", type=nonempty, default="mnist5k",
                   help=f"{', '.join(BUILTIN_DATASETS)}, a .npz file with 'images' and "
                        "'labels', or a folder with one sub-folder of images per class "
                        "(default: mnist5k, embedded)")
    p.add_argument("--data-root", type=nonempty, default=None,
                   help="where torchvision datasets are kept or downloaded "
                        "(default: a per-user cache folder)")
    p.add_argument("--latent-dim", type=bounded("latent_dim"), default=d_model.latent_dim,
                   help=f"{bound_range('latent_dim')} (default: {d_model.latent_dim})")
    p.add_argument("--hidden", type=bounded("hidden"), nargs="+",
                   default=list(d_model.hidden),
                   help="hidden layer sizes of the encoder (the decoder mirrors them): "
                        f"{bound_range('hidden_layers')} sizes, each {bound_range('hidden')} "
                        f"(default: {' '.join(map(str, d_model.hidden))}); with --arch conv, "
                        f"the channels of each stride-2 stage, at most {MAX_CONV_CHANNELS}")
    p.add_argument("--arch", choices=ARCHITECTURES, default=d_model.arch,
                   help="mlp (fully connected layers) or conv (stride-2 convolutions, for "
                        "square images whose side the stages halve evenly) "
                        f"(default: {d_model.arch})")


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `vae-gui train`, with the bounds of vae_gui.model.config."""
    d_model, d_train = ModelConfig(), TrainConfig()
    add_data_and_model_arguments(p)
    p.add_argument("--image-size", type=bounded("image_side"), default=28,
                   help="side length that folder images are resized to, "
                        f"{bound_range('image_side')} (default: 28)")
    p.add_argument("--epochs", type=bounded("epochs"), default=d_train.epochs,
                   help=f"{bound_range('epochs')} (default: {d_train.epochs})")
    p.add_argument("--encoder-dropout", type=bounded("encoder_dropout"),
                   default=d_model.encoder_dropout,
                   help="dropout on the input and after each hidden layer of both encoders "
                        "while training, "
                        f"{bound_range('encoder_dropout')} (default: {d_model.encoder_dropout:g})")
    p.add_argument("--beta", type=bounded("beta"), default=d_train.beta,
                   help=f"weight of the KL term, {bound_range('beta')}; 1 gives the ELBO "
                        "(default: 1)")
    p.add_argument("--pair", nargs=2, type=model_spec, default=list(d_train.pair),
                   metavar=("LEFT", "RIGHT"),
                   help="the two models trained side by side on the same batches: ae, vae "
                        "(a VAE with --beta) or vae:BETA (a VAE with a beta of its own); "
                        "for example '--pair vae:1 vae --beta 4' (default: ae vae)")
    p.add_argument("--lr", type=bounded("lr"), default=d_train.lr,
                   help=f"learning rate, {bound_range('lr')} (default: {d_train.lr:g})")
    p.add_argument("--batch-size", type=bounded("batch_size"), default=d_train.batch_size,
                   help=f"{bound_range('batch_size')} (default: {d_train.batch_size})")
    p.add_argument("--loss", choices=RECONSTRUCTION_LOSSES, default=d_train.loss,
                   help="reconstruction loss, -log p(x|z) in nats: bce (Bernoulli pixels, "
                        "binary cross-entropy) or mse (Gaussian pixels with a fixed variance "
                        "sigma^2 = 1/2: the summed squared error plus log(pi)/2 per pixel) "
                        "(default: bce)")
    p.add_argument("--seed", type=bounded("seed"), default=d_train.seed,
                   help=f"{bound_range('seed')} (default: {d_train.seed})")
    p.add_argument("--device", choices=DEVICES, default=d_train.device)
    p.add_argument("--precision", choices=PRECISIONS, default=d_train.precision,
                   help="float type of the training step's forward pass; weights, losses, "
                        "evaluation and checkpoints stay fp32. auto picks bf16 on a CUDA GPU "
                        "with native bf16 (else fp16) and on a CPU with native bf16 "
                        "(avx512_bf16 or amx_bf16), else fp32; fp16 needs CUDA "
                        f"(default: {d_train.precision})")
    p.add_argument("--out", type=nonempty, default="vae-gui-run",
                   help="folder for the checkpoint and metrics.json (default: ./vae-gui-run)")
    p.add_argument("--save-every-epoch", action="store_true",
                   help="also keep one checkpoint per epoch "
                        f"({epoch_checkpoint_name(1)}, ...)")


def _check_out_dir(parser: argparse.ArgumentParser, out: Path) -> None:
    if out.exists() and not out.is_dir():
        parser.error(f"--out {out}: this is a file; give a folder for the checkpoint and "
                     "metrics.json (it is made if it does not exist)")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out):
            pass
    except OSError as exc:
        parser.error(f"--out {out}: cannot write there ({exc.strerror or exc})")


@contextlib.contextmanager
def interrupt_after() -> Iterator[None]:
    """Holds Ctrl-C and SIGTERM back until the block is done, so that the checkpoint and
    metrics.json written for one epoch always agree; then raises them as usual."""
    caught: list[int] = []
    try:
        previous = {s: signal.signal(s, lambda signum, frame: caught.append(signum))
                    for s in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread: signals cannot be handled here anyway
        yield
        return
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if caught:
        raise Terminated if signal.SIGTERM in caught else KeyboardInterrupt


def save_run(out: Path, checkpoint, every_epoch: bool, about_data: dict | None = None) -> None:
    """Writes the run folder's checkpoint (and the epoch's own, with `every_epoch`) and
    metrics.json for one epoch: all staged first, then renamed back to back (run_folder).
    `about_data` (how the images were read, what the test figures measure) goes into
    metrics.json as it is."""
    from vae_gui.model.checkpoint import checkpoint_bytes

    blob = checkpoint_bytes(checkpoint)
    document = {**metrics_document(checkpoint.metadata()), **(about_data or {})}
    metrics = json.dumps(document, indent=2).encode()
    staged = []
    try:
        if every_epoch:
            staged.append(stage(out / epoch_checkpoint_name(checkpoint.epoch), blob))
        staged.append(stage(out / CHECKPOINT_NAME, blob))
        staged.append(stage(out / METRICS_NAME, metrics))
    except BaseException:
        discard(staged)
        raise
    commit(staged)


def format_epoch(m, epochs: int, beta: float = 1.0, pair=DEFAULT_PAIR) -> str:
    """One line per epoch with both models' test metrics (`pair`: the run's two models).

    A VAE's loss is its reconstruction plus beta times its KL: with beta 1 the line shows
    the KL; otherwise it shows the weighted term that the loss adds (beta*KL) and, after it,
    the KL itself, so that every number is what its label says.
    """
    specs = parse_pair(pair)
    parts = [_model_terms(name, losses, spec.beta_in(beta)) for name, spec, losses in zip(
        pair_labels(specs, beta), specs, m.test.columns, strict=True)]
    return (f"epoch {m.epoch:>3}/{epochs}  test: {' | '.join(parts)}  "
            f"(nats/image, {m.seconds:.2f} s)")


def _model_terms(name: str, t, beta: float) -> str:
    """'AE recon 123.45', or 'VAE loss 150.00 = recon 140.00 + KL 10.00'."""
    if t.kind == "ae":
        return f"{name} recon {t.recon:7.2f}"
    if beta == 1:
        terms = f"recon {t.recon:7.2f} + KL {t.kl:6.2f}"
    else:
        terms = (f"recon {t.recon:7.2f} + beta*KL {beta * t.kl:6.2f} "
                 f"(beta {beta:g}, KL {t.kl:.2f})")
    return f"{name} loss {t.loss:7.2f} = {terms}"


class LoadBars:
    """Progress bars on stderr while a folder is listed and read (load_dataset's progress);
    nothing when `quiet` (a distributed run's processes other than 0)."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.bar = None
        self.stage = ""

    def __call__(self, p) -> None:
        if self.quiet:
            return
        from tqdm import tqdm

        if p.stage != self.stage:
            self.close()
            self.stage = p.stage
            what = "Listing images" if p.stage == "listing" else "Reading images"
            self.bar = tqdm(total=p.total, desc=what, unit=" images", dynamic_ncols=True,
                            file=sys.stderr, leave=False)
        self.bar.update(p.done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def describe_data(data, trainer) -> str:
    """One line saying how the training images are read and what the test figures measure."""
    if data.stream is None:
        return f"Data: in memory; the test loss is measured on {trainer.test_set}."
    return (f"Data: {trainer.data_path}, since {data.stream.reason()}; the test loss and the "
            f"encoded test set use {trainer.test_set}.")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    return run_training(parser.parse_args(argv), parser)


def run_training(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Trains as `args` (from add_train_arguments) say; `parser` reports usage errors."""
    safe_output()
    try:
        with terminate_as_interrupt():
            return _run(args, parser)
    except KeyboardInterrupt as exc:  # before training started: nothing was written
        print("Interrupted before the first epoch; no checkpoint was written.", file=sys.stderr)
        return EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_INTERRUPTED


def configs_from_args(args: argparse.Namespace,
                      image_shape: tuple[int, int]) -> tuple[ModelConfig, TrainConfig]:
    """The configurations that `args` (from add_train_arguments) ask for, for images of
    `image_shape` (the dataset's); ValueError when they are out of BOUNDS."""
    model_config = ModelConfig(image_shape, tuple(args.hidden), args.latent_dim,
                               args.encoder_dropout, args.arch)
    train_config = TrainConfig(args.epochs, args.batch_size, args.lr, args.beta, args.loss,
                               args.seed, args.device, args.precision, tuple(args.pair))
    return model_config, train_config


def check_data_and_model_arguments(args: argparse.Namespace,
                                   parser: argparse.ArgumentParser) -> None:
    """Usage errors (exit 2) in the options of add_data_and_model_arguments."""
    layers = BOUNDS["hidden_layers"].problem(len(args.hidden))
    if layers is not None:
        parser.error(f"--hidden: the number of layer sizes {layers}")
    if args.dataset not in BUILTIN_DATASETS and not Path(args.dataset).expanduser().exists():
        parser.error(f"--dataset {args.dataset!r}: not one of {', '.join(BUILTIN_DATASETS)} "
                     "and no such file or folder")


def _run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    check_data_and_model_arguments(args, parser)
    try:
        context = context_from_environment()
    except ValueError as exc:
        parser.error(str(exc))
    if context is not None:
        return _run_distributed(args, parser, context)
    out = Path(args.out)
    _check_out_dir(parser, out)
    # A previous run here killed between its checkpoint's and its metrics.json's renames:
    # made whole before this run starts, should it be stopped before its first epoch.
    repair_metrics(out)
    lock = RunLock(out)
    try:
        if not lock.acquire():
            print(f"vae-gui train: another vae-gui train is writing to {out}; wait for it to "
                  "finish or give another --out folder.", file=sys.stderr)
            return 1
    except OSError as exc:
        parser.error(f"--out {out}: cannot write there ({exc.strerror or exc})")
    try:
        return _train(args, out)
    finally:
        lock.release(remove=True)


def _run_distributed(args: argparse.Namespace, parser: argparse.ArgumentParser,
                     context: DistributedContext) -> int:
    """One process of `torchrun ... -m vae_gui train`: process 0 writes the run folder (and
    holds its lock), the others train their shares quietly."""
    import torch
    from vae_gui.model import distributed

    wants_cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    distributed.start(context, "cuda" if wants_cuda else "cpu")
    try:
        if context.is_main:
            out = Path(args.out)
            _check_out_dir(parser, out)
            repair_metrics(out)
            lock = RunLock(out)
            if not lock.acquire():
                print(f"vae-gui train: another vae-gui train is writing to {out}.",
                      file=sys.stderr)
                code = 1
            else:
                try:
                    code = _train(args, out, context)
                finally:
                    lock.release(remove=True)
        else:
            code = _train(args, None, context)
        # A process that fails exits with its code, and torchrun then stops the others
        # (they would wait for it in the next step's gradient exchange).
        return code
    finally:
        distributed.stop()


def _train(args: argparse.Namespace, out: Path | None,
           context: DistributedContext | None = None) -> int:
    """Trains into `out`, whose lock this process holds (None: a distributed run's process
    other than 0, which writes nothing)."""
    # Imported here so that `vae-gui train --help` and usage errors answer at once.
    from tqdm import tqdm
    from vae_gui.model.checkpoint import Checkpoint
    from vae_gui.model.data import load_dataset
    from vae_gui.model.training import Trainer

    loading = LoadBars(quiet=out is None)
    try:
        data = load_dataset(args.dataset, args.data_root, args.image_size, progress=loading)
        loading.close()
        model_config, train_config = configs_from_args(args, data.image_shape)
        trainer = Trainer(data, model_config, train_config, distributed=context)
    except (VaeGuiError, ValueError) as exc:
        loading.close()
        print(f"vae-gui train: {exc}", file=sys.stderr)
        return 1
    if out is None:  # a distributed run's process other than 0: its share, quietly
        try:
            trainer.run()
        except KeyboardInterrupt as exc:  # process 0 says what was kept
            return EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_INTERRUPTED
        except VaeGuiError as exc:
            print(f"vae-gui train (process {context.rank}): {exc}", file=sys.stderr)
            return 1
        return 0

    where = (f"{context.world_size} processes on {trainer.device}, each with 1/"
             f"{context.world_size} of every batch of {args.batch_size}" if context is not None
             else str(trainer.device))
    names = pair_labels(parse_pair(train_config.pair), args.beta)
    print(f"Training {names[0]} | {names[1]} on {data.name} ({data.n_train} train, "
          f"{data.n_test} test images) on {where} in "
          f"{trainer.precision} ({trainer.precision_reason}): {args.arch}, latent "
          f"{args.latent_dim}, hidden {args.hidden}, beta {args.beta:g}, {args.loss} loss.")
    print(describe_data(data, trainer))
    about_data = {"data_path": trainer.data_path, "test_set": trainer.test_set}
    checkpoint_path = out / CHECKPOINT_NAME
    saved_epoch = 0
    bar = tqdm(total=args.epochs * trainer.steps_per_epoch, unit="step", dynamic_ncols=True,
               file=sys.stderr)

    def on_progress(p) -> None:
        bar.update(p.step - bar.n)
        bar.set_postfix_str(f"epoch {p.epoch}/{p.epochs}, {p.samples_per_second:,.0f} samples/s",
                            refresh=False)

    def on_epoch(m) -> None:
        nonlocal saved_epoch
        bar.write(format_epoch(m, args.epochs, args.beta, train_config.pair))
        ckpt = Checkpoint(*trainer.models, model_config, train_config, data.source,
                          data.class_names, trainer.epoch, trainer.step, tuple(trainer.history),
                          str(trainer.device), trainer.precision)
        with interrupt_after():
            save_run(out, ckpt, args.save_every_epoch, about_data)
            saved_epoch = trainer.epoch

    try:
        trainer.run(on_progress=on_progress, on_epoch=on_epoch)
    except KeyboardInterrupt as exc:
        bar.close()
        kept = (f"the checkpoint of epoch {saved_epoch} is in {checkpoint_path}" if saved_epoch
                else "no epoch had completed, so no checkpoint was written")
        print(f"Interrupted; {kept}.", file=sys.stderr)
        return EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_INTERRUPTED
    except VaeGuiError as exc:
        bar.close()
        print(f"vae-gui train: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # writing metrics.json: a full disk, a folder removed meanwhile
        bar.close()
        print(f"vae-gui train: could not write to {out}: {exc.strerror or exc}.",
              file=sys.stderr)
        return 1
    bar.close()
    print(f"Saved {checkpoint_path} and {out / METRICS_NAME}. Open it with: "
          f"vae-gui {checkpoint_path}")
    return 0
