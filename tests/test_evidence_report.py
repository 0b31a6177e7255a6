"""The evidence figures, the exact posterior picture, encoder dropout, IDX held-out sets and
`vae-gui evaluate` (no Qt)."""

from __future__ import annotations

import gzip
import json
import math

import numpy as np
import pytest
import torch
from dataset_files import write_idx
from vae_gui.model import evidence
from vae_gui.model.checkpoint import load_checkpoint
from vae_gui.model.config import ModelConfig
from vae_gui.model.data import load_dataset
from vae_gui.model.errors import DatasetError
from vae_gui.model.evidence_report import EncodedColumn, measure_evidence, vae_points
from vae_gui.model.idx_files import load_idx_folder
from vae_gui.model.networks import build_models
from vae_gui.model.posterior_picture import ELLIPSE_MASS_IF_EXACT, posterior_picture
from vae_gui.model.shipped_files import pretrained_checkpoint

from vae_gui.app import main as app_main


@pytest.fixture(scope="module")
def shipped():
    return load_checkpoint(pretrained_checkpoint()), load_dataset("mnist5k")


@pytest.fixture(scope="module")
def shipped_evidence(shipped):
    from vae_gui.model.judge import load_judge
    from vae_gui.model.latent import encode_images
    from vae_gui.model.shipped_files import shipped_judge

    ckpt, data = shipped
    test = data.test_images
    codes, _ = encode_images(ckpt.ae, test)
    mu, logvar = encode_images(ckpt.vae, test)
    columns = [EncodedColumn("AE", ckpt.ae, codes, None),
               EncodedColumn("VAE", ckpt.vae, mu, logvar)]
    return measure_evidence(columns, data.image_shape, "bce", load_judge(shipped_judge()),
                            train_images=data.train_images, test_images=test, n_bound=100,
                            n_grid=128)


def test_the_vae_latent_space_measures_closer_to_the_prior_than_the_ae(shipped_evidence):
    e = shipped_evidence
    assert e.vae.moment_kl < 0.5 < 10 < e.ae.moment_kl
    assert e.vae.mmd < e.ae.mmd
    assert e.ring_radius == pytest.approx(3.0)
    assert e.prior_outside_share == pytest.approx(math.exp(-4.5))
    assert e.vae.outside_share < e.ae.outside_share


def test_the_evidence_figures_match_independent_computations(shipped, shipped_evidence):
    """The panel's VAE figures are those of one draw of q(z|x) per test image."""
    from vae_gui.model.latent import encode_images

    ckpt, data = shipped
    mu, logvar = encode_images(ckpt.vae, data.test_images)
    z = vae_points(mu, logvar).astype(np.float64)
    m, cov = z.mean(axis=0), np.cov(z.T, bias=True)
    kl = torch.distributions.kl_divergence(
        torch.distributions.MultivariateNormal(torch.tensor(m), torch.tensor(cov)),
        torch.distributions.MultivariateNormal(torch.zeros(2, dtype=torch.float64),
                                               torch.eye(2, dtype=torch.float64))).item()
    assert shipped_evidence.vae.moment_kl == pytest.approx(kl, rel=1e-6)
    assert shipped_evidence.vae.outside_share == pytest.approx(
        float((np.linalg.norm(z, axis=1) > 3).mean()))


def test_the_bound_figures_order_as_the_theory_says(shipped_evidence):
    b = shipped_evidence.bound
    assert b is not None and b.n_images == 100
    # -ELBO is an upper bound on -log p(x); the gap is the mean KL(q(z|x) || p(z|x)) >= 0
    # (up to the Monte Carlo noise of 10 samples).
    assert b.train_gap > -0.5 and b.test_gap > -0.5
    assert b.test_nll > b.train_nll - 20


def test_prior_samples_are_judged_for_both_models(shipped_evidence):
    for j in (shipped_evidence.ae_samples, shipped_evidence.vae_samples):
        assert 0.1 < j.mean_confidence <= 1
        assert 0 <= j.entropy_nats <= j.max_entropy_nats == pytest.approx(math.log(10))
    # The VAE's prior samples cover the classes more evenly than the AE's.
    assert shipped_evidence.vae_samples.entropy_nats > shipped_evidence.ae_samples.entropy_nats


def test_posterior_picture_agrees_with_quadrature_and_the_bound(shipped):
    ckpt, data = shipped
    for i in (0, 7):
        image = data.test_images[i]
        p = posterior_picture(ckpt.vae, image, "bce")
        exact = evidence.exact_nll_2d(ckpt.vae, image.reshape(1, -1).copy(), "bce",
                                      n_grid=384)[0]
        assert p.nll == pytest.approx(exact, abs=2e-3)
        assert p.gap > -0.3  # KL(q || p(z|x)) >= 0, up to the ELBO's sampling noise
        assert 0 <= p.mass_in_ellipse <= 1
        assert p.mass_shown == pytest.approx(1.0, abs=0.02)
        x0, y0 = p.lo
        x1, y1 = p.hi
        assert x0 < p.mu[0] < x1 and y0 < p.mu[1] < y1


