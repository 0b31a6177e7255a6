"""Two checkpoints side by side (`vae-gui compare`): the rows and which is better. No Qt."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from vae_gui.model.checkpoint import load_checkpoint, save_checkpoint
from vae_gui.model.compare import compare_rows
from vae_gui.model.data import load_dataset

from vae_gui.app import main


def report(ae_recon: float, vae_nelbo: float, entropy: float, exact=None) -> dict:
    """The parts of an evaluate report of an AE | VAE checkpoint that the comparison reads."""
    normal = {"moment_kl": 1.0, "mmd": 0.01, "outside_share": 0.05}
    judged = {"entropy_nats": entropy, "mean_confidence": 0.9}
    ae = {"recon": ae_recon, "normality": normal}
    vae = {"recon": 100.0, "kl": 5.0, "nelbo": vae_nelbo, "iwae": vae_nelbo - 1,
           "exact_nll": exact, "normality": normal}
    models = [{"slot": "left", "name": "AE", "kind": "ae"},
              {"slot": "right", "name": "VAE", "kind": "vae"}]
    return {"models": models, "sets": {"test": {"images": 10, "left": ae, "right": vae}},
            "prior_samples": {"left": judged, "right": judged}}


def test_each_figure_names_the_better_checkpoint_in_its_own_direction():
    rows = {label: (va, vb, better) for label, va, vb, better in
            compare_rows(report(120.0, 150.0, 2.0), report(130.0, 140.0, 2.2))}
    assert rows["AE reconstruction, nats"] == ("120.00", "130.00", "A")  # lower is better
    assert rows["VAE -ELBO, nats"] == ("150.00", "140.00", "B")
    assert rows["VAE prior samples: class entropy, nats"][2] == "B"  # higher is better
    assert rows["VAE KL(q(z|x) || N(0, I)), nats"][2] == ""  # neither direction is better
    assert rows["VAE aggregate: MMD² to N(0, I)"][2] == "="
    assert "VAE exact -log p(x), nats (2-D)" not in rows  # neither has one


@pytest.mark.slow  # two evaluations (about 5 s); tests/test_gui_compare.py is the quick one
def test_vae_gui_compare_prints_both_checkpoints_figures(tmp_path, make_checkpoint, capsys):
    paths = [save_checkpoint(make_checkpoint(seed=s), tmp_path / f"{s}.safetensors")
             for s in (1, 2)]
    assert main(["compare", *map(str, paths), "--max-images", "40"]) == 0
    out = capsys.readouterr().out
    assert f"A: {paths[0]}" in out and f"B: {paths[1]}" in out
    line = next(row for row in out.splitlines() if row.startswith("AE reconstruction"))
    a_value, b_value = (float(v) for v in line.split()[-3:-1])
    # A's AE reconstruction, computed here directly: summed BCE over the first 40 test images.
    ckpt = load_checkpoint(paths[0])
    x = torch.tensor(np.array(load_dataset("mnist5k").test_images[:40])).flatten(1)
    with torch.no_grad():
        logits = ckpt.ae.decode(ckpt.ae.encode(x))
        bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1).mean()
    assert a_value == round(bce.item(), 2) and a_value != b_value


def test_compare_says_why_it_cannot(tmp_path, make_checkpoint, capsys):
    good = save_checkpoint(make_checkpoint(), tmp_path / "good.safetensors")
    assert main(["compare", str(good), str(tmp_path / "missing.safetensors")]) == 1
    assert "vae-gui compare:" in capsys.readouterr().err
