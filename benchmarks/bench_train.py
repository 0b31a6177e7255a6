"""Training throughput and quality: our Trainer vs the common DataLoader + ToTensor loop.

Run from the repository root:

    python benchmarks/bench_train.py                     # full run on the embedded mnist5k
    python benchmarks/bench_train.py --threads 1         # steadier on a shared machine
    python benchmarks/bench_train.py --data mnist-t10k   # the real MNIST test set, if present
    python benchmarks/bench_train.py --quick             # seconds; the test suite runs this
    python benchmarks/bench_train.py --part precision --data mnist-t10k   # fp32 vs bf16
    python benchmarks/bench_train.py --arch conv --threads 1   # the convolutional models

Both sides use the architecture of PyTorch's VAE example (784-400-20, BCE summed over pixels,
Adam lr 1e-3, batch 128; with `--arch conv`, vae-gui's convolutional encoder and decoder with
stages of 32 and 64 channels and a 20-d latent instead of the 400-unit layer), the same
images, the same initial weights and the same thread count,
in one process. Methods are interleaved across repeats, so a noisy, shared machine slows all of
them alike; the table gives the median and the worst repeat of each, and the ratios. The test
evaluation our Trainer runs at each epoch's end is timed and left out, as the reference has none.

The reference is the loop of PyTorch's example: a per-sample Dataset that turns each uint8
image into a PIL image and then a tensor with `transforms.ToTensor()` (as torchvision's
`datasets.MNIST(..., transform=transforms.ToTensor())` does), batched by
`DataLoader(batch_size=128, shuffle=True)` with its CPU default of no worker processes. It
trains one VAE; a second variant trains the same AE + VAE pair as our Trainer, so that both
sides do the same model work (the like-for-like comparison, on which the 4x target is judged).

The quality part trains both several times (different shuffle seeds) for a few epochs from the
same weights, and prints the mean VAE test loss per epoch of each side by side, with the spread
between runs that shows how much two equally good runs differ.

The precision part (`--part precision`) trains our Trainer in fp32 and in bf16 (autocast) from
the same weights, on the same shuffles and noise, for each of several seeds, and prints the
VAE test loss per epoch of both (the Trainer's own fp32 evaluation), the difference against
the issue's 1% target, and the seconds per training epoch of each. With `--device cuda` it runs
on a GPU, and `--compare fp16` compares fp16 (with its gradient scaler) instead of bf16.
"""

from __future__ import annotations

import argparse
import copy
import gc
import gzip
import math
import os
import platform
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(REPO))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from PIL import Image  # noqa: E402
from torch.utils.data import DataLoader, Dataset  # noqa: E402
from torchvision import transforms  # noqa: E402
from vae_gui.model.config import ModelConfig, TrainConfig  # noqa: E402
from vae_gui.model.data import DatasetBundle, load_dataset, stratified_split  # noqa: E402
from vae_gui.model.networks import Autoencoder, VariationalAutoencoder, build_models  # noqa: E402
from vae_gui.model.precision import choose_precision  # noqa: E402
from vae_gui.model.training import Trainer  # noqa: E402

from benchmarks.common import markdown_table, median, worst  # noqa: E402

T10K_DIR = REPO.parent / "shared" / "data" / "mnist-t10k"
TARGET_RATIO = 4.0
# Single runs that differ only in their shuffle seed differ by up to about 1% in test loss on
# mnist5k (the quality table's spread columns); the trainer "reaches the same test loss per
# epoch" when the mean of its runs is within twice that of the reference's mean.
QUALITY_TOLERANCE = 0.02  # relative difference in mean VAE test loss, per epoch
# Issue 14: bf16 training keeps the per-epoch VAE test loss within 1% of fp32's.
PRECISION_TOLERANCE = 0.01
# The precision part's quick mode trains on this many images: bf16 is emulated, and so slow,
# on CPUs without native bf16 arithmetic.
QUICK_PRECISION_IMAGES = 512


# --------------------------------------------------------------------------------------- data


