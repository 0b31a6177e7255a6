"""`vae-gui train` against PyTorch's own VAE example, each run as it is, side by side.

    python benchmarks/bench_example.py --example PATH/TO/pytorch-examples/vae/main.py

The example (its vae/main.py: 784-400-20, BCE summed over pixels, Adam 1e-3, batch 128) is
not part of vae-gui: give the path of a copy. Both programs train on the same 10,000 real
MNIST images, the test set (`--data`, default ../shared/data/mnist-t10k, its two .gz IDX
files), laid out where torchvision's MNIST class reads them as both its training and its test
split, so that each program trains on the 10,000 images and tests on them; nothing is
downloaded. vae-gui trains with `--dataset mnist --data-root` on those files and the
example's shape (`--latent-dim 20 --hidden 400 --batch-size 128`).

Seconds per epoch are wall-clock times between the lines each program prints once an epoch
is done (the example's "Test set loss", vae-gui's epoch line), so they include everything an
epoch costs: training, the test pass, and the example's sample images or vae-gui's checkpoint
of the previous epoch. The first epoch (start-up, first allocations) is left out. vae-gui
trains an AE and a VAE; the example one VAE. The programs run one after the other, alternating,
at torch's default threads and with one thread each (OMP_NUM_THREADS=1), and the table gives
the medians, their ratio, and both test losses (nats per image) at each epoch.
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: benchmarks/ is not a package on the path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import markdown_table, median  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data" / "mnist-t10k"
IDX = {"images": "t10k-images-idx3-ubyte", "labels": "t10k-labels-idx1-ubyte"}
EXAMPLE_EPOCH = re.compile(r"====> Test set loss: ([0-9.]+)")
OURS_EPOCH = re.compile(r"^epoch +(\d+)/\d+ .*VAE loss +([0-9.]+) =")


@dataclass
class Run:
    """One program's epochs: seconds between epoch lines, and the test loss of each."""

    seconds: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)


def lay_out_data(source: Path, root: Path) -> Path:
    """The t10k IDX files, unpacked, as torchvision's MNIST reads both of its splits."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for kind, name in IDX.items():
        packed = source / f"{name}.gz"
        if not packed.is_file():
            raise SystemExit(f"{packed} is missing: give --data a folder holding {name}.gz "
                             f"(the real MNIST test set's {kind}).")
        with gzip.open(packed, "rb") as f:
            data = f.read()
        (raw / name).write_bytes(data)
        (raw / name.replace("t10k", "train")).write_bytes(data)
    return root


def timed_lines(command: list[str], cwd: Path, env: dict[str, str], pattern: re.Pattern,
                ) -> Run:
    """Runs `command`, stamping each line that matches `pattern` as it arrives; its first
    group is the epoch's test loss (the last group, where there are two)."""
    run, stamps = Run(), []
    with subprocess.Popen(command, cwd=cwd, env=env, text=True, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL) as proc:
        for line in proc.stdout:
            match = pattern.search(line)
            if match:
                stamps.append(time.perf_counter())
                run.test_loss.append(float(match.groups()[-1]))
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited with status {proc.returncode}.")
    run.seconds = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    return run


def run_example(example: Path, data_root: Path, work: Path, epochs: int,
                env: dict[str, str]) -> Run:
    """The example reads '../data' and writes 'results/': it runs in work/example."""
    folder = work / "example"
    (folder / "results").mkdir(parents=True, exist_ok=True)
    link = work / "data"
    if not link.exists():
        link.symlink_to(data_root, target_is_directory=True)
    return timed_lines([sys.executable, str(example.resolve()), "--epochs", str(epochs),
                        "--no-accel", "--log-interval", "1000000"], folder, env, EXAMPLE_EPOCH)


def run_ours(data_root: Path, work: Path, epochs: int, env: dict[str, str]) -> Run:
    return timed_lines([sys.executable, "-m", "vae_gui.app", "train", "--dataset", "mnist",
                        "--data-root", str(data_root), "--latent-dim", "20", "--hidden", "400",
                        "--batch-size", "128", "--epochs", str(epochs), "--device", "cpu",
                        "--out", str(work / "ours")], work, env, OURS_EPOCH)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--example", type=Path, required=True,
                   help="the example's vae/main.py (from a copy of PyTorch's examples)")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA,
                   help="a folder with t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz")
    p.add_argument("--epochs", type=int, default=5, help="epochs per run (the first is not timed)")
    p.add_argument("--rounds", type=int, default=2, help="runs of each program per setting")
    p.add_argument("--quick", action="store_true",
                   help="2 epochs, 1 round, default threads only: proves the script runs")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.example.is_file():
        raise SystemExit(f"{args.example} is not a file: give the example's vae/main.py.")
    epochs, rounds = (2, 1) if args.quick else (max(args.epochs, 2), max(args.rounds, 1))
    settings = [("torch's default threads", {})]
    if not args.quick:
        settings.append(("one thread each", {"OMP_NUM_THREADS": "1"}))
    base = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    base["PYTHONUNBUFFERED"] = "1"
    rows, losses = [], []
    with tempfile.TemporaryDirectory(prefix="bench-example-") as tmp:
        work = Path(tmp)
        data_root = lay_out_data(args.data, work / "mnist")
        for label, extra in settings:
            env = {**base, **extra}
            example, ours = Run(), Run()
            for _ in range(rounds):  # alternating, so that a noisy spell hits both
                for run, into in ((run_example(args.example, data_root, work, epochs, env),
                                   example),
                                  (run_ours(data_root, work, epochs, env), ours)):
                    into.seconds += run.seconds
                    into.test_loss += run.test_loss
                shutil.rmtree(work / "ours", ignore_errors=True)
            a, b = median(example.seconds), median(ours.seconds)
            rows.append([label, f"{a:.2f}", f"{b:.2f}", f"{a / b:.2f}x", len(ours.seconds)])
            for e in range(epochs):
                ex = median(example.test_loss[e::epochs])
                us = median(ours.test_loss[e::epochs])
                losses.append([label, e + 1, f"{ex:.2f}", f"{us:.2f}",
                               f"{100 * (us / ex - 1):+.1f}%"])
    print(f"PyTorch's VAE example ({args.example}) and vae-gui train, {epochs} epochs, "
          f"{rounds} round(s), on the 10,000 images of {args.data}\n")
    print(markdown_table(["threads", "example s/epoch (median)", "vae-gui s/epoch (median)",
                          "example / vae-gui", "epochs timed each"], rows))
    print()
    print(markdown_table(["threads", "epoch", "example test loss", "vae-gui VAE test loss",
                          "difference"], losses))
    return 0


if __name__ == "__main__":
    sys.exit(main())
