"""The measurements of any pair of models (evaluate, compare, the evidence figures), checked on
a VAE | VAE checkpoint against the same functions called on each model directly. No Qt."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
from vae_gui.model import evaluate as evaluate_module
from vae_gui.model import evidence
from vae_gui.model.checkpoint import Checkpoint, save_checkpoint
from vae_gui.model.compare import compare_rows, compare_text
from vae_gui.model.config import ModelConfig, TrainConfig
from vae_gui.model.evaluate import _table, column_names, evaluate, evidence_kl
from vae_gui.model.evidence_report import (
    encode_column,
    measure_evidence,
    normality,
    vae_points,
)
from vae_gui.model.latent import encode_images
from vae_gui.model.networks import build_models, build_pair
from vae_gui.model.pair import SLOTS
from vae_gui.model.training import snapshot_of

N_IMAGES = 30  # of each split: enough for every figure, and quick
SAMPLES = 2


def _args(path) -> argparse.Namespace:
    """What `vae-gui evaluate PATH` takes, made small."""
    return argparse.Namespace(checkpoint=str(path), dataset=None, data_root=None,
                              held_out=None, samples=SAMPLES, iwae_k=5, max_images=N_IMAGES,
                              judged=50, json=None)


@pytest.fixture(scope="module")
def two_vaes() -> Checkpoint:
    """A VAE with β 1 on the left and one with the run's β, 4, on the right; built from two
    seeds, so that they differ as two trained ones would (and cost no training here)."""
    config = ModelConfig(hidden=(32,), latent_dim=2)
    train = TrainConfig(pair=("vae:1", "vae"), beta=4.0, epochs=1)
    left, right = (build_pair(config, ("vae",), seed)[0].eval() for seed in (1, 2))
    return Checkpoint(left, right, config, train, "mnist5k", tuple("0123456789"), epoch=1,
                      step=4)


@pytest.fixture(scope="module")
def reports(two_vaes, tmp_path_factory):
    """evaluate's reports of the VAE | VAE checkpoint and of an (untrained) AE | VAE one."""
    folder = tmp_path_factory.mktemp("pairs")
    ae, vae = build_models(two_vaes.model_config, seed=1)
    default = Checkpoint(ae, vae, two_vaes.model_config, TrainConfig(epochs=1), "mnist5k",
                         two_vaes.class_names, epoch=1, step=4)
    paths = [save_checkpoint(c, folder / f"{name}.safetensors")
             for name, c in (("vae_vae", two_vaes), ("ae_vae", default))]
    with pytest.MonkeyPatch.context() as patch:
        # A coarse quadrature: the fine one takes seconds a model and set, and the figure is
        # checked for its place in the report here, not for its accuracy.
        patch.setattr(evaluate_module, "EXACT_GRID", 32)
        return tuple(evaluate(_args(p)) for p in paths)


def test_evaluate_names_each_column_and_measures_it_as_its_own_model(two_vaes, reports,
                                                                     mnist5k):
    report = reports[0]
    assert report["models"] == [
        {"slot": "left", "name": "VAE \u03b2=1", "kind": "vae", "model": "vae:1", "beta": 1.0},
        {"slot": "right", "name": "VAE \u03b2=4", "kind": "vae", "model": "vae", "beta": 4.0}]
    images = mnist5k.test_images[:N_IMAGES]
    x = np.array(images, dtype=np.float32).reshape(len(images), -1)
    test = report["sets"]["test"]
    for slot, model in zip(("left", "right"), two_vaes.models, strict=True):
        figures = test[slot]
        mu, logvar = encode_images(model, images)
        assert figures["kl"] == pytest.approx(float(np.mean(evidence_kl(mu, logvar))))
        nelbo = evidence.negative_elbo(model, x, "bce", n_samples=SAMPLES, seed=0)
        assert figures["nelbo"] == pytest.approx(float(np.mean(nelbo)))
        assert figures["recon"] + figures["kl"] == pytest.approx(figures["nelbo"])
        assert figures["normality"] == normality(vae_points(mu, logvar)).__dict__
        exact = evidence.exact_nll_2d(model, x, "bce", n_grid=32)
        assert figures["exact_nll"] == pytest.approx(float(np.mean(exact)))  # 2-D latents
    # Two different networks measure differently.
    assert test["left"]["kl"] != test["right"]["kl"]
    assert set(report["prior_samples"]) == {"left", "right"}
    table = _table(report)
    assert "VAE \u03b2=1 reconstruction" in table and "VAE \u03b2=4 -ELBO" in table
    assert f"{test['right']['nelbo']:.2f}" in table


