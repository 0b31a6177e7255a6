"""Two checkpoints side by side: their `vae-gui evaluate` figures on the test split, figure by
figure, with which one is better where "better" has a direction; and `vae-gui compare A B`.

The checkpoints may hold any pairs (AE | VAE, VAE | VAE, ...): they are compared column by
column, A's left model with B's left and A's right with B's right, each figure that either
model of a column has; "-" stands for a figure that a model's kind does not have (an AE has
no -ELBO).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass

from vae_gui.model.cli import nonempty
from vae_gui.model.pair import SLOTS

DESCRIPTION = ("Measure two checkpoints as 'vae-gui evaluate' does, on the test split of the "
               "dataset each names, and print their figures side by side, column by column, "
               "with the better one of each figure.")
DEFAULT_MAX_IMAGES = 1000
LABEL_WIDTH = 46  # the table's first column, wider where the models' names need it


@dataclass(frozen=True)
class Figure:
    """One row of a column: its label after the column's name, how to read it from an
    evaluate report for a slot, its format, whether a lower value is better (None: neither
    direction is better) and which kinds of model have it."""

    label: str
    read: Callable[[dict, str], float | None]
    fmt: str
    lower_is_better: bool | None
    kinds: tuple[str, ...] = ("ae", "vae")


def _test(key: str) -> Callable[[dict, str], float | None]:
    return lambda report, slot: report["sets"]["test"][slot][key]


def _normal(key: str) -> Callable[[dict, str], float | None]:
    return lambda report, slot: report["sets"]["test"][slot]["normality"][key]


def _judged(key: str) -> Callable[[dict, str], float | None]:
    return lambda report, slot: report["prior_samples"][slot][key]


FIGURES = (
    Figure("reconstruction, nats", _test("recon"), "{:.2f}", True),
    Figure("KL(q(z|x) || N(0, I)), nats", _test("kl"), "{:.2f}", None, ("vae",)),
    Figure("-ELBO, nats", _test("nelbo"), "{:.2f}", True, ("vae",)),
    Figure("IWAE bound, nats", _test("iwae"), "{:.2f}", True, ("vae",)),
    Figure("exact -log p(x), nats (2-D)", _test("exact_nll"), "{:.2f}", True, ("vae",)),
    Figure("codes: moment-matched KL to N(0, I)", _normal("moment_kl"), "{:.2f}", True,
           ("ae",)),
    Figure("aggregate: moment-matched KL to N(0, I)", _normal("moment_kl"), "{:.3f}", True,
           ("vae",)),
    Figure("aggregate: MMD² to N(0, I)", _normal("mmd"), "{:.4f}", True, ("vae",)),
    Figure("prior samples: class entropy, nats", _judged("entropy_nats"), "{:.2f}", False),
    Figure("prior samples: classifier confidence", _judged("mean_confidence"), "{:.3f}",
           False, ("vae",)),
)


def _model(report: dict, slot: str) -> dict:
    """The report's entry of "models" for this slot."""
    return next(m for m in report["models"] if m["slot"] == slot)


def _value(figure: Figure, report: dict, slot: str) -> float | None:
    """The figure of the report's model in `slot`, or None where its kind has none."""
    if _model(report, slot)["kind"] not in figure.kinds:
        return None
    return figure.read(report, slot)


def _name(report: dict, slot: str) -> str:
    """The window's name of the report's model in `slot`, without the slot that evaluate
    adds where both of its models read the same: here the rows keep the columns apart."""
    return _model(report, slot)["name"].removesuffix(f" ({slot})")


Columns = tuple[tuple[str, str], ...]  # which column of A is compared with which of B
SAME_COLUMNS: Columns = tuple(zip(SLOTS, SLOTS, strict=True))  # left with left, right with right


def column_labels(a: dict, b: dict, columns: Columns = SAME_COLUMNS) -> tuple[str, ...]:
    """Each compared pair's name in the rows: "VAE" where both checkpoints name it so, else
    both names ("VAE β=1 (A) / AE (B):"); led by the slot where two would read the same."""
    labels = []
    for slot_a, slot_b in columns:
        name_a, name_b = _name(a, slot_a), _name(b, slot_b)
        labels.append(name_a if name_a == name_b else f"{name_a} (A) / {name_b} (B):")
    if len(set(labels)) < len(labels):
        return tuple(f"{slot_a}: {label}" for (slot_a, _), label in zip(columns, labels,
                                                                        strict=True))
    return tuple(labels)


def _better(f: Figure, va: float | None, vb: float | None) -> str:
    """"A", "B", "=" (equal as shown) or "" (no direction, or one of them missing)."""
    if f.lower_is_better is None or va is None or vb is None:
        return ""
    if f.fmt.format(va) == f.fmt.format(vb):
        return "="
    return "A" if (va < vb) == f.lower_is_better else "B"


def compare_rows(a: dict, b: dict,
                 columns: Columns = SAME_COLUMNS) -> list[tuple[str, str, str, str]]:
    """(figure, A, B, better: "A", "B", "=" or "") for every figure that either report has,
    column by column (by default left with left, then right with right; `columns` names
    other pairs, such as the two models Open beside shows); "-" where one of them has no
    such figure."""
    rows = []
    for (slot_a, slot_b), name in zip(columns, column_labels(a, b, columns), strict=True):
        for f in FIGURES:
            va, vb = _value(f, a, slot_a), _value(f, b, slot_b)
            if va is None and vb is None:
                continue
            rows.append((f"{name} {f.label}", "-" if va is None else f.fmt.format(va),
                         "-" if vb is None else f.fmt.format(vb), _better(f, va, vb)))
    return rows


def _pair_text(report: dict) -> str:
    """The checkpoint's columns, left first: "AE | VAE"."""
    return " | ".join(m["name"] for m in report["models"])


def compare_text(a: dict, b: dict) -> str:
    """The rows as a plain table, with what each checkpoint is."""
    rows = compare_rows(a, b)
    width = max([LABEL_WIDTH - 2] + [len(label) for label, *_ in rows]) + 2
    head = [f"{n}: {r['checkpoint']} ({r['dataset']}, latent {r['latent_dim']}, epoch "
            f"{r['epoch']}; {_pair_text(r)})" for n, r in (("A", a), ("B", b))]
    head += [f"test split, {a['sets']['test']['images']:,} and "
             f"{b['sets']['test']['images']:,} images",
             f"{'':{width}}{'A':>12}{'B':>12}  better"]
    body = [f"{label:{width}}{va:>12}{vb:>12}  {better}" for label, va, vb, better in rows]
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
