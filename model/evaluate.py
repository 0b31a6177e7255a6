"""`vae-gui evaluate CHECKPOINT`: the evidence panel's figures headless, as a table and JSON.

For each image set (the dataset's training and test splits, and a held-out IDX set where
given): the AE's reconstruction, the VAE's reconstruction and -ELBO with a stated number of
samples, an importance-weighted (IWAE) bound, the exact -log p(x) by quadrature where the
latent space is 2-D, and how normal each latent space is; then a classifier's judgement of
decoded prior samples.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from vae_gui.model.cli import nonempty
from vae_gui.model.errors import VaeGuiError

DESCRIPTION = ("Measure a checkpoint's AE and VAE: reconstruction, -ELBO, an IWAE bound, "
               "the exact -log p(x) for a 2-D latent, how normal each latent space is, and "
               "whether decoded prior samples look like the data. All figures are nats per "
               "image (summed over pixels, and channels in colour) unless marked.")


# The quadrature's grid over [-6, 6]^2: posteriors about 0.05 wide (the shipped VAE's) need
# it this fine for 0.01 nats per image (256 points a side are off by up to 0.04).
EXACT_GRID = 384


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


def split_figures(ae, vae, images: np.ndarray, kind: str, samples: int, iwae_k: int) -> dict:
    """The per-image figures of one image set, averaged."""
    import torch
    from vae_gui.model import evidence
    from vae_gui.model.evidence_report import normality, vae_points
    from vae_gui.model.latent import encode_images
    from vae_gui.model.losses import reconstruction_per_image

    # A writable copy: dataset arrays are read-only, which torch warns about.
    x = np.array(images, dtype=np.float32).reshape(len(images), -1)
    with torch.inference_mode():
        xt = torch.from_numpy(x)
        ae_recon = torch.cat([reconstruction_per_image(ae.decode(ae.encode(b)), b, kind)
                              for b in xt.split(1000)]).double().mean().item()
    codes, _ = encode_images(ae, images)
    mu, logvar = encode_images(vae, images)
    nelbo = evidence.negative_elbo(vae, x, kind, n_samples=samples, seed=0)
    kl = evidence_kl(mu, logvar)
    out = {
        "images": len(x),
        "recon_floor": reconstruction_floor(x, kind),
        "ae_recon": ae_recon,
        "vae_recon": float(np.mean(nelbo) - np.mean(kl)),
        "vae_kl": float(np.mean(kl)),
        "vae_nelbo": float(np.mean(nelbo)),
        "vae_nelbo_samples": samples,
        "vae_iwae": float(np.mean(evidence.iwae_nll(vae, x, kind, k=iwae_k, seed=0))),
        "vae_iwae_k": iwae_k,
        "vae_exact_nll": None,
        "ae_normality": normality(codes).__dict__,
        "vae_normality": normality(vae_points(mu, logvar)).__dict__,
        "vae_means_normality": normality(mu).__dict__,
    }
    if mu.shape[1] == 2:
        out["vae_exact_nll"] = float(np.mean(evidence.exact_nll_2d(vae, x, kind,
                                                                   n_grid=EXACT_GRID)))
        out["vae_exact_nll_grid"] = EXACT_GRID
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


def evaluate(args: argparse.Namespace, progress=lambda text: None) -> dict:
    """Every figure, as a JSON-ready dict."""
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
    ckpt.ae.eval()
    ckpt.vae.eval()
    figures = {}
    for name, images in sets.items():
        progress(f"measuring {len(images):,} {name.replace('_', '-')} images")
        figures[name] = split_figures(ckpt.ae, ckpt.vae, images, kind, args.samples,
                                      args.iwae_k)
    d = ckpt.model_config.latent_dim
    if data.name in ("mnist5k", "mnist") and shape == (28, 28):
        judge, judge_source = load_judge(shipped_judge()), "shipped (trained on mnist5k)"
    else:
        progress("training a classifier on the training split")
        judge, judge_source = train_judge(data), f"trained now on {data.name}"
    judged = {}
    for which, model in (("ae", ckpt.ae), ("vae", ckpt.vae)):
        j = judge_prior_samples(judge, lambda z, m=model: decode_images(m, z, shape), d,
                                n=args.judged, seed=0)
        judged[which] = {k: (v.tolist() if isinstance(v, np.ndarray) else v)
                         for k, v in j.__dict__.items()}
    _, prior_share, radius = beyond_ring_share(np.zeros((1, d)))
    return {
        "checkpoint": str(Path(args.checkpoint)),
        "dataset": data.name,
        "loss": kind,
        "latent_dim": d,
        "epoch": ckpt.epoch,
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


def _table(report: dict) -> str:
    sets = list(report["sets"])
    head = f"{'':44}" + "".join(f"{s.replace('_', '-'):>12}" for s in sets)
    rows = [f"{report['checkpoint']}: {report['dataset']}, latent {report['latent_dim']}, "
            f"epoch {report['epoch']}, {report['loss']}; nats per image", head]

    def row(label: str, get, fmt: str = "{:12.2f}") -> None:
        cells = []
        for s in sets:
            v = get(report["sets"][s])
            cells.append(f"{'-':>12}" if v is None else fmt.format(v))
        rows.append(f"{label:44}" + "".join(cells))

    f = report["sets"][sets[0]]
    row("images", lambda s: s["images"], "{:12d}")
    row("reconstruction floor (no model can go lower)", lambda s: s["recon_floor"])
    row("AE reconstruction", lambda s: s["ae_recon"])
    row(f"VAE reconstruction ({f['vae_nelbo_samples']} samples)", lambda s: s["vae_recon"])
    row("VAE KL(q(z|x) || N(0, I))", lambda s: s["vae_kl"])
    row(f"VAE -ELBO ({f['vae_nelbo_samples']} samples)", lambda s: s["vae_nelbo"])
    row(f"VAE IWAE bound (k = {f['vae_iwae_k']})", lambda s: s["vae_iwae"])
    row(f"VAE exact -log p(x) ({EXACT_GRID}² quadrature, 2-D)", lambda s: s["vae_exact_nll"])
    ref = report["reference"]
    rows.append("How normal is each latent space (VAE: one draw of q(z|x) per image)?")
    for which in ("ae", "vae"):
        key = f"{which}_normality"
        name = which.upper()
        row(f"  {name} moment-matched KL to N(0, I)", lambda s, k=key: s[k]["moment_kl"])
        row(f"  {name} MMD² to N(0, I)", lambda s, k=key: s[k]["mmd"], "{:12.4f}")
        row(f"  {name} outside radius {ref['ring_radius']:.2f}",
            lambda s, k=key: 100 * s[k]["outside_share"], "{:11.1f}%")
    rows.append(f"  (prior: {100 * ref['prior_outside_share']:.1f}% outside; MMD² noise floor "
                f"{ref['mmd_noise_floor_p95']:.4f} for 2,000 true N(0, I) draws, 95th pct.)")
    judge = report["judge"]
    rows.append(f"Decoded prior samples, judged by a classifier ({judge['source']}; "
                f"{100 * judge['accuracy_on_test_split']:.1f}% on the test split):")
    names = judge["class_names"]
    for which in ("ae", "vae"):
        j = report["prior_samples"][which]
        top = names[j["largest_class"]] if j["largest_class"] < len(names) else "?"
        rows.append(f"  {which.upper():4} confidence {j['mean_confidence']:.3f}, class entropy "
                    f"{j['entropy_nats']:.2f} of {j['max_entropy_nats']:.2f} nats, most common "
                    f"class {top} ({100 * j['largest_share']:.1f}%), {j['n_samples']} samples")
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