def test_compare_goes_column_by_column_with_a_dash_for_what_a_model_lacks(reports):
    a, b = reports  # A: VAE β=1 | VAE β=4; B: AE | VAE
    rows = {label: (va, vb, better) for label, va, vb, better in compare_rows(a, b)}
    left = "VAE \u03b2=1 (A) / AE (B):"
    # Both models of the left column reconstruct: compared, with the better one named.
    recon = rows[f"{left} reconstruction, nats"]
    assert recon[:2] == (f"{a['sets']['test']['left']['recon']:.2f}",
                         f"{b['sets']['test']['left']['recon']:.2f}")
    assert recon[2] in ("A", "B", "=")
    # Only A's left model is a VAE; only B's is an AE.
    assert rows[f"{left} -ELBO, nats"] == (f"{a['sets']['test']['left']['nelbo']:.2f}", "-",
                                           "")
    codes = rows[f"{left} codes: moment-matched KL to N(0, I)"]
    assert codes[0] == "-" and codes[1] != "-" and codes[2] == ""
    # The right column's names differ too (VAE β=4 against VAE), but both are VAEs.
    right = rows["VAE \u03b2=4 (A) / VAE (B): -ELBO, nats"]
    assert "-" not in right[:2] and right[2] in ("A", "B", "=")
    assert "VAE \u03b2=1 (A) / AE (B): reconstruction, nats" in compare_text(a, b)
    # The same checkpoint against itself: one name a column, every figure equal.
    same = compare_rows(a, a)
    assert same[0][0] == "VAE \u03b2=1 reconstruction, nats"
    assert all(better in ("=", "") for *_, better in same)


def test_measure_evidence_measures_two_vaes(two_vaes, tiny_data):
    s = snapshot_of(two_vaes.models, tiny_data, train_config=two_vaes.train_config)
    e = measure_evidence(s.columns, (28, 28), "bce", None, train_images=tiny_data.train_images,
                         test_images=tiny_data.test_images, n_bound=10, n_grid=64)
    assert e.names == ("VAE \u03b2=1", "VAE \u03b2=4")
    assert e.n_points == len(tiny_data.test_images) and e.latent_dim == 2
    for column, figures in zip(s.columns, e.columns, strict=True):
        assert figures.kind == "vae" and figures.samples is None
        assert figures.normality == normality(vae_points(column.mu, column.logvar))
        assert figures.bound is not None and figures.bound.n_images == 10
    assert e.columns[0].bound != e.columns[1].bound
    with pytest.raises(ValueError, match="name its column"):
        _ = e.vae  # two VAEs: no single one by kind
    assert [c["slot"] for c in e.to_dict()["columns"]] == ["left", "right"]


def test_measure_evidence_takes_encoded_columns_of_any_kinds(two_vaes, tiny_data):
    """An AE | VAE pair given as encoded columns: the AE's figures are those of its codes."""
    ae, _ = build_models(two_vaes.model_config, seed=1)
    images = tiny_data.test_images
    columns = [encode_column(ae, images, "AE"), encode_column(two_vaes.right, images, "VAE")]
    e = measure_evidence(columns, (28, 28), "bce", None)
    assert [c.kind for c in e.columns] == ["ae", "vae"]
    assert e.ae == normality(encode_images(ae, images)[0])
    assert e.columns[0].bound is None and e.bound is None  # no training images given


def test_columns_that_would_read_the_same_are_told_apart_by_their_slot(reports):
    assert column_names(TrainConfig(pair=("ae", "ae"))) == ("AE (left)", "AE (right)")
    assert column_names(TrainConfig(pair=("vae", "vae:2"), beta=2.0)) == (
        "VAE \u03b2=2 (left)", "VAE \u03b2=2 (right)")
    assert column_names(TrainConfig()) == ("AE", "VAE")
    # Two AE | AE reports (made from B's AE figures): the rows name each column's slot.
    b = reports[1]
    models = [{"slot": slot, "name": f"AE ({slot})", "kind": "ae"} for slot in SLOTS]
    test = {"images": 30, "left": b["sets"]["test"]["left"], "right": b["sets"]["test"]["left"]}
    judged = b["prior_samples"]["left"]
    two_aes = {"models": models, "sets": {"test": test},
               "prior_samples": {"left": judged, "right": judged}}
    labels = [label for label, *_ in compare_rows(two_aes, two_aes)]
    assert labels[:2] == ["left: AE reconstruction, nats",
                          "left: AE codes: moment-matched KL to N(0, I)"]
    assert "right: AE reconstruction, nats" in labels and len(labels) == 6
    # Against A (VAE β=1 | VAE β=4), each column's two names say which is which.
    assert "VAE \u03b2=1 (A) / AE (B): reconstruction, nats" in [
        label for label, *_ in compare_rows(reports[0], two_aes)]


def test_evaluate_checks_between_figures_so_a_cancelled_job_stops_within_a_set(
        two_vaes, tmp_path, monkeypatch):
    """A window's background job cancels through `check`: evaluate calls it between each
    model's figures and between a VAE's bounds, so it stops before the first set is done."""
    path = save_checkpoint(two_vaes, tmp_path / "vae_vae.safetensors")
    monkeypatch.setattr(evaluate_module, "EXACT_GRID", 32)
    calls, stages = [], []

    class Cancelled(Exception):
        pass

    def check() -> None:
        calls.append(len(stages))
        if len(calls) == 3:  # the left VAE's bounds begun, the first set not finished
            raise Cancelled

    with pytest.raises(Cancelled):
        evaluate(_args(path), progress=stages.append, check=check)
    assert stages == [f"measuring {N_IMAGES} train images"]  # the test set never began
    assert calls == [1, 1, 1]
    assert len(evaluate(_args(path), check=lambda: calls.append(0))["sets"]) == 2
    assert len(calls) - 3 >= 2 * 6  # per set: before each model, twice inside each VAE
