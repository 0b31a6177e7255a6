"""`vae-gui evaluate CHECKPOINT`: the evidence panel's figures headless, as a table and JSON.

For each image set (the dataset's training and test splits, and a held-out IDX set where
given), and for each of the checkpoint's two models (the pair its settings name: AE | VAE,
VAE | VAE, ...): an AE's reconstruction and how normal its codes are; a VAE's
reconstruction, KL and -ELBO with a stated number of samples, an importance-weighted (IWAE)
bound, the exact -log p(x) by quadrature where the latent space is 2-D, and how normal its
aggregate posterior and its means are; then a classifier's judgement of each model's decoded
prior samples.

The JSON report (figures in nats per image unless marked):

    "models": [{"slot": "left", "name": "AE", "kind": "ae", "model": "ae", "beta": null},
               {"slot": "right", "name": "VAE", "kind": "vae", "model": "vae", "beta": 1.0}]
        each column, left first: its name as the window gives it (with its slot where both
        read the same), its kind, its model as TrainConfig.pair writes it and the weight of
        its KL term (null for an AE)
    "sets": {"train" | "test" | "held_out": {"images": N, "recon_floor": ...,
                                             "left": FIGURES, "right": FIGURES}}
        FIGURES of an AE: {"recon", "normality"} (of its codes)
        FIGURES of a VAE: {"recon", "kl", "nelbo", "nelbo_samples", "iwae", "iwae_k",
                           "exact_nll" (null unless the latent space is 2-D),
                           "exact_nll_grid" (2-D only), "normality" (of one draw of q(z|x)
                           per image: the aggregate posterior), "means_normality"}
        each "normality": {"moment_kl", "mmd", "outside_share"}
    "prior_samples": {"left": JUDGEMENT, "right": JUDGEMENT}
    and "checkpoint", "dataset", "loss", "latent_dim", "epoch", "encoder_dropout", "units",
    "reference" (the prior's ring and the MMD² noise floor) and "judge".
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from vae_gui.model.cli import nonempty
from vae_gui.model.errors import VaeGuiError
from vae_gui.model.pair import SLOTS, distinct_labels, pair_labels, parse_pair

DESCRIPTION = ("Measure a checkpoint's two models (an AE or a VAE each): reconstruction, "
               "a VAE's -ELBO, an IWAE bound and the exact -log p(x) for a 2-D latent, how "
               "normal each latent space is, and whether decoded prior samples look like the "
               "data. All figures are nats per image (summed over pixels, and channels in "
               "colour) unless marked.")


# The quadrature's grid over [-6, 6]^2: posteriors about 0.05 wide (the shipped VAE's) need
# it this fine for 0.01 nats per image (256 points a side are off by up to 0.04).
EXACT_GRID = 384
LABEL_WIDTH = 44  # the table's first column, wider where a model's name needs it


def add_evaluate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", type=nonempty,
                   help="a .safetensors checkpoint written by vae-gui")
    p.add_argument("--dataset", type=nonempty, default=None,
                   help="dataset to measure on (default: the one the checkpoint names)")
    p.add_argument("--data-root", type=nonempty, default=None,
                   help="where torchvision datasets are kept")
    p.add_argument("--held-out", metavar="DIR", type=nonempty, default=None,
                   help="also measure on a folder holding one IDX images file and one IDX "
                        "labels file (plain or .gz), e.g. MNIST's t10k files")
    p.add_argument("--samples", type=int, default=10,
                   help="samples of q(z|x) per image in the -ELBO (default: 10)")
    p.add_argument("--iwae-k", type=int, default=100,
                   help="importance samples per image in the IWAE bound (default: 100)")
    p.add_argument("--max-images", type=int, default=10_000,
                   help="measure at most this many images of each set, the first ones "
                        "(default: 10000)")
    p.add_argument("--judged", type=int, default=2000,
                   help="decoded prior samples the classifier judges (default: 2000)")
    p.add_argument("--json", metavar="PATH", type=nonempty, default=None,
                   help="also write every figure as JSON to PATH ('-' for standard output, "
                        "instead of the table)")


def _positive(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    for name in ("samples", "iwae_k", "max_images", "judged"):
        value = getattr(args, name)
        if not 1 <= value <= 1_000_000:
            parser.error(f"--{name.replace('_', '-')} must be from 1 to 1000000, not {value}")


def column_names(train_config) -> tuple[str, str]:
    """The two columns' names as the window gives them ("AE", "VAE", "VAE β=4"), each followed
    by its slot where both would read the same (two AEs, or two VAEs of one β)."""
    return distinct_labels(pair_labels(parse_pair(train_config.pair), train_config.beta))


def models_of(train_config) -> list[dict]:
    """The report's "models": each column's slot, name, kind, model and KL weight."""
    specs = parse_pair(train_config.pair)
    return [{"slot": slot, "name": name, "kind": spec.kind, "model": spec.text(),
             "beta": spec.beta_in(train_config.beta) if spec.variational else None}
            for slot, name, spec in zip(SLOTS, column_names(train_config), specs, strict=True)]


def is_variational(model) -> bool:
    from vae_gui.model.networks import VariationalAutoencoder

    return isinstance(model, VariationalAutoencoder)


def split_figures(models: Sequence, images: np.ndarray, kind: str, samples: int,
                  iwae_k: int, check: Callable[[], object] = lambda: None) -> dict:
    """The per-image figures of one image set, averaged: the set's own, then each model's
    under its slot ("left", "right"). `check` runs between figures (a window's background
    job raises there when it is cancelled, rather than after the whole set)."""
    # A writable copy: dataset arrays are read-only, which torch warns about.
    x = np.array(images, dtype=np.float32).reshape(len(images), -1)
    out = {"images": len(x), "recon_floor": reconstruction_floor(x, kind)}
    for slot, model in zip(SLOTS, models, strict=True):
        check()
        out[slot] = (vae_figures(model, x, images, kind, samples, iwae_k, check)
                     if is_variational(model) else ae_figures(model, x, images, kind))
    return out


def ae_figures(ae, x: np.ndarray, images: np.ndarray, kind: str) -> dict:
    """An AE's reconstruction and the normality of its codes; `x` is `images` flattened."""
    import torch
    from vae_gui.model.evidence_report import normality
    from vae_gui.model.latent import encode_images
    from vae_gui.model.losses import reconstruction_per_image

    with torch.inference_mode():
        xt = torch.from_numpy(x)
        recon = torch.cat([reconstruction_per_image(ae.decode(ae.encode(b)), b, kind)
                           for b in xt.split(1000)]).double().mean().item()
    codes, _ = encode_images(ae, images)
    return {"recon": recon, "normality": normality(codes).__dict__}