@dataclass(frozen=True, eq=False)
class BenchData:
    """The bundle our Trainer reads, and the same training images as uint8 for the reference."""

    bundle: DatasetBundle
    train_u8: np.ndarray  # (N, H, W) uint8, as torchvision's MNIST keeps them
    description: str


def _read_idx(path: Path, magic: int) -> np.ndarray:
    """An IDX file (gzip-compressed) as a numpy array; MNIST's format, big-endian header."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    found, = np.frombuffer(raw[:4], dtype=">i4")
    if found != magic:
        raise ValueError(f"{path} is not an IDX file of the expected kind (magic {found}).")
    ndim = magic & 0xFF
    shape = tuple(int(s) for s in np.frombuffer(raw[4:4 + 4 * ndim], dtype=">i4"))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_t10k(root: Path) -> tuple[DatasetBundle, str]:
    """The MNIST test set, split 8,000 train / 2,000 test (stratified, fixed seed)."""
    images_file = root / "t10k-images-idx3-ubyte.gz"
    labels_file = root / "t10k-labels-idx1-ubyte.gz"
    if not (images_file.is_file() and labels_file.is_file()):
        raise SystemExit(
            f"--data mnist-t10k needs {images_file.name} and {labels_file.name} in {root}, "
            "which is not part of the project; run without --data to use the embedded mnist5k."
        )
    images = _read_idx(images_file, 2051)
    labels = _read_idx(labels_file, 2049).astype(np.int64)
    tr, te = stratified_split(labels, test_fraction=0.2, seed=0)
    arrays = [images[tr].astype(np.float32) / 255.0, labels[tr],
              images[te].astype(np.float32) / 255.0, labels[te]]
    for a in arrays:
        a.setflags(write=False)
    bundle = DatasetBundle("mnist-t10k", *arrays, class_names=tuple(str(i) for i in range(10)))
    return bundle, "MNIST test set (t10k), stratified split"


def load_bench_data(name: str) -> BenchData:
    if name == "mnist5k":
        bundle, desc = load_dataset("mnist5k"), "embedded mnist5k"
    else:
        bundle, desc = load_t10k(T10K_DIR)
    u8 = np.round(bundle.train_images * 255.0).astype(np.uint8)
    if not np.allclose(u8 / 255.0, bundle.train_images, atol=1e-6):
        raise SystemExit(f"{name}: images are not whole multiples of 1/255; cannot emulate MNIST.")
    return BenchData(bundle, u8, desc)


class PerSampleMNIST(Dataset):
    """What torchvision's `datasets.MNIST.__getitem__` does: uint8 tensor -> PIL -> transform."""

    def __init__(self, images_u8: np.ndarray, labels: np.ndarray) -> None:
        self.data = torch.from_numpy(np.ascontiguousarray(images_u8))
        self.targets = torch.tensor(np.asarray(labels), dtype=torch.int64)
        self.transform = transforms.ToTensor()

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        img, target = self.data[index], int(self.targets[index])
        img = Image.fromarray(img.numpy())  # mode "L" from a 2-D uint8 array
        return self.transform(img), target


# ------------------------------------------------------------------------------------ methods


