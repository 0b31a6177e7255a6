"""Training from a folder streamed from disk against the same folder held in memory.

Run from the repository root:

    python benchmarks/bench_stream.py                     # 15,000 PNGs from mnist5k
    python benchmarks/bench_stream.py --data mnist-t10k   # MNIST's 10,000 test images, if present
    python benchmarks/bench_stream.py --quick             # seconds; proves that it works

It writes a folder of 28x28 grey PNGs (one sub-folder per class) into a temporary folder:
the embedded mnist5k's images, repeated to --images files, or the 10,000 images of
../shared/data/mnist-t10k. It loads the folder twice, held in memory (the Trainer slices
batches from one tensor) and streamed (VAE_GUI_STREAM_ABOVE_MB=0: the Trainer reads each
batch through a DataLoader, model/folder_stream.py), and trains one Trainer per method:
in memory, and streamed with 0 (in the training thread), 1 and 2 worker processes. All
start from the same weights with the same seed, so all train the same batches; at the end
the script checks that all of them hold the same weights.

Methods are interleaved across repeats, their order rotated, so a busy machine slows them
alike. Samples per second count each training image once; the test evaluation at each
epoch's end is timed and left out (it is the same for every method: the held test images).
The folder was just written, so its files are in the page cache: this measures decoding
and the loader's overhead, not the disk. Loading times are printed too: reading every image
into memory against listing the folder and reading only the subsets a streamed run holds.
"""

from __future__ import annotations

import argparse
import copy
import gc
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(REPO))

import torch  # noqa: E402
from PIL import Image  # noqa: E402
from vae_gui.model.config import ModelConfig, TrainConfig  # noqa: E402
from vae_gui.model.data import STREAM_ABOVE_MB_VARIABLE, DatasetBundle, load_dataset  # noqa: E402
from vae_gui.model.folder_stream import STREAM_WORKERS_VARIABLE, StreamBatches  # noqa: E402
from vae_gui.model.idx_files import load_idx_folder  # noqa: E402
from vae_gui.model.networks import build_models  # noqa: E402
from vae_gui.model.training import Trainer  # noqa: E402

from benchmarks.common import markdown_table, median, worst  # noqa: E402

# Not benchmarks.bench_train's: the worker processes run this script's imports again, and
# that module imports torchvision (2 s in each).
T10K_DIR = REPO.parent / "shared" / "data" / "mnist-t10k"

WORKER_COUNTS = (0, 1, 2)


def source_images(name: str, count: int) -> tuple[np.ndarray, np.ndarray, str]:
    """uint8 (N, 28, 28) images and their labels, and what they are in words."""
    if name == "mnist-t10k":
        if not T10K_DIR.is_dir():
            raise SystemExit(f"--data mnist-t10k needs MNIST's t10k IDX files in {T10K_DIR}, "
                             "which is not part of the project; run without --data to use the "
                             "embedded mnist5k.")
        images, labels = load_idx_folder(T10K_DIR)
        return np.round(images * 255).astype(np.uint8), labels, "MNIST's test set (t10k)"
    bundle = load_dataset("mnist5k")
    images = np.concatenate([bundle.train_images, bundle.test_images])
    labels = np.concatenate([bundle.train_labels, bundle.test_labels])
    repeat = np.arange(count) % len(images)
    u8 = np.round(images[repeat] * 255).astype(np.uint8)
    if count <= len(images):
        return u8, labels[repeat], f"the first {count:,} of mnist5k's {len(images):,} images"
    return u8, labels[repeat], (f"mnist5k's {len(images):,} images, repeated "
                                f"{count / len(images):.3g} times")


def write_folder(root: Path, images: np.ndarray, labels: np.ndarray) -> float:
    """One PNG per image in a folder per class; the seconds it took."""
    t0 = time.perf_counter()
    for c in np.unique(labels):
        (root / str(c)).mkdir(parents=True)
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        Image.fromarray(image).save(root / str(label) / f"{i:06d}.png")
    return time.perf_counter() - t0


def timed_load(root: Path, streamed: bool) -> tuple[DatasetBundle, float]:
    if streamed:
        os.environ[STREAM_ABOVE_MB_VARIABLE] = "0"
    try:
        t0 = time.perf_counter()
        bundle = load_dataset(str(root))
        return bundle, time.perf_counter() - t0
    finally:
        os.environ.pop(STREAM_ABOVE_MB_VARIABLE, None)


class ReadingAlone:
    """A streamed folder's batches read and converted with no model: what the data path
    alone can deliver."""

    def __init__(self, data: DatasetBundle, batch_size: int, workers: int) -> None:
        self.name = (f"streamed, {workers} worker process{'' if workers == 1 else 'es'}: "
                     "reading alone, no model")
        self.batches = StreamBatches(data.stream, batch_size, workers, None,
                                     torch.device("cpu"))
        self.generator = torch.Generator().manual_seed(0)
        self.order = torch.randperm(data.n_train, generator=self.generator)
        self.pos = 0

    def run(self, steps: int) -> tuple[int, float]:
        n = 0
        t0 = time.perf_counter()
        for _ in range(steps):
            n += len(self.batches.batch(self.order, self.pos))
            self.pos += self.batches.batch_size
            if self.pos >= len(self.order):
                self.order = torch.randperm(len(self.order), generator=self.generator)
                self.pos = 0
        return n, time.perf_counter() - t0

    def close(self) -> None:
        self.batches.close()


