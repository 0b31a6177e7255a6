"""70,000 live points: what a cloud of a whole 70k dataset costs to encode, to draw, to train
beside, and what the window's event loop feels while it trains with one.

Run from the repository root (Qt's offscreen platform unless QT_QPA_PLATFORM says otherwise):

    python benchmarks/bench_points.py            # about 4 minutes
    python benchmarks/bench_points.py --only window   # one part: encode, draw, train, window
    python benchmarks/bench_points.py --quick    # seconds; what the test suite runs

The 70k set is the real MNIST test set (../shared/data/mnist-t10k, 10,000 images) as the test
split and 60,000 training images made from it by one-pixel shifts (six shifted copies), the
size and look of MNIST's own 60k + 10k; without that folder, mnist5k's 5,000 images shifted
14 ways. The models are the pretrained 784-256-128-2 pair that the window opens with.

The parts, each printing a table:

- encode: one snapshot's encoding of the cloud (both encoders, `encode_cloud`), with the
  window's torch thread count, for the test split alone and with the training split.
- draw: both latent plots given new points and repainted (`set_points`, then a synchronous
  repaint of each), as a training snapshot brings them.
- train: a headless Trainer on the 70k set publishing snapshots of the whole cloud, against
  the same Trainer publishing none, alternating rounds: the share of time spent in
  snapshots, the seconds between them, and the training rate.
- window: the real window training on the 70k set (written to a temporary .npz and chosen in
  the settings panel, as a user does), with the test split alone and with View ▸ Cloud:
  training images too, a 5 ms heartbeat on the GUI thread measuring the event loop's gaps.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(REPO))

from benchmarks.bench_gui import (  # noqa: E402
    T10K,
    close_window,
    heartbeat,
    make_app,
    open_window,
    stop_training,
    wait,
    wait_until,
)
from benchmarks.bench_train import load_t10k  # noqa: E402
from benchmarks.common import markdown_table, median  # noqa: E402

PARTS = ("encode", "draw", "train", "window")
TARGET_DRAW_MS = 16.0  # the redraw budget at 70k points
TARGET_SHARE = 0.10  # snapshot encoding at most this share of training time
TARGET_GAP_P99_MS, TARGET_GAP_MAX_MS = 25.0, 50.0


def shifted(images: np.ndarray, copies: int) -> np.ndarray:
    """`copies` copies of `images`, each moved by one pixel in another direction."""
    moves = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]
    moves += [(2 * dy, 2 * dx) for dy, dx in moves]
    return np.concatenate([np.roll(images, m, axis=(1, 2)) for m in moves[:copies]])


def data_70k():
    """(bundle, words): 10k real test images and 60k shifted copies as the training split."""
    from vae_gui.model.data import DatasetBundle, load_dataset

    if (T10K / "t10k-images-idx3-ubyte.gz").is_file():
        t10k, _ = load_t10k(T10K)
        images = np.concatenate([t10k.train_images, t10k.test_images])
        labels = np.concatenate([t10k.train_labels, t10k.test_labels])
        copies, words = 6, "10,000 real MNIST test images + 60,000 one-pixel shifts of them"
    else:
        m = load_dataset("mnist5k")
        images = np.concatenate([m.train_images, m.test_images])
        labels = np.concatenate([m.train_labels, m.test_labels])
        copies, words = 14, "mnist5k (5,000 images) shifted 14 ways (70,000)"
    bundle = DatasetBundle("bench-70k", shifted(images, copies), np.tile(labels, copies),
                           images, labels, tuple(str(i) for i in range(10)))
    return bundle, words


def save_npz(data, path: Path) -> None:
    """`data` as an .npz that the settings panel and `vae-gui train --dataset` take."""
    u8 = [np.round(a * 255).astype(np.uint8) for a in (data.train_images, data.test_images)]
    np.savez(path, train_images=u8[0], train_labels=data.train_labels, test_images=u8[1],
             test_labels=data.test_labels)


def pretrained_models():
    from vae_gui.model.checkpoint import load_checkpoint
    from vae_gui.model.shipped_files import pretrained_checkpoint

    c = load_checkpoint(pretrained_checkpoint())
    return c.ae, c.vae


def clouds(data):
    from vae_gui.model.cloud_points import CloudPoints

    return [("test split", CloudPoints.of(data)),
            ("test + training splits", CloudPoints.of(data, include_train=True))]


def run_encode(data, repeats: int) -> None:
    import torch
    from vae_gui.model.training import encode_cloud

    ae, vae = pretrained_models()
    test_x, train_x = (torch.tensor(a).flatten(1) for a in (data.test_images,
                                                             data.train_images))
    rows = []
    for name, cloud in clouds(data):
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            encode_cloud((ae, vae), cloud, test_x, train_x)
            times.append(time.perf_counter() - t0)
        rows.append([name, f"{cloud.count:,}", repeats, f"{1000 * median(times):.0f}",
                     f"{1000 * max(times):.0f}"])
    print(f"\n## Encoding one snapshot's cloud ({torch.get_num_threads()} torch threads)\n")
    print(markdown_table(["points", "count", "repeats", "median ms", "worst ms"], rows))


def run_draw(app, data, repeats: int) -> None:
    """Both plots, new points each time (a jittered copy, as a snapshot brings)."""
    from vae_gui.views.latent_plot import LatentPlot

    ae, vae = pretrained_models()
    rows = []
    for name, cloud in clouds(data):
        from vae_gui.model.training import snapshot_of

        s = snapshot_of((ae, vae), data, cloud=cloud)
        plots = [LatentPlot(t) for t in ("AE", "VAE")]
        for plot in plots:
            plot.resize(640, 520)
            plot.set_classes(data.class_names)
            plot.show()
        rng = np.random.default_rng(0)
        variants = [[xy + rng.normal(0, 0.02, xy.shape).astype(np.float32)
                     for xy in (s.ae_codes, s.vae_mu)] for _ in range(4)]
        for plot, xy in zip(plots, variants[0], strict=True):
            plot.set_points(xy, s.labels)
            plot.fit(xy.min(0), xy.max(0))
        wait(100)
        times = []
        for k in range(repeats):
            t0 = time.perf_counter()
            for plot, xy in zip(plots, variants[k % 4], strict=True):
                plot.set_points(xy, s.labels)
                plot.viewport().repaint()
            times.append(time.perf_counter() - t0)
        modes = "/".join(sorted({p.render_mode for p in plots}))
        rows.append([name, f"{cloud.count:,}", modes, repeats,
                     f"{1000 * median(times):.1f}", f"{1000 * max(times):.1f}"])
        for plot in plots:
            plot.close()
            plot.deleteLater()
        app.processEvents()
    print("\n## Drawing: both latent plots, new points, repainted (640 x 520 each)\n")
    print(markdown_table(["points", "count", "drawn as", "repeats", "median ms (both)",
                          "worst ms"], rows))
    print(f"target: at most {TARGET_DRAW_MS:g} ms")


def run_train(data, seconds: float, rounds: int) -> None:
    """Headless: snapshots of the whole cloud vs none, alternating rounds."""
    import torch
    from vae_gui.model.config import ModelConfig, TrainConfig
    from vae_gui.model.training import Trainer, TrainingControl

    from vae_gui.workers.loading import prepare_torch

    prepare_torch()
    results: dict[str, list[tuple[float, float, int, float]]] = {"none": [], "whole": []}
    for _ in range(rounds):
        for kind in ("none", "whole"):
            trainer = Trainer(data, ModelConfig(), TrainConfig(epochs=1000),
                              include_train=True)
            control, spent, stamps = TrainingControl(), [0.0], []
            snapshot = trainer.snapshot

            def timed_snapshot(snapshot=snapshot, spent=spent, stamps=stamps, control=control):
                t0 = time.perf_counter()
                s = snapshot()
                if not control.stopped:  # the one at the end of a run is not beside training
                    spent[0] += time.perf_counter() - t0
                    stamps.append(t0)
                return s

            trainer.snapshot = timed_snapshot
            deadline = time.perf_counter() + seconds
            samples = [0]

            def progress(p, control=control, deadline=deadline, samples=samples,
                         trainer=trainer):
                samples[0] = trainer.step * trainer.config.batch_size
                if time.perf_counter() > deadline:
                    control.stop()

            t0 = time.perf_counter()
            trainer.run(control, on_progress=progress,
                        on_snapshot=(lambda s: None) if kind == "whole" else None)
            total = time.perf_counter() - t0
            gaps = np.diff(stamps) if len(stamps) > 1 else np.array([np.nan])
            results[kind].append((samples[0] / total, spent[0] / total, len(stamps),
                                  float(np.median(gaps))))
    rows = []
    for kind, words in (("none", "no snapshots (a script)"),
                        ("whole", f"snapshots of all {trainer.cloud.count:,} points")):
        r = results[kind]
        rows.append([words, rounds, f"{median([x[0] for x in r]):,.0f}",
                     f"{100 * median([x[1] for x in r]):.1f}%",
                     "-" if kind == "none" else f"{median([x[3] for x in r]):.2f}"])
    ratio = median([w[0] / n[0] for w, n in zip(results["whole"], results["none"],
                                                strict=True)])
    print(f"\n## Training beside a {trainer.cloud.count:,}-point cloud (headless, "
          f"{torch.get_num_threads()} torch threads, {seconds:g} s rounds)\n")
    print(markdown_table(["trainer", "rounds", "samples/s (median)",
                          "time in snapshots", "seconds between snapshots"], rows))
    share = median([x[1] for x in results["whole"]])
    print(f"\ntraining rate with snapshots / without, paired by round: {ratio:.2f}; "
          f"target: snapshots at most {100 * TARGET_SHARE:g}% of the time "
          f"({100 * share:.1f}%)")


def run_window(data, seconds: float, tmp: Path) -> None:
    """The window trains on the 70k set; event-loop gaps with 10k and with 70k points."""
    path = tmp / "bench-70k.npz"
    save_npz(data, path)
    window = open_window(tmp)
    rows = []
    try:
        window.settings_panel.dataset.setEditText(str(path))
        window.settings_panel.epochs.setValue(1000)
        for include_train in (False, True):
            if window.train_points_action.isChecked() != include_train:
                window.train_points_action.trigger()
            shown = window.snapshot
            window.train_action.trigger()
            wait_until(lambda shown=shown: window.session.running
                       and window.snapshot is not shown and window.snapshot.step >= 1,
                       300, "the first training snapshot")
            wait_until(lambda it=include_train: window.snapshot.cloud.include_train == it,
                       120, "the chosen points")
            count = len(window.snapshot.labels)
            published: list[int] = []
            window.session.snapshot.connect(published.append)
            gaps = heartbeat(seconds)
            window.session.snapshot.disconnect(published.append)
            stop_training(window)
            rows.append([f"{count:,}", f"{seconds:g}", len(published),
                         f"{np.percentile(gaps, 50):.1f}", f"{np.percentile(gaps, 99):.1f}",
                         f"{gaps.max():.1f}", int((gaps > 50).sum())])
    finally:
        close_window(window)
    print("\n## The window training on the 70k set: event-loop gaps (5 ms heartbeat)\n")
    print(markdown_table(["points per cloud", "seconds", "snapshots shown", "gap p50 ms",
                          "gap p99 ms", "gap max ms", "gaps > 50 ms"], rows))
    print(f"target: p99 at most {TARGET_GAP_P99_MS:g} ms, none over {TARGET_GAP_MAX_MS:g} ms")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="seconds, on a 7k set (the tests)")
    p.add_argument("--seconds", type=float, default=20.0, help="per training measurement")
    p.add_argument("--rounds", type=int, default=3, help="rounds of the headless comparison")
    p.add_argument("--only", action="append", choices=PARTS, help="run only this part "
                   "(repeatable)")
    args = p.parse_args(argv)
    app = make_app()
    data, words = data_70k()
    repeats, seconds, rounds = 7, args.seconds, args.rounds
    if args.quick:  # every part runs, on a tenth of the set, briefly
        data = dataclasses.replace(data, train_images=data.train_images[:6000],
                                   train_labels=data.train_labels[:6000],
                                   test_images=data.test_images[:1000],
                                   test_labels=data.test_labels[:1000])
        words, repeats, seconds, rounds = f"a tenth of: {words}", 2, 1.0, 1
    print(f"# 70k live points\n\ndata: {words} ({len(data.test_images):,} test, "
          f"{len(data.train_images):,} training)")
    t0 = time.perf_counter()
    from vae_gui.workers.loading import prepare_torch

    prepare_torch()
    parts = args.only or PARTS
    if "encode" in parts:
        run_encode(data, repeats)
    if "draw" in parts:
        run_draw(app, data, 5 * repeats)
    if "train" in parts:
        run_train(data, seconds, rounds)
    if "window" in parts:
        with tempfile.TemporaryDirectory() as tmp:
            run_window(data, seconds, Path(tmp))
    print(f"\n{time.perf_counter() - t0:.0f} s in all; 1-min load average "
          f"{os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