def vae_figures(vae, x: np.ndarray, images: np.ndarray, kind: str, samples: int,
                iwae_k: int, check: Callable[[], object] = lambda: None) -> dict:
    """A VAE's bounds and the normality of its aggregate posterior and of its means
    (`check` runs between the bounds)."""
    from vae_gui.model import evidence
    from vae_gui.model.evidence_report import normality, vae_points
    from vae_gui.model.latent import encode_images

    mu, logvar = encode_images(vae, images)
    nelbo = evidence.negative_elbo(vae, x, kind, n_samples=samples, seed=0)
    kl = evidence_kl(mu, logvar)
    check()
    iwae = float(np.mean(evidence.iwae_nll(vae, x, kind, k=iwae_k, seed=0)))
    check()
    out = {
        "recon": float(np.mean(nelbo) - np.mean(kl)),
        "kl": float(np.mean(kl)),
        "nelbo": float(np.mean(nelbo)),
        "nelbo_samples": samples,
        "iwae": iwae,
        "iwae_k": iwae_k,
        "exact_nll": None,
        "normality": normality(vae_points(mu, logvar)).__dict__,
        "means_normality": normality(mu).__dict__,
    }
    if mu.shape[1] == 2:
        out["exact_nll"] = float(np.mean(evidence.exact_nll_2d(vae, x, kind,
                                                               n_grid=EXACT_GRID)))
        out["exact_nll_grid"] = EXACT_GRID
    return out


def reconstruction_floor(x: np.ndarray, kind: str) -> float | None:
    """The least reconstruction loss possible, per image: with BCE on grey-level pixels the
    decoder's best is to output each pixel's own grey level, which leaves its binary entropy
    (so BCE never reaches 0 unless every pixel is 0 or 1); MSE's Gaussian has its constant."""
    if kind == "mse":
        return float(x.shape[1] * 0.5 * np.log(np.pi))
    p = np.clip(np.asarray(x, np.float64), 1e-12, 1 - 1e-12)
    return float(np.mean((-(p * np.log(p)) - (1 - p) * np.log1p(-p)).sum(axis=1)))