class Method:
    """A Trainer on one path; `run(steps)` trains that many batches, leaving out the time of
    the evaluations at epoch ends."""

    def __init__(self, name: str, data: DatasetBundle, model_config: ModelConfig,
                 train_config: TrainConfig, init, workers: int | None) -> None:
        self.name = name
        if workers is not None:
            os.environ[STREAM_WORKERS_VARIABLE] = str(workers)
        self.trainer = Trainer(data, model_config, train_config, models=copy.deepcopy(init))
        os.environ.pop(STREAM_WORKERS_VARIABLE, None)
        self.excluded = 0.0
        evaluate = self.trainer.evaluate

        def timed_evaluate():
            t0 = time.perf_counter()
            result = evaluate()
            self.excluded += time.perf_counter() - t0
            return result

        self.trainer.evaluate = timed_evaluate  # type: ignore[method-assign]

    def close(self) -> None:
        self.trainer.close()

    def run(self, steps: int) -> tuple[int, float]:
        """(images trained on, seconds of training)."""
        self.excluded = 0.0
        n = 0
        t0 = time.perf_counter()
        for _ in range(steps):
            self.trainer.train_step()
            n += self.trainer.last_batch_size
        return n, time.perf_counter() - t0 - self.excluded


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", choices=("mnist5k", "mnist-t10k"), default="mnist5k")
    p.add_argument("--images", type=int, default=15_000,
                   help="PNG files to write from mnist5k (repeated) (default: 15,000)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--steps", type=int, default=0,
                   help="batches per repeat (default: one epoch)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads of the training step (default: 1, what the window "
                        "uses on 2 cores)")
    p.add_argument("--quick", action="store_true",
                   help="600 images, 2 repeats of 3 batches: proves that it runs")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.quick:
        args.data, args.images, args.repeats, args.steps = "mnist5k", 600, 2, 3
    torch.set_num_threads(args.threads)
    images, labels, description = source_images(args.data, args.images)
    with tempfile.TemporaryDirectory(prefix="vae-gui-bench-stream-") as folder:
        root = Path(folder) / "pngs"
        write_seconds = write_folder(root, images, labels)
        memory, memory_load = timed_load(root, streamed=False)
        streamed, stream_load = timed_load(root, streamed=True)
        batch = 128
        model_config = ModelConfig(image_shape=memory.image_shape, hidden=(400,), latent_dim=20)
        train_config = TrainConfig(epochs=1000, batch_size=batch, lr=1e-3, seed=0,
                                   device="cpu")
        init = build_models(model_config, 0)
        steps = args.steps or math.ceil(memory.n_train / batch)
        methods = [Method("in memory (one tensor, sliced)", memory, model_config, train_config,
                          init, None)]
        for workers in WORKER_COUNTS:
            methods.append(Method(f"streamed, {workers} worker process"
                                  f"{'' if workers == 1 else 'es'}", streamed, model_config,
                                  train_config, init, workers))
        trainers = len(methods)
        methods += [ReadingAlone(streamed, batch, workers) for workers in WORKER_COUNTS]
        print("## Streaming a folder from disk against holding it in memory\n")
        print(f"data: {len(images):,} PNG files of 28x28 grey pixels ({description}), split "
              f"{memory.n_train:,} train / {memory.n_test:,} test; model: 784-400-20 AE and "
              f"VAE, BCE, Adam lr 1e-3, batch {batch}")
        print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s) in the training "
              f"step, {os.cpu_count()} CPUs, {platform.python_implementation()} "
              f"{platform.python_version()}, {platform.machine()}")
        print(f"{args.repeats} repeat(s) of {steps} batches each, methods interleaved; files "
              "in the page cache (just written); evaluation at epoch ends left out\n")
        print(f"writing the PNGs: {write_seconds:.1f} s; loading: into memory "
              f"{memory_load:.2f} s (every image), streamed {stream_load:.2f} s (listing, and "
              f"reading the {len(streamed.train_images) + len(streamed.test_images):,} images "
              "it holds)\n")
        load_before = os.getloadavg()[0]
        rates: list[list[float]] = [[] for _ in methods]
        try:
            for m in methods:  # warm-up: allocations, the workers' start
                m.run(min(steps, 3))
            for r in range(args.repeats):
                k = r % len(methods)
                for i in list(range(k, len(methods))) + list(range(k)):
                    gc.collect()
                    n, seconds = methods[i].run(steps)
                    rates[i].append(n / seconds)
            same = all(
                torch.equal(a, b)
                for m in methods[1:trainers]
                for a, b in zip(methods[0].trainer.vae.state_dict().values(),
                                m.trainer.vae.state_dict().values(), strict=True))
        finally:
            for m in methods:
                m.close()
        load_after = os.getloadavg()[0]
    memory_rates = rates[0]
    rows = []
    for m, r in zip(methods, rates, strict=True):
        paired = [a / b for a, b in zip(r, memory_rates, strict=True)]
        rows.append([m.name, f"{median(r):,.0f}", f"{worst(r):,.0f}",
                     "-" if m is methods[0] or isinstance(m, ReadingAlone) else
                     f"{median(r) / median(memory_rates):.2f}x (paired: median "
                     f"{median(paired):.2f}x, worst {worst(paired):.2f}x)"])
    print(markdown_table(["method", "samples/s median", "samples/s worst",
                          "against in memory"], rows))
    print(f"\n1-min load average {load_before:.2f} before, {load_after:.2f} after "
          f"({os.cpu_count()} CPUs)")
    print(f"every streamed run trained the same weights as the in-memory run: "
          f"{'yes' if same else 'NO'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
