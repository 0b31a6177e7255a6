"""How much of a training step is matrix products, and how fast this CPU multiplies matrices.

    python benchmarks/bench_matmul.py              # one torch thread, as the window trains
    python benchmarks/bench_matmul.py --threads 2
    python benchmarks/bench_matmul.py --quick      # seconds; the test suite runs this

Two tables, to say where training time can still be won on this machine:

- the training step of `vae_gui.model.training.Trainer` (784-400-20 AE + VAE, BCE, Adam,
  batch 128, the embedded mnist5k), profiled by `torch.profiler` over 40 steps after 20 of
  warm-up: the self CPU time of each kind of operation, matrix products (aten::mm,
  aten::addmm) first;
- the speed, in GFLOP/s (2 * m * k * n per product, median of 200), of each shape of matrix
  product the step runs at batch 128, beside a square 1024 x 1024 x 1024 product: the speed
  this core reaches on a product large enough to run at its best.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(REPO))

import torch  # noqa: E402
from vae_gui.model.config import ModelConfig, TrainConfig  # noqa: E402
from vae_gui.model.data import load_dataset  # noqa: E402
from vae_gui.model.training import Trainer  # noqa: E402

from benchmarks.common import markdown_table, median  # noqa: E402

MATRIX_PRODUCTS = ("aten::mm", "aten::addmm")
BATCH, PIXELS, HIDDEN, LATENT = 128, 784, 400, 20


def step_profile(warm_up: int, steps: int) -> tuple[list[list[str]], float]:
    """Rows (operation, self CPU ms, share) of `steps` training steps, and the products' share."""
    from torch.profiler import ProfilerActivity, profile

    bundle = load_dataset("mnist5k")
    model_config = ModelConfig(image_shape=bundle.image_shape, hidden=(HIDDEN,),
                               latent_dim=LATENT)
    train_config = TrainConfig(epochs=1000, batch_size=BATCH, lr=1e-3, loss="bce",
                               device="cpu", precision="fp32")
    trainer = Trainer(bundle, model_config, train_config)
    for _ in range(warm_up):
        trainer.train_step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            trainer.train_step()
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in events)
    products = sum(e.self_cpu_time_total for e in events if e.key in MATRIX_PRODUCTS)
    events.sort(key=lambda e: (e.key not in MATRIX_PRODUCTS, -e.self_cpu_time_total))
    rows = [[e.key, f"{e.self_cpu_time_total / 1e3 / steps:.2f}",
             f"{100 * e.self_cpu_time_total / total:.1f}%"] for e in events[:10]]
    rows.append(["all operations", f"{total / 1e3 / steps:.2f}", "100%"])
    return rows, products / total


def gflops(m: int, k: int, n: int, a_transposed: bool, b_transposed: bool, repeats: int) -> float:
    """GFLOP/s of an (m x k) @ (k x n) product, operands laid out as the step has them."""
    a = torch.randn(k, m).t() if a_transposed else torch.randn(m, k)
    b = torch.randn(n, k).t() if b_transposed else torch.randn(k, n)
    for _ in range(5):
        torch.mm(a, b)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.mm(a, b)
        times.append(time.perf_counter() - t0)
    return 2 * m * k * n / median(times) / 1e9


# The step's large products at batch 128 (the small ones, through the 20- and 40-wide layers,
# cost a few percent of these): each layer's forward pass, its weights' gradient, and the
# gradient it passes back.
SHAPES = (
    ("encoder 784->400, forward: x W^T", (BATCH, PIXELS, HIDDEN, False, True)),
    ("encoder 784->400, weight gradient: dH^T x", (HIDDEN, BATCH, PIXELS, True, False)),
    ("decoder 400->784, forward: h W^T", (BATCH, HIDDEN, PIXELS, False, True)),
    ("decoder 400->784, weight gradient: dY^T h", (PIXELS, BATCH, HIDDEN, True, False)),
    ("decoder 400->784, input gradient: dY W", (BATCH, PIXELS, HIDDEN, False, False)),
)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--quick", action="store_true", help="a few steps and repeats only")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    repeats = 5 if args.quick else 200
    load_before = os.getloadavg()[0]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), "
          f"{torch.backends.cpu.get_cpu_capability()} kernels, CPython "
          f"{sys.version.split()[0]}\n")

    print("## A training step (784-400-20 AE + VAE, batch 128, fp32), by operation\n")
    rows, share = step_profile(2 if args.quick else 20, 4 if args.quick else 40)
    print(markdown_table(["operation", "self CPU ms per step", "share"], rows))
    print(f"\nmatrix products (aten::mm + aten::addmm): {100 * share:.0f}% of the step\n")

    print("## Matrix products, GFLOP/s (median)\n")
    table = [[name, f"{m} x {k} x {n}", f"{gflops(m, k, n, at, bt, repeats):.0f}"]
             for name, (m, k, n, at, bt) in SHAPES]
    side = 256 if args.quick else 1024
    table.append([f"square {side} x {side} x {side}, for comparison", f"{side} x {side} x {side}",
                  f"{gflops(side, side, side, False, False, max(3, repeats // 10)):.0f}"])
    print(markdown_table(["product", "m x k x n", "GFLOP/s"], table))
    print(f"\n1-min load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after "
          f"({os.cpu_count()} CPUs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
