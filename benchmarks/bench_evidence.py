"""What the Evidence tab and the exact posterior cost: one measurement of the shipped models,
and one posterior picture, against a training epoch of the same models, side by side.

    python benchmarks/bench_evidence.py [--repeats 5] [--threads 2]

Prints a table of medians (seconds). Both run in the background in the window; this says
how much CPU they take from training while the Evidence tab is open.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from vae_gui.model.checkpoint import load_checkpoint
from vae_gui.model.data import load_dataset
from vae_gui.model.evaluate import column_names
from vae_gui.model.evidence_report import encode_column, measure_evidence
from vae_gui.model.judge import load_judge
from vae_gui.model.posterior_picture import posterior_picture
from vae_gui.model.shipped_files import pretrained_checkpoint, shipped_judge
from vae_gui.model.training import Trainer


def _median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    ckpt, data = load_checkpoint(pretrained_checkpoint()), load_dataset("mnist5k")
    judge = load_judge(shipped_judge())
    test = data.test_images
    columns = [encode_column(model, test, name) for model, name
               in zip(ckpt.models, column_names(ckpt.train_config), strict=True)]

    def measure() -> None:
        measure_evidence(columns, data.image_shape, "bce", judge,
                         train_images=data.train_images, test_images=test)

    trainer = Trainer(data, ckpt.model_config, ckpt.train_config)

    def epoch() -> None:
        start = trainer.epoch
        while trainer.epoch == start:
            trainer.train_step()

    measure()  # the MMD noise floor is computed once per (n, d) and cached: not timed
    rows = [
        ("one Evidence measurement (1,000 points, 2 x 100 bound images)",
         _median_seconds(measure, args.repeats)),
        ("one exact posterior picture (Inspect / Draw)",
         _median_seconds(lambda: posterior_picture(ckpt.vae, test[17], "bce"), args.repeats)),
        ("one training epoch of the AE + VAE pair (4,000 images)",
         _median_seconds(epoch, args.repeats)),
    ]
    print(f"torch threads: {args.threads}, repeats: {args.repeats}")
    print(f"| {'what':66} | median s | / epoch |")
    print(f"| {'-' * 66} | -------: | ------: |")
    for name, seconds in rows:
        print(f"| {name:66} | {seconds:8.3f} | {seconds / rows[-1][1]:7.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
