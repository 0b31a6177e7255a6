"""Two checkpoints side by side: their `vae-gui evaluate` figures on the test split, figure by
figure, with which one is better where "better" has a direction; and `vae-gui compare A B`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass

from vae_gui.model.cli import nonempty

DESCRIPTION = ("Measure two checkpoints as 'vae-gui evaluate' does, on the test split of the "
               "dataset each names, and print their figures side by side with the better "
               "one of each figure.")
DEFAULT_MAX_IMAGES = 1000


@dataclass(frozen=True)
class Figure:
    """One row: its label, how to read it from an evaluate report, its format, and whether a
    lower value is better (None: neither direction is better)."""

    label: str
    read: Callable[[dict], float | None]
    fmt: str
    lower_is_better: bool | None


def _test(key: str) -> Callable[[dict], float | None]:
    return lambda report: report["sets"]["test"][key]


def _normal(which: str, key: str, scale: float = 1.0) -> Callable[[dict], float | None]:
    return lambda report: scale * report["sets"]["test"][f"{which}_normality"][key]


def _judged(which: str, key: str) -> Callable[[dict], float | None]:
    return lambda report: report["prior_samples"][which][key]


FIGURES = (
    Figure("AE reconstruction, nats", _test("ae_recon"), "{:.2f}", True),
    Figure("VAE reconstruction, nats", _test("vae_recon"), "{:.2f}", True),
    Figure("VAE KL(q(z|x) || N(0, I)), nats", _test("vae_kl"), "{:.2f}", None),
    Figure("VAE -ELBO, nats", _test("vae_nelbo"), "{:.2f}", True),
    Figure("VAE IWAE bound, nats", _test("vae_iwae"), "{:.2f}", True),
    Figure("VAE exact -log p(x), nats (2-D)", _test("vae_exact_nll"), "{:.2f}", True),
    Figure("AE codes: moment-matched KL to N(0, I)", _normal("ae", "moment_kl"), "{:.2f}", True),
    Figure("VAE aggregate: moment-matched KL to N(0, I)", _normal("vae", "moment_kl"),
           "{:.3f}", True),
    Figure("VAE aggregate: MMD² to N(0, I)", _normal("vae", "mmd"), "{:.4f}", True),
    Figure("AE prior samples: class entropy, nats", _judged("ae", "entropy_nats"), "{:.2f}",
           False),
    Figure("VAE prior samples: class entropy, nats", _judged("vae", "entropy_nats"), "{:.2f}",
           False),
    Figure("VAE prior samples: classifier confidence", _judged("vae", "mean_confidence"),
           "{:.3f}", False),
)


def compare_rows(a: dict, b: dict) -> list[tuple[str, str, str, str]]:
    """(figure, A, B, better: "A", "B", "=" or "") for every figure both reports have."""
    rows = []
    for f in FIGURES:
        va, vb = f.read(a), f.read(b)
        if va is None and vb is None:
            continue
        better = ""
        if f.lower_is_better is not None and va is not None and vb is not None:
            if f.fmt.format(va) == f.fmt.format(vb):
                better = "="
            else:
                better = "A" if (va < vb) == f.lower_is_better else "B"
        rows.append((f.label, "-" if va is None else f.fmt.format(va),
                     "-" if vb is None else f.fmt.format(vb), better))
    return rows


def compare_text(a: dict, b: dict) -> str:
    """The rows as a plain table, with what each checkpoint is."""
    head = [f"A: {a['checkpoint']} ({a['dataset']}, latent {a['latent_dim']}, epoch "
            f"{a['epoch']})",
            f"B: {b['checkpoint']} ({b['dataset']}, latent {b['latent_dim']}, epoch "
            f"{b['epoch']})",
            f"test split, {a['sets']['test']['images']:,} and {b['sets']['test']['images']:,} "
            "images",
            f"{'':46}{'A':>12}{'B':>12}  better"]
    body = [f"{label:46}{va:>12}{vb:>12}  {better}" for label, va, vb, better
            in compare_rows(a, b)]
    return "\n".join(head + body)


def evaluate_args(checkpoint: str, max_images: int = DEFAULT_MAX_IMAGES,
                  data_root: str | None = None) -> argparse.Namespace:
    """What `evaluate` takes, with the defaults of `vae-gui evaluate` and at most
    `max_images` images of each split."""
    return argparse.Namespace(checkpoint=checkpoint, dataset=None, data_root=data_root,
                              held_out=None, samples=10, iwae_k=100, max_images=max_images,
                              judged=2000, json=None)


def add_compare_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("a", type=nonempty, help="the first checkpoint (A)")
    p.add_argument("b", type=nonempty, help="the second checkpoint (B)")
    p.add_argument("--max-images", type=int, default=DEFAULT_MAX_IMAGES,
                   help=f"measure at most this many images of each split "
                        f"(default: {DEFAULT_MAX_IMAGES})")
    p.add_argument("--data-root", type=nonempty, default=None,
                   help="where torchvision datasets are kept")


def run_compare(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if not 1 <= args.max_images <= 1_000_000:
        parser.error(f"--max-images must be from 1 to 1000000, not {args.max_images}")
    from vae_gui.model.checkpoint import read_metadata
    from vae_gui.model.errors import VaeGuiError
    from vae_gui.model.evaluate import evaluate

    try:
        for path in (args.a, args.b):  # both readable before either is measured
            read_metadata(path)
        reports = []
        for name, path in (("A", args.a), ("B", args.b)):
            reports.append(evaluate(
                evaluate_args(path, args.max_images, args.data_root),
                progress=lambda t, n=name: print(f"vae-gui compare: {n}: {t}",
                                                 file=sys.stderr, flush=True)))
    except (VaeGuiError, OSError) as e:
        print(f"vae-gui compare: {e}", file=sys.stderr)
        return 1
    print(compare_text(*reports))
    return 0