def reference_bce(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The example's reconstruction term: BCE of the sigmoid output, summed over the batch."""
    return F.binary_cross_entropy(torch.sigmoid(logits), x, reduction="sum")


def reference_kld(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """The example's KL term (Kingma and Welling 2014, appendix B), summed over the batch."""
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())


class Method:
    """One way of training; `run(steps)` trains that many batches and returns the images seen."""

    name: str
    models: str
    excluded_seconds: float = 0.0  # time inside the last run() that is not training

    def run(self, steps: int) -> int:
        raise NotImplementedError


class OursMethod(Method):
    """Our Trainer: whole dataset in one tensor, shuffled index slices, AE and VAE per step."""

    name = "ours: Trainer, in-memory batches"
    models = "AE + VAE"

    def __init__(self, data: BenchData, model_config: ModelConfig, train_config: TrainConfig,
                 init: tuple[Autoencoder, VariationalAutoencoder]) -> None:
        self.trainer = Trainer(data.bundle, model_config, train_config,
                               models=copy.deepcopy(init))
        self.evaluations: list[float] = []
        evaluate = self.trainer.evaluate

        def timed_evaluate() -> tuple:
            t0 = time.perf_counter()
            result = evaluate()
            seconds = time.perf_counter() - t0
            self.evaluations.append(seconds)
            self.excluded_seconds += seconds
            return result

        # The Trainer evaluates the test set at each epoch's end, inside train_step; the
        # reference loop has no evaluation, so its time is measured and left out.
        self.trainer.evaluate = timed_evaluate  # type: ignore[method-assign]

    def run(self, steps: int) -> int:
        self.excluded_seconds = 0.0
        n = 0
        for _ in range(steps):
            self.trainer.train_step()
            n += self.trainer.last_batch_size
        return n


class ReferenceMethod(Method):
    """The loop of PyTorch's VAE example over a per-sample Dataset and a DataLoader."""

    def __init__(self, data: BenchData, init: tuple[Autoencoder, VariationalAutoencoder],
                 batch_size: int, lr: float, seed: int, train: str) -> None:
        if train not in ("vae", "both", "none"):
            raise ValueError(train)
        self.train = train
        self.name = {"vae": "reference: DataLoader + ToTensor",
                     "both": "reference: DataLoader + ToTensor",
                     "none": "reference data pipeline alone (no model)"}[train]
        self.models = {"vae": "VAE", "both": "AE + VAE", "none": "none"}[train]
        self.loader = DataLoader(PerSampleMNIST(data.train_u8, data.bundle.train_labels),
                                 batch_size=batch_size, shuffle=True,
                                 generator=torch.Generator().manual_seed(seed))
        ae, vae = copy.deepcopy(init)
        self.ae, self.vae = ae.train(), vae.train()
        self.ae_opt = torch.optim.Adam(self.ae.parameters(), lr=lr)
        self.vae_opt = torch.optim.Adam(self.vae.parameters(), lr=lr)
        self.noise = torch.Generator().manual_seed(seed + 1)  # the example's randn_like
        self._batches: Iterator | None = None

    def _next(self) -> torch.Tensor:
        if self._batches is None:
            self._batches = iter(self.loader)
        try:
            data, _ = next(self._batches)
        except StopIteration:
            self._batches = iter(self.loader)
            data, _ = next(self._batches)
        return data

    def run(self, steps: int) -> int:
        n = 0
        for _ in range(steps):
            data = self._next()
            x = data.view(-1, data.shape[-2] * data.shape[-1])
            n += len(x)
            if self.train == "both":
                self.ae_opt.zero_grad()
                logits, _ = self.ae(x)
                reference_bce(logits, x).backward()
                self.ae_opt.step()
            if self.train in ("vae", "both"):
                self.vae_opt.zero_grad()
                logits, mu, logvar = self.vae(x, self.noise)
                loss = reference_bce(logits, x) + reference_kld(mu, logvar)
                loss.backward()
                self.vae_opt.step()
        return n


# --------------------------------------------------------------------------------- throughput


@dataclass
class Rates:
    method: Method
    samples_per_second: list[float]


def measure_throughput(methods: list[Method], steps: int, repeats: int) -> list[Rates]:
    """Each repeat runs every method once, in an order rotated from repeat to repeat."""
    for m in methods:  # warm-up: first-call allocations, lazy initialisation
        m.run(min(steps, 3))
    rates = [Rates(m, []) for m in methods]
    for r in range(repeats):
        k = r % len(methods)
        for i in list(range(k, len(methods))) + list(range(k)):
            gc.collect()
            t0 = time.perf_counter()
            n = methods[i].run(steps)
            seconds = time.perf_counter() - t0 - methods[i].excluded_seconds
            rates[i].samples_per_second.append(n / seconds)
    return rates


def paired_ratios(a: list[float], b: list[float]) -> list[float]:
    return [x / y for x, y in zip(a, b, strict=True)]


# ------------------------------------------------------------------------------------ quality


@torch.no_grad()
def vae_test_loss(vae: VariationalAutoencoder, test_x: torch.Tensor) -> float:
    """Summed BCE + KL in nats per image, mean over the test set, one fixed noise draw each."""
    was_training = vae.training
    vae.eval()
    logits, mu, logvar = vae(test_x, torch.Generator().manual_seed(12345))
    loss = (reference_bce(logits, test_x) + reference_kld(mu, logvar)).item() / len(test_x)
    vae.train(was_training)
    return loss


def measure_quality(data: BenchData, model_config: ModelConfig, train_config: TrainConfig,
                    init: tuple[Autoencoder, VariationalAutoencoder], epochs: int,
                    seeds: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """VAE test loss per (seed, epoch) of ours and of the reference, all from the same weights.

    The seed changes only the shuffles and the noise draws, so the spread between seeds is the
    noise against which the two implementations are compared.
    """
    test_x = torch.tensor(data.bundle.test_images).flatten(1)
    ours_losses = np.zeros((len(seeds), epochs))
    ref_losses = np.zeros((len(seeds), epochs))
    for i, seed in enumerate(seeds):
        ours = OursMethod(data, model_config, replace(train_config, seed=seed), init)
        ref = ReferenceMethod(data, init, train_config.batch_size, train_config.lr, seed,
                              train="vae")
        for e in range(epochs):
            ours.run(ours.trainer.steps_per_epoch)
            ours_losses[i, e] = vae_test_loss(ours.trainer.vae, test_x)
            ref.run(len(ref.loader))
            ref_losses[i, e] = vae_test_loss(ref.vae, test_x)
    return ours_losses, ref_losses


# ---------------------------------------------------------------------------------- precision


def first_images(bundle: DatasetBundle, n_train: int, n_test: int) -> DatasetBundle:
    """The first images of each split (a stratified split is already mixed)."""
    return replace(bundle, train_images=bundle.train_images[:n_train],
                   train_labels=bundle.train_labels[:n_train],
                   test_images=bundle.test_images[:n_test],
                   test_labels=bundle.test_labels[:n_test])


def measure_precisions(bundle: DatasetBundle, model_config: ModelConfig,
                       train_config: TrainConfig, init: tuple[Autoencoder, VariationalAutoencoder],
                       epochs: int, seeds: list[int], precisions: tuple[str, ...]
                       ) -> tuple[np.ndarray, np.ndarray]:
    """VAE test loss and training seconds per (precision, seed, epoch), all from `init`.

    The precisions train epoch by epoch in turn, so that other load on the machine slows
    them alike; each epoch's seconds leave out the Trainer's test evaluation.
    """
    losses = np.zeros((len(precisions), len(seeds), epochs))
    seconds = np.zeros_like(losses)
    for j, seed in enumerate(seeds):
        trainers = [Trainer(bundle, model_config,
                            replace(train_config, seed=seed, precision=precision),
                            models=copy.deepcopy(init)) for precision in precisions]
        for e in range(epochs):
            for i, trainer in enumerate(trainers):
                gc.collect()
                for _ in range(trainer.steps_per_epoch):
                    trainer.train_step()
                losses[i, j, e] = trainer.history[-1].test.vae_loss
                seconds[i, j, e] = trainer.history[-1].seconds
    return losses, seconds


def main_precision(args: argparse.Namespace, data: BenchData) -> int:
    """The precision part: fp32 against bf16 (or fp16 on CUDA), VAE test loss per epoch and
    seconds per epoch."""
    bundle = data.bundle
    if args.quick:
        bundle = first_images(bundle, QUICK_PRECISION_IMAGES, QUICK_PRECISION_IMAGES // 4)
    low, device = args.compare, torch.device(args.device)
    model_config = ModelConfig(image_shape=bundle.image_shape, hidden=(400,), latent_dim=20)
    train_config = TrainConfig(epochs=args.epochs, batch_size=128, lr=1e-3, loss="bce",
                               seed=args.seed, device=args.device)
    init = build_models(model_config, args.seed)
    seeds = [args.seed + 1000 * k for k in range(args.quality_runs)]
    n_train, n_test = len(bundle.train_images), len(bundle.test_images)
    auto = choose_precision("auto", device)
    where = (f"GPU {torch.cuda.get_device_name(device)}" if device.type == "cuda" else
             f"CPU {platform.machine()} ({torch.backends.cpu.get_cpu_capability()})")

    print(f"## Mixed precision: fp32 against {low} autocast, VAE test loss per epoch\n")
    print(f"data: {data.description} ({n_train:,} train / {n_test:,} test images); "
          "model: 784-400-20 VAE (and AE, trained alongside), BCE, Adam lr 1e-3, batch 128")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {where}; "
          f"--precision auto picks {auto.precision} here ({auto.reason})")
    print(f"{len(seeds)} run(s) of each precision from the same initial weights, shuffle/noise "
          f"seeds {', '.join(map(str, seeds))}; loss = the Trainer's fp32 evaluation, summed "
          "BCE + KL in nats per image, one fixed noise draw per image\n")
    load_before = os.getloadavg()[0]
    losses, seconds = measure_precisions(bundle, model_config, train_config, init, args.epochs,
                                         seeds, ("fp32", low))
    load_after = os.getloadavg()[0]
    fp32, lower = losses
    table = []
    worst_rel = worst_paired = 0.0
    for e in range(args.epochs):
        f, b = fp32[:, e], lower[:, e]
        rel = (b.mean() - f.mean()) / f.mean()
        paired = float(np.abs((b - f) / f).max())
        worst_rel, worst_paired = max(worst_rel, abs(rel)), max(worst_paired, paired)
        table.append([e + 1, f"{f.mean():.2f}", f"{b.mean():.2f}",
                      f"{b.mean() - f.mean():+.2f} ({100 * rel:+.2f}%)", f"{100 * paired:.2f}%",
                      f"{np.ptp(f):.2f}", f"{np.median(seconds[0, :, e]):.2f}",
                      f"{np.median(seconds[1, :, e]):.2f}"])
    # Seconds as the median of the runs: one stalled epoch on a shared machine would move a
    # mean by seconds.
    print(markdown_table(["epoch", "fp32 (mean)", f"{low} (mean)", f"{low} - fp32",
                          "largest paired diff", "spread of fp32 runs", "fp32 s/epoch (median)",
                          f"{low} s/epoch (median)"], table))
    print()
    f_s, b_s = median(seconds[0].ravel().tolist()), median(seconds[1].ravel().tolist())
    print(f"seconds per training epoch, median: fp32 {f_s:.2f} s, {low} {b_s:.2f} s "
          f"({low} is {f_s / b_s:.2f}x the speed of fp32); 1-min load average "
          f"{load_before:.2f} before, {load_after:.2f} after ({os.cpu_count()} CPUs)")
    print(f"largest |{low} - fp32| of the means over epochs: {100 * worst_rel:.2f}% (largest "
          f"paired by seed: {100 * worst_paired:.2f}%); target {100 * PRECISION_TOLERANCE:g}% "
          f"per epoch: {'met' if worst_rel <= PRECISION_TOLERANCE else 'NOT met'}")
    return 0


# --------------------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--part", choices=("reference", "precision"), default="reference",
                   help="reference: our Trainer against the reference loop, throughput and "
                        "quality (default); precision: fp32 against bf16, test loss and "
                        "seconds per epoch")
    p.add_argument("--compare", choices=("bf16", "fp16"), default="bf16",
                   help="the precision part: the precision compared with fp32 (fp16 needs "
                        "--device cuda)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                   help="the precision part: where it trains (default cpu)")
    p.add_argument("--data", choices=("mnist5k", "mnist-t10k"), default="mnist5k",
                   help="mnist5k (embedded, default) or the MNIST test set at "
                        "../shared/data/mnist-t10k, if present")
    p.add_argument("--repeats", type=int, default=11,
                   help="timed repeats per method (default 11)")
    p.add_argument("--steps", type=int, default=0,
                   help="batches per timed repeat (default: one epoch of the training set)")
    p.add_argument("--epochs", type=int, default=10, help="epochs of the quality comparison")
    p.add_argument("--quality-runs", type=int, default=3,
                   help="runs of each method, with different shuffle seeds, in the quality part")
    p.add_argument("--threads", type=int, default=0,
                   help="torch threads for every method (default: torch's default here)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--arch", choices=("mlp", "conv"), default="mlp",
                   help="the models of both sides (default: mlp, the example's)")
    p.add_argument("--quick", action="store_true",
                   help="1 repeat of 8 batches, 1 epoch of quality, 1 thread unless --threads "
                        f"is given (the precision part: {QUICK_PRECISION_IMAGES} images): "
                        "proves the script works, measures nothing")
    args = p.parse_args(argv)
    if args.quick:
        args.repeats, args.steps, args.epochs, args.quality_runs = 1, 8, 1, 1
        # One thread cannot stall waiting for a busy core, so the test suite stays quick even
        # when other tests share the machine.
        args.threads = args.threads or 1
    if args.compare == "fp16" and args.device != "cuda":
        p.error("--compare fp16 needs --device cuda: fp16 training runs on CUDA only")
    if min(args.repeats, args.epochs, args.quality_runs) < 1 or min(args.steps, args.threads) < 0:
        p.error("repeats, epochs and quality runs must be at least 1; steps and threads >= 0")
    return args


def fmt_rate(v: float) -> str:
    return f"{v:,.0f}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    data = load_bench_data(args.data)
    if args.part == "precision":
        return main_precision(args, data)
    hidden = (32, 64) if args.arch == "conv" else (400,)
    model_config = ModelConfig(image_shape=data.bundle.image_shape, hidden=hidden, latent_dim=20,
                               arch=args.arch)
    model = ("conv 1-32-64 stride-2 stages, latent 20" if args.arch == "conv"
             else "784-400-20")
    batch = 128
    train_config = TrainConfig(epochs=args.epochs, batch_size=batch, lr=1e-3, loss="bce",
                               seed=args.seed, device="cpu")
    init = build_models(model_config, args.seed)
    n_train, n_test = len(data.bundle.train_images), len(data.bundle.test_images)
    steps = args.steps or math.ceil(n_train / batch)

    print("## Training throughput: our Trainer vs DataLoader + ToTensor\n")
    print(f"data: {data.description} ({n_train:,} train / {n_test:,} test images); "
          f"model: {model} VAE (and AE), BCE, Adam lr 1e-3, batch {batch}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads for every method, "
          f"{platform.python_implementation()} {platform.python_version()}, "
          f"{platform.machine()}")
    span = "one epoch" if steps == math.ceil(n_train / batch) else f"{steps * batch:,} images"
    print(f"{args.repeats} repeat(s) of {steps} batches each ({span}), methods interleaved; "
          "samples/s counts each training image once\n")

    methods: list[Method] = [
        OursMethod(data, model_config, train_config, init),
        ReferenceMethod(data, init, batch, 1e-3, args.seed, train="vae"),
        ReferenceMethod(data, init, batch, 1e-3, args.seed, train="both"),
        ReferenceMethod(data, init, batch, 1e-3, args.seed, train="none"),
    ]
    load_before = os.getloadavg()[0]
    rates = measure_throughput(methods, steps, args.repeats)
    load_after = os.getloadavg()[0]
    ours = rates[0].samples_per_second
    rows = []
    for r in rates:
        sps = r.samples_per_second
        rows.append([r.method.name, r.method.models, fmt_rate(median(sps)), fmt_rate(worst(sps)),
                     "-" if r.method.models in ("AE + VAE", "none") and r is not rates[2]
                     else f"{median(ours) / median(sps):.2f}x"])
    print(markdown_table(["method", "models trained per batch", "samples/s median",
                          "samples/s worst", "ours / method"], rows))
    evals = methods[0].evaluations if isinstance(methods[0], OursMethod) else []
    if evals:
        epoch_seconds = n_train / median(ours)
        print(f"\nleft out of ours: the test evaluation the Trainer runs at each epoch's end "
              f"({1e3 * median(evals):.0f} ms, {100 * median(evals) / epoch_seconds:.0f}% of a "
              "training epoch), since the reference loop evaluates nothing")
    print(f"\n1-min load average {load_before:.2f} before, {load_after:.2f} after "
          f"({os.cpu_count()} CPUs): other load makes every method slower and noisier.")
    if max(load_before, load_after) > 0.5 and torch.get_num_threads() >= (os.cpu_count() or 1):
        print("warning: the machine was busy while torch used every core; such runs stall at "
              "random and their ratios are unreliable: rerun when idle, or with --threads 1.")
    vae_only = paired_ratios(ours, rates[1].samples_per_second)
    both = paired_ratios(ours, rates[2].samples_per_second)
    like = median(ours) / median(rates[2].samples_per_second)
    print()
    print(f"ratio ours/reference, like-for-like (AE + VAE on both sides): {like:.2f}x "
          f"(paired per repeat: median {median(both):.2f}x, worst {worst(both):.2f}x)")
    print(f"ratio ours/reference, VAE-only reference (ours also trains an AE, twice the model "
          f"work): {median(ours) / median(rates[1].samples_per_second):.2f}x "
          f"(paired per repeat: median {median(vae_only):.2f}x, worst {worst(vae_only):.2f}x)")
    data_us = 1e6 / median(rates[3].samples_per_second)
    both_us = 1e6 / median(rates[2].samples_per_second)
    vae_us = 1e6 / median(rates[1].samples_per_second)
    print(f"where the reference's time goes: DataLoader + ToTensor {data_us:.0f} us per image of "
          f"{vae_us:.0f} (VAE only) or {both_us:.0f} (AE + VAE); removing the data pipeline "
          f"entirely, with the same model code, could gain at most "
          f"{vae_us / (vae_us - data_us):.2f}x and {both_us / (both_us - data_us):.2f}x")
    print(f"target: at least {TARGET_RATIO:g}x, judged like-for-like: "
          f"{'met' if like >= TARGET_RATIO else 'NOT met'}")

    seeds = [args.seed + 1000 * k for k in range(args.quality_runs)]
    print(f"\n## Training quality: VAE test loss per epoch (nats per image, {n_test:,} test images)"
          "\n")
    print(f"{len(seeds)} run(s) of each from the same initial weights, shuffle/noise seeds "
          f"{', '.join(map(str, seeds))}; loss = summed BCE + KL, mean over the test images, "
          "one fixed noise draw per image\n")
    ours_q, ref_q = measure_quality(data, model_config, train_config, init, args.epochs, seeds)
    table = []
    worst_rel = 0.0
    for e in range(args.epochs):
        o, r = ours_q[:, e], ref_q[:, e]
        rel = (o.mean() - r.mean()) / r.mean()
        worst_rel = max(worst_rel, abs(rel))
        table.append([e + 1, f"{o.mean():.2f}", f"{r.mean():.2f}",
                      f"{o.mean() - r.mean():+.2f} ({100 * rel:+.2f}%)",
                      f"{np.ptp(o):.2f}", f"{np.ptp(r):.2f}"])
    print(markdown_table(["epoch", "ours: Trainer (mean)", "reference loop (mean)",
                          "ours - reference", "spread of ours", "spread of reference"], table))
    print()
    spread = max(float(np.ptp(ours_q, axis=0).max()), float(np.ptp(ref_q, axis=0).max()))
    print(f"largest |ours - reference| over epochs: {100 * worst_rel:.2f}% "
          f"(largest spread between runs of one method: {spread:.2f} nats); "
          f"tolerance {100 * QUALITY_TOLERANCE:g}% per epoch: "
          f"{'same loss within noise' if worst_rel <= QUALITY_TOLERANCE else 'OUTSIDE tolerance'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