def test_ellipse_mass_if_exact_is_the_2d_gaussian_mass_within_two_sigma():
    draws = np.random.default_rng(0).standard_normal((200_000, 2))
    share = float(((draws ** 2).sum(axis=1) <= 4).mean())
    assert pytest.approx(share, abs=0.003) == ELLIPSE_MASS_IF_EXACT


def test_encoder_dropout_changes_training_only_and_keeps_weight_names():
    plain, _ = build_models(ModelConfig(image_shape=(8, 8), hidden=(32, 16)), seed=0)
    ae, vae = build_models(ModelConfig(image_shape=(8, 8), hidden=(32, 16),
                                       encoder_dropout=0.5), seed=0)
    assert plain.state_dict().keys() == ae.state_dict().keys()
    x = torch.rand(64, 64)
    ae.eval()
    assert torch.equal(ae.encode(x), plain.eval().encode(x))  # no dropout when encoding
    ae.train()
    assert not torch.equal(ae.encode(x), plain.encode(x))
    assert ModelConfig.from_dict({"image_shape": [8, 8], "hidden": [4],
                                  "latent_dim": 2}).encoder_dropout == 0.0
    with pytest.raises(ValueError, match="encoder dropout"):
        ModelConfig(encoder_dropout=0.95)


def _write_held_out(folder, n=40, gz=True):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    folder.mkdir()
    write_idx(folder / "t10k-images-idx3-ubyte", images)
    write_idx(folder / "t10k-labels-idx1-ubyte", labels)
    if gz:
        for p in list(folder.iterdir()):
            (folder / (p.name + ".gz")).write_bytes(gzip.compress(p.read_bytes()))
            p.unlink()
    return images, labels


def test_idx_held_out_folder_reads_plain_and_gzipped(tmp_path):
    for gz in (False, True):
        images, labels = _write_held_out(tmp_path / f"set{gz}", gz=gz)
        x, y = load_idx_folder(tmp_path / f"set{gz}")
        assert np.array_equal(y, labels)
        assert np.allclose(x, images / 255.0)


def test_idx_held_out_folder_refuses_damaged_files(tmp_path):
    _write_held_out(tmp_path / "a", gz=False)
    blob = (tmp_path / "a" / "t10k-images-idx3-ubyte").read_bytes()
    (tmp_path / "a" / "t10k-images-idx3-ubyte").write_bytes(blob[:-5])
    with pytest.raises(DatasetError, match="declares"):
        load_idx_folder(tmp_path / "a")
    (tmp_path / "b").mkdir()
    with pytest.raises(DatasetError, match="exactly one IDX images file"):
        load_idx_folder(tmp_path / "b")


@pytest.mark.slow
def test_evaluate_prints_a_table_and_writes_json(tmp_path, capsys):
    _write_held_out(tmp_path / "held")
    out = tmp_path / "figures.json"
    code = app_main(["evaluate", str(pretrained_checkpoint()), "--held-out",
                     str(tmp_path / "held"), "--max-images", "60", "--samples", "2",
                     "--iwae-k", "5", "--judged", "200", "--json", str(out)])
    assert code == 0
    table = capsys.readouterr().out
    assert "VAE exact -log p(x)" in table and "held-out" in table
    report = json.loads(out.read_text())
    assert set(report["sets"]) == {"train", "test", "held_out"}
    assert report["sets"]["test"]["images"] == 60
    test = report["sets"]["test"]["right"]  # the shipped pair's VAE
    # The bounds in the order theory puts them: -ELBO >= IWAE >= exact -log p(x).
    assert test["nelbo"] >= test["iwae"] - 0.5
    assert test["iwae"] >= test["exact_nll"] - 0.05
    assert test["recon"] + test["kl"] == pytest.approx(test["nelbo"])
    assert report["prior_samples"]["right"]["n_samples"] == 200
    assert f"{test['exact_nll']:.2f}" in table


def test_evaluate_reports_usage_errors_and_bad_files(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        app_main(["evaluate", str(pretrained_checkpoint()), "--samples", "0"])
    assert exit_info.value.code == 2
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a checkpoint")
    assert app_main(["evaluate", str(bad)]) == 1
    assert "vae-gui evaluate:" in capsys.readouterr().err


def test_the_reconstruction_floor_is_the_bce_of_a_perfect_decoder():
    from vae_gui.model.evaluate import reconstruction_floor

    x = np.random.default_rng(0).uniform(0.01, 0.99, size=(5, 784))
    perfect = torch.nn.functional.binary_cross_entropy(
        torch.tensor(x), torch.tensor(x), reduction="none").sum(dim=1).mean().item()
    assert reconstruction_floor(x, "bce") == pytest.approx(perfect, rel=1e-9)
    assert reconstruction_floor(np.round(x), "bce") == pytest.approx(0.0, abs=1e-6)
    assert reconstruction_floor(x, "mse") == pytest.approx(784 * 0.5 * math.log(math.pi))
