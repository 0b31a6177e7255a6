"""Any two models side by side: the pair's settings, training two VAEs on the same batches,
their checkpoints, `vae-gui train --pair` and two checkpoints opened beside each other."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors import safe_open
from torch.distributions import Normal, kl_divergence
from vae_gui.model.beside import beside_checkpoint, beside_names
from vae_gui.model.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from vae_gui.model.config import ModelConfig, TrainConfig
from vae_gui.model.errors import CheckpointError, VaeGuiError
from vae_gui.model.losses import reconstruction_loss
from vae_gui.model.memory_needs import parameter_count
from vae_gui.model.networks import VariationalAutoencoder, build_models
from vae_gui.model.pair import pair_labels, parse_pair, parse_spec
from vae_gui.model.training import EVAL_NOISE_SEED, Trainer

TWO_VAES = TrainConfig(epochs=1, batch_size=50, seed=3, beta=4.0, pair=("vae:1", "vae"))


def test_a_pair_is_written_as_two_short_texts():
    assert [parse_spec(t).text() for t in ("ae", "VAE", "vae:4", "vae:0.5")] == [
        "ae", "vae", "vae:4", "vae:0.5"]
    assert pair_labels(parse_pair(("ae", "vae")), 4.0) == ("AE", "VAE")
    assert pair_labels(parse_pair(("vae:1", "vae")), 4.0) == ("VAE \u03b2=1", "VAE \u03b2=4")
    for bad, words in ((("ae",), "two models"), (("x", "vae"), "ae, vae or vae:BETA"),
                       (("ae:2", "vae"), "no beta"), (("vae:1e9", "vae"), "at most 1000"),
                       (("vae:nan", "vae"), "finite")):
        with pytest.raises(ValueError, match=words):
            TrainConfig(pair=bad)
    # Settings written before pairs existed hold an AE and a VAE.
    old = {k: v for k, v in TrainConfig().to_dict().items() if k != "pair"}
    assert TrainConfig.from_dict(old).pair == ("ae", "vae")


def test_two_vaes_train_on_the_same_batches_each_with_its_own_beta(tiny_data, small_config):
    trainer = Trainer(tiny_data, small_config, TWO_VAES)
    left, right = trainer.models
    assert all(isinstance(m, VariationalAutoencoder) for m in trainer.models)
    # The memory check counts what the pair holds: two VAEs have two log-variance heads.
    assert parameter_count(small_config, vaes=2) == sum(
        p.numel() for m in trainer.models for p in m.parameters())
    # The same start: β is the only difference between them.
    assert all(torch.equal(a, b) for a, b in zip(left.state_dict().values(),
                                                  right.state_dict().values(), strict=True))
    losses = trainer.train_step()
    assert losses.left.loss == pytest.approx(losses.left.recon + 1.0 * losses.left.kl, rel=1e-5)
    assert losses.right.loss == pytest.approx(losses.right.recon + 4.0 * losses.right.kl,
                                              rel=1e-5)
    trainer.run()
    # Each column's test KL, measured independently with torch.distributions.
    test, kl_dims = trainer.evaluate()
    x = torch.tensor(tiny_data.test_images).flatten(1)
    for model, figures, dims in zip(trainer.models, test.columns, kl_dims, strict=True):
        with torch.no_grad():
            mu, logvar = model.eval().encode(x)
            kl = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0))
            logits, _, _ = model(x, torch.Generator().manual_seed(EVAL_NOISE_SEED))
        assert figures.kl == pytest.approx(kl.sum(1).mean().item(), rel=1e-4)
        assert sum(dims) == pytest.approx(figures.kl, rel=1e-4)
        assert figures.recon == pytest.approx(reconstruction_loss(logits, x, "bce").item(),
                                              rel=1e-4)
    # β = 4 weighs the KL four times as much, so after an epoch that VAE's KL is the smaller.
    assert test.right.kl < test.left.kl
    snapshot = trainer.snapshot()
    assert [c.name for c in snapshot.columns] == ["VAE \u03b2=1", "VAE \u03b2=4"]
    assert all(c.variational and c.logvar.shape == c.mu.shape for c in snapshot.columns)
    with pytest.raises(ValueError, match="2 models of kind 'vae'"):
        snapshot.vae  # noqa: B018 - two VAEs: a caller must name the column
    # A movie of the run shows the columns by place; "the VAE" names no column of this pair.
    from vae_gui.model.movie import MovieError, plot_frames

    assert set(plot_frames([snapshot], ("left", "right"))) == {"left", "right"}
    with pytest.raises(MovieError, match="no single VAE; choose a column"):
        plot_frames([snapshot], ("vae",))


def test_a_pair_of_two_vaes_opens_again_as_saved(tiny_data, small_config, tmp_path):
    trainer = Trainer(tiny_data, small_config, TWO_VAES)
    trainer.run()
    path = save_checkpoint(Checkpoint(*trainer.models, small_config, trainer.config, "tiny",
                                      tiny_data.class_names, 1, trainer.step,
                                      tuple(trainer.history)), tmp_path / "pair.safetensors")
    with safe_open(str(path), "pt") as f:
        assert {name.split(".")[0] for name in f.keys()} == {"left", "right"}  # noqa: SIM118
    back = load_checkpoint(path)
    assert back.train_config.pair == ("vae:1", "vae")
    for saved, loaded in zip(trainer.models, back.models, strict=True):
        assert isinstance(loaded, VariationalAutoencoder)
        assert all(torch.equal(a.cpu(), b) for a, b in zip(saved.state_dict().values(),
                                                             loaded.state_dict().values(),
                                                             strict=True))
    assert back.history[0].test == trainer.history[0].test
    # Models that are not the pair their settings name are never saved.
    ae, vae = build_models(small_config, 0)
    with pytest.raises(CheckpointError, match="models are ae and vae"):
        save_checkpoint(Checkpoint(ae, vae, small_config, TWO_VAES, "tiny", ("a",)),
                        tmp_path / "wrong.safetensors")
    assert not (tmp_path / "wrong.safetensors").exists()


def test_vae_gui_train_takes_a_pair(tmp_path, capsys):
    from vae_gui.app import main

    out = tmp_path / "run"
    assert main(["train", "--epochs", "1", "--hidden", "16", "--pair", "vae:1", "vae",
                 "--beta", "4", "--out", str(out), "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "Training VAE \u03b2=1 | VAE \u03b2=4 on mnist5k" in printed
    line = next(x for x in printed.splitlines() if x.startswith("epoch"))
    assert "VAE \u03b2=1 loss" in line and "| VAE \u03b2=4 loss" in line
    ckpt = load_checkpoint(out / "checkpoint.safetensors")
    assert ckpt.train_config.pair == ("vae:1", "vae")
    test = json.loads((out / "metrics.json").read_text())["epochs"][0]["test"]
    assert (test["left"]["kind"], test["right"]["kind"]) == ("vae", "vae")
    assert test["right"]["loss"] == pytest.approx(test["right"]["recon"]
                                                  + 4 * test["right"]["kl"], rel=1e-6)
    with pytest.raises(SystemExit):
        main(["train", "--pair", "ae:2", "vae"])
    assert "no beta" in capsys.readouterr().err


def test_two_checkpoints_beside_each_other_are_their_right_models(make_checkpoint):
    a = make_checkpoint(seed=1)
    b = make_checkpoint(seed=2, train_config=TrainConfig(epochs=3, seed=2, beta=4.0))
    pair = beside_checkpoint(a, b)
    assert pair.left is a.vae and pair.right is b.vae
    # Each VAE's β written out: training this pair again trains the same two models.
    assert pair.train_config.pair == ("vae:1", "vae:4")
    assert beside_names(a, b) == ("A: VAE \u03b2=1", "B: VAE \u03b2=4")
    (epoch,) = pair.history
    assert epoch.test.left == a.history[0].test.right
    assert epoch.test.right == b.history[0].test.right
    small = make_checkpoint(config=ModelConfig(image_shape=(16, 16), hidden=(8,)))
    with pytest.raises(VaeGuiError, match="28x28 and 16x16"):
        beside_checkpoint(a, small)
    wide = make_checkpoint(config=ModelConfig(hidden=(8,), latent_dim=3))
    with pytest.raises(VaeGuiError, match="2 and 3 dimensions"):
        beside_checkpoint(a, wide)
    assert np.isfinite([epoch.test.left.kl, epoch.test.right.kl]).all()
    # Any one model of each: A's AE beside B's VAE, each with its own run's losses.
    mixed = beside_checkpoint(a, b, (0, 1))
    assert mixed.left is a.ae and mixed.right is b.vae
    assert mixed.train_config.pair == ("ae", "vae:4")
    assert beside_names(a, b, (0, 1)) == ("A: AE", "B: VAE \u03b2=4")
    assert mixed.history[0].test.left == a.history[0].test.left