def evidence_kl(mu: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """KL(q(z|x) || N(0, I)) per image, closed form, float64."""
    mu, logvar = np.asarray(mu, np.float64), np.asarray(logvar, np.float64)
    return 0.5 * (mu ** 2 + np.exp(logvar) - 1.0 - logvar).sum(axis=1)


def evaluate(args: argparse.Namespace, progress=lambda text: None,
             check: Callable[[], object] = lambda: None) -> dict:
    """Every figure, as a JSON-ready dict; `progress` gets a sentence at each stage, and
    `check` runs between figures (a window's background job stops there when cancelled)."""
    from vae_gui.model.checkpoint import load_checkpoint
    from vae_gui.model.data import load_dataset
    from vae_gui.model.evidence import beyond_ring_share, mmd_noise_floor
    from vae_gui.model.idx_files import load_idx_folder
    from vae_gui.model.judge import judge_prior_samples, load_judge, train_judge
    from vae_gui.model.latent import decode_images
    from vae_gui.model.shipped_files import shipped_judge

    ckpt = load_checkpoint(args.checkpoint)
    kind = ckpt.train_config.loss
    shape = tuple(ckpt.model_config.image_shape)
    data = load_dataset(args.dataset or ckpt.dataset, args.data_root, shape[0])
    if data.image_shape != shape:
        raise VaeGuiError(f"The models expect {shape} images but {data.name} has "
                          f"{data.image_shape}.")
    n = args.max_images
    sets = {"train": data.train_images[:n], "test": data.test_images[:n]}
    if args.held_out:
        images, _labels = load_idx_folder(args.held_out)
        if images.shape[1:] != shape:
            raise VaeGuiError(f"The held-out images are {images.shape[1:]}, the models expect "
                              f"{shape}.")
        sets["held_out"] = images[:n]
    for model in ckpt.models:
        model.eval()
    figures = {}
    for name, images in sets.items():
        progress(f"measuring {len(images):,} {name.replace('_', '-')} images")
        figures[name] = split_figures(ckpt.models, images, kind, args.samples, args.iwae_k,
                                      check)
    d = ckpt.model_config.latent_dim
    if data.name in ("mnist5k", "mnist") and shape == (28, 28):
        judge, judge_source = load_judge(shipped_judge()), "shipped (trained on mnist5k)"
    else:
        progress("training a classifier on the training split")
        judge, judge_source = train_judge(data), f"trained now on {data.name}"
    judged = {}
    for slot, model in zip(SLOTS, ckpt.models, strict=True):
        check()
        # The same seed for both: their samples decode the same latent points.
        j = judge_prior_samples(judge, lambda z, m=model: decode_images(m, z, shape), d,
                                n=args.judged, seed=0)
        judged[slot] = {k: (v.tolist() if isinstance(v, np.ndarray) else v)
                        for k, v in j.__dict__.items()}
    _, prior_share, radius = beyond_ring_share(np.zeros((1, d)))
    return {
        "checkpoint": str(Path(args.checkpoint)),
        "dataset": data.name,
        "loss": kind,
        "latent_dim": d,
        "epoch": ckpt.epoch,
        "models": models_of(ckpt.train_config),
        "encoder_dropout": ckpt.model_config.encoder_dropout,
        "units": "nats per image, summed over pixels and, in colour images, over their 3 "
                 "channels (BCE: Bernoulli with grey-level targets; "
                 "MSE: Gaussian with variance 1/2)",
        "reference": {"ring_radius": radius, "prior_outside_share": prior_share,
                      "mmd_noise_floor_p95": mmd_noise_floor(
                          min(len(sets["test"]), 2000), d, 20, 1)[1]},
        "sets": figures,
        "judge": {"source": judge_source, "class_names": list(data.class_names),
                  "accuracy_on_test_split": judge.test_accuracy},
        "prior_samples": judged,
    }


def _set_rows(model: dict, first: dict) -> list[tuple[str, str, str]]:
    """(label, key, format) of one model's figures by set; `first` is its figures in the
    first set (which say how many samples the bounds took)."""
    name = model["name"]
    if model["kind"] != "vae":
        return [(f"{name} reconstruction", "recon", "{:12.2f}")]
    return [
        (f"{name} reconstruction ({first['nelbo_samples']} samples)", "recon", "{:12.2f}"),
        (f"{name} KL(q(z|x) || N(0, I))", "kl", "{:12.2f}"),
        (f"{name} -ELBO ({first['nelbo_samples']} samples)", "nelbo", "{:12.2f}"),
        (f"{name} IWAE bound (k = {first['iwae_k']})", "iwae", "{:12.2f}"),
        (f"{name} exact -log p(x) ({EXACT_GRID}\u00b2 quadrature, 2-D)", "exact_nll",
         "{:12.2f}"),
    ]


def _normality_rows(model: dict, radius: float) -> list[tuple[str, str, str, float]]:
    """(label, key of "normality", format, scale) of one model's latent space."""
    name = model["name"]
    return [(f"  {name} moment-matched KL to N(0, I)", "moment_kl", "{:12.2f}", 1.0),
            (f"  {name} MMD\u00b2 to N(0, I)", "mmd", "{:12.4f}", 1.0),
            (f"  {name} outside radius {radius:.2f}", "outside_share", "{:11.1f}%", 100.0)]


def _table(report: dict) -> str:
    sets = list(report["sets"])
    models = report["models"]
    first = report["sets"][sets[0]]
    ref = report["reference"]
    figure_rows = [(m["slot"], _set_rows(m, first[m["slot"]])) for m in models]
    normal_rows = [(m["slot"], _normality_rows(m, ref["ring_radius"])) for m in models]
    width = max([LABEL_WIDTH - 2] + [len(label) for _, rows in figure_rows + normal_rows
                                     for label, *_ in rows]) + 2
    head = " " * width + "".join(f"{s.replace('_', '-'):>12}" for s in sets)
    rows = [f"{report['checkpoint']}: {report['dataset']}, latent {report['latent_dim']}, "
            f"epoch {report['epoch']}, {report['loss']}; nats per image", head]

    def row(label: str, get, fmt: str = "{:12.2f}") -> None:
        cells = []
        for s in sets:
            v = get(report["sets"][s])
            cells.append(f"{'-':>12}" if v is None else fmt.format(v))
        rows.append(f"{label:{width}}" + "".join(cells))

    row("images", lambda s: s["images"], "{:12d}")
    row("reconstruction floor (no model can go lower)", lambda s: s["recon_floor"])
    for slot, model_rows in figure_rows:
        for label, key, fmt in model_rows:
            row(label, lambda s, m=slot, k=key: s[m][k], fmt)
    any_vae = any(m["kind"] == "vae" for m in models)
    rows.append("How normal is each latent space" + (
        " (VAE: one draw of q(z|x) per image)?" if any_vae else "?"))
    for slot, model_rows in normal_rows:
        for label, key, fmt, scale in model_rows:
            row(label, lambda s, m=slot, k=key, x=scale: x * s[m]["normality"][k], fmt)
    rows.append(f"  (prior: {100 * ref['prior_outside_share']:.1f}% outside; MMD² noise floor "
                f"{ref['mmd_noise_floor_p95']:.4f} for 2,000 true N(0, I) draws, 95th pct.)")
    judge = report["judge"]
    rows.append(f"Decoded prior samples, judged by a classifier ({judge['source']}; "
                f"{100 * judge['accuracy_on_test_split']:.1f}% on the test split):")
    names = judge["class_names"]
    name_width = max(4, *(len(m["name"]) for m in models))
    for m in models:
        j = report["prior_samples"][m["slot"]]
        top = names[j["largest_class"]] if j["largest_class"] < len(names) else "?"
        rows.append(f"  {m['name']:{name_width}} confidence {j['mean_confidence']:.3f}, class "
                    f"entropy {j['entropy_nats']:.2f} of {j['max_entropy_nats']:.2f} nats, most "
                    f"common class {top} ({100 * j['largest_share']:.1f}%), "
                    f"{j['n_samples']} samples")
    return "\n".join(rows)


def run_evaluate(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    _positive(parser, args)
    quiet = args.json == "-"
    try:
        report = evaluate(args, progress=lambda t: None if quiet else print(
            f"vae-gui evaluate: {t}", file=sys.stderr, flush=True))
    except (VaeGuiError, OSError) as e:
        print(f"vae-gui evaluate: {e}", file=sys.stderr)
        return 1
    if quiet:
        print(json.dumps(report, indent=2))
        return 0
    print(_table(report))
    if args.json:
        from vae_gui.model.atomic_write import write_atomic

        try:
            write_atomic(Path(args.json), json.dumps(report, indent=2).encode())
        except OSError as e:
            print(f"vae-gui evaluate: cannot write {args.json}: {e}", file=sys.stderr)
            return 1
    return 0
