"""The convolutional encoder and decoder (ModelConfig.arch "conv") beside the MLP: shapes,
the configurations refused, checkpoints old and new, and short training runs. No Qt."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from vae_gui.model.checkpoint import load_checkpoint, read_metadata, save_checkpoint
from vae_gui.model.config import MAX_CONV_CHANNELS, ModelConfig, TrainConfig
from vae_gui.model.memory_needs import parameter_count
from vae_gui.model.networks import build_models
from vae_gui.model.shipped_files import pretrained_checkpoint
from vae_gui.model.training import Trainer

# The names a checkpoint of the MLP pair with hidden (32,) stores: they must never change.
MLP_KEYS = ["encoder.net.0.weight", "encoder.net.0.bias",
            "encoder.net.2.weight", "encoder.net.2.bias",
            "decoder.net.0.weight", "decoder.net.0.bias",
            "decoder.net.2.weight", "decoder.net.2.bias"]


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.mark.parametrize("side, hidden", [(28, (16, 32)), (64, (16, 32, 64))])
def test_conv_encode_decode_shapes(side, hidden):
    d = 3
    config = ModelConfig(image_shape=(side, side), hidden=hidden, latent_dim=d, arch="conv")
    ae, vae = build_models(config, 0)
    x = torch.rand(5, side, side)
    assert ae.encode(x).shape == (5, d)
    assert torch.equal(ae.encode(x), ae.encode(x.flatten(1)))  # (N, H*W) works as well
    mu, logvar = vae.encode(x)
    assert mu.shape == logvar.shape == (5, d)
    z = torch.randn(4, d)
    assert ae.decode(z).shape == vae.decode(z).shape == (4, side * side)
    logits, mu, logvar = vae(x)
    assert logits.shape == (5, side * side)
    convs = [m for m in vae.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == list(hidden)
    transposed = [m for m in vae.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [c.out_channels for c in transposed] == [*reversed(hidden[:-1]), 1]
    # The memory estimate counts exactly the parameters built.
    assert parameter_count(config) == sum(p.numel() for m in (ae, vae) for p in m.parameters())


@pytest.mark.parametrize("kwargs, sentence", [
    (dict(image_shape=(30, 30), hidden=(8, 16)),
     "with 2 convolutional stages the image side must be divisible by 4, and 30 is not"),
    (dict(image_shape=(28, 28), hidden=(8, 16, 32)),
     "with 3 convolutional stages the image side must be divisible by 8, and 28 is not"),
    (dict(image_shape=(28, 32), hidden=(8,)),
     "convolutional networks need square images, not 28x32"),
    (dict(hidden=(8, MAX_CONV_CHANNELS + 1)),
     f"convolutional channel counts must be at most {MAX_CONV_CHANNELS}, not "
     f"{MAX_CONV_CHANNELS + 1}"),
])
def test_a_conv_config_that_cannot_be_built_is_refused_with_a_sentence(kwargs, sentence):
    with pytest.raises(ValueError) as caught:
        ModelConfig(arch="conv", **kwargs)
    assert str(caught.value) == sentence
    ModelConfig(arch="mlp", **kwargs)  # every one of them is a fine MLP


def test_an_unknown_architecture_is_refused_with_a_sentence():
    with pytest.raises(ValueError, match=r"^architecture must be one of mlp, conv, not 'rnn'$"):
        ModelConfig(arch="rnn")


def test_arch_round_trips_and_old_metadata_means_mlp():
    conv = ModelConfig(hidden=(8, 16), latent_dim=2, arch="conv")
    assert conv.to_dict()["arch"] == "conv"
    assert ModelConfig.from_dict(conv.to_dict()) == conv
    old = ModelConfig(hidden=(8, 16)).to_dict()
    del old["arch"]  # as written before the option existed
    assert ModelConfig.from_dict(old).arch == "mlp"
    assert ModelConfig().arch == "mlp"


def test_the_mlp_weights_keep_their_names():
    ae, vae = build_models(ModelConfig(hidden=(32,), latent_dim=2), 0)
    assert list(ae.state_dict()) == MLP_KEYS
    assert list(vae.state_dict()) == MLP_KEYS


def test_a_conv_checkpoint_saves_and_loads_with_identical_weights(tmp_path, make_checkpoint):
    config = ModelConfig(arch="conv", hidden=(8, 16), latent_dim=2)
    checkpoint = make_checkpoint(config=config)
    path = save_checkpoint(checkpoint, tmp_path / "conv.safetensors")
    assert read_metadata(path)["model"]["arch"] == "conv"
    loaded = load_checkpoint(path)
    assert loaded.model_config == config
    for saved, back in ((checkpoint.ae, loaded.ae), (checkpoint.vae, loaded.vae)):
        weights, loaded_weights = saved.state_dict(), back.state_dict()
        assert weights.keys() == loaded_weights.keys()
        assert all(torch.equal(weights[k], loaded_weights[k]) for k in weights)
    assert any(isinstance(m, nn.Conv2d) for m in loaded.vae.modules())


def test_the_shipped_mlp_checkpoint_without_arch_still_opens():
    path = pretrained_checkpoint()
    assert "arch" not in read_metadata(path)["model"]
    loaded = load_checkpoint(path)
    assert loaded.model_config.arch == "mlp"
    assert not any(isinstance(m, nn.Conv2d) for m in loaded.vae.modules())


def _conv_trainer(tiny_data, dropout: float = 0.0, seed: int = 0) -> Trainer:
    config = ModelConfig(hidden=(8, 16), latent_dim=2, encoder_dropout=dropout, arch="conv")
    return Trainer(tiny_data, config, TrainConfig(epochs=3, batch_size=50, seed=seed,
                                                  device="cpu", precision="fp32"))


def test_a_short_conv_run_lowers_both_test_losses(tiny_data):
    trainer = _conv_trainer(tiny_data)
    before, _ = trainer.evaluate()
    history = trainer.run()
    assert [m.epoch for m in history] == [1, 2, 3]
    first, last = history[0].test, history[-1].test
    assert last.ae_recon < first.ae_recon < before.ae_recon
    assert last.vae_loss < first.vae_loss < before.vae_loss
    assert last.is_finite()


def test_conv_encoder_dropout_acts_only_while_training():
    config = ModelConfig(hidden=(8, 16), latent_dim=2, encoder_dropout=0.5, arch="conv")
    ae, _ = build_models(config, 0)
    ae.encoder.generator = torch.Generator().manual_seed(0)
    x = torch.rand(6, 28, 28)
    assert not torch.equal(ae.train().encode(x), ae.encode(x))  # fresh masks each call
    plain, _ = build_models(ModelConfig(hidden=(8, 16), latent_dim=2, arch="conv"), 0)
    assert torch.equal(ae.eval().encode(x), plain.eval().encode(x))  # same weights, no masks


@pytest.mark.slow  # two short conv runs: the quick suite keeps to 3 minutes on 2 cores
def test_conv_with_encoder_dropout_trains_and_repeats_with_the_same_seed(tiny_data):
    runs = []
    for seed in (5, 5, 6):
        trainer = _conv_trainer(tiny_data, dropout=0.2, seed=seed)
        runs.append(([m.test for m in trainer.run()], trainer.vae.state_dict()))
    (tests, weights), (same_tests, same_weights), (other_tests, _) = runs
    assert tests == same_tests
    assert all(torch.equal(weights[k], same_weights[k]) for k in weights)
    assert tests != other_tests
    assert tests[-1].vae_loss < tests[0].vae_loss
