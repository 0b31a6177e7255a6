"""Colour images (H, W, 3) through the models: both architectures keep the channels, the
reconstruction loss sums over every pixel's three values, checkpoints record the channels,
and the shapes demo trains. No Qt."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from vae_gui.model.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from vae_gui.model.config import ModelConfig, TrainConfig
from vae_gui.model.data import DatasetBundle, load_dataset
from vae_gui.model.latent import decode_images, encode_images, mosaic
from vae_gui.model.losses import reconstruction_loss
from vae_gui.model.memory_needs import parameter_count
from vae_gui.model.networks import ChannelsFirst, FlatChannelsLast, build_models
from vae_gui.model.training import Trainer

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def shapes():
    return load_dataset("shapes")


def small_shapes(data: DatasetBundle, n_train: int = 600, n_test: int = 120) -> DatasetBundle:
    return DatasetBundle("shapes", data.train_images[:n_train], data.train_labels[:n_train],
                         data.test_images[:n_test], data.test_labels[:n_test],
                         data.class_names)


def test_the_shapes_demo_is_colour_float32_and_names_its_classes(shapes):
    assert shapes.image_shape == (32, 32, 3) and shapes.channels == 3
    assert shapes.train_images.dtype == np.float32
    assert (len(shapes.train_images), len(shapes.test_images)) == (6000, 1000)
    assert shapes.class_names == ("circle", "square", "triangle", "cross", "ring", "diamond")
    # Colour, not grey: the channels differ in most images.
    images = shapes.test_images
    differ = (images.max(axis=-1) - images.min(axis=-1)).max(axis=(1, 2))
    assert (differ > 0.15).all()


def test_channels_first_and_back_move_each_value_to_its_place():
    x = torch.arange(2 * 4 * 4 * 3, dtype=torch.float32).reshape(2, 4, 4, 3)
    first = ChannelsFirst((4, 4, 3))(x.flatten(1))
    assert first.shape == (2, 3, 4, 4)
    assert torch.equal(first, x.permute(0, 3, 1, 2))  # value (n, h, w, c) at [n, c, h, w]
    assert torch.equal(FlatChannelsLast()(first), x.flatten(1))


@pytest.mark.parametrize("arch, hidden", [("mlp", (64,)), ("conv", (8, 16))])
def test_colour_models_encode_and_decode_three_channels(arch, hidden):
    config = ModelConfig(image_shape=(16, 16, 3), hidden=hidden, latent_dim=2, arch=arch)
    assert config.channels == 3 and config.n_pixels == 16 * 16 * 3
    ae, vae = build_models(config, 0)
    x = np.random.default_rng(0).random((5, 16, 16, 3), dtype=np.float32)
    codes, _ = encode_images(ae, x)
    mu, logvar = encode_images(vae, x)
    assert codes.shape == mu.shape == logvar.shape == (5, 2)
    images = decode_images(vae, mu, config.image_shape)
    assert images.shape == (5, 16, 16, 3) and images.min() >= 0 and images.max() <= 1
    assert parameter_count(config) == sum(p.numel() for m in (ae, vae) for p in m.parameters())
    if arch == "conv":
        first = next(m for m in vae.modules() if isinstance(m, nn.Conv2d))
        last = [m for m in vae.modules() if isinstance(m, nn.ConvTranspose2d)][-1]
        assert first.in_channels == 3 and last.out_channels == 3


def test_a_conv_decoder_puts_each_channel_where_the_data_holds_it():
    """A decoder whose last layer's bias alone makes red: the decoded images are red in the
    data's channel-last order, whatever the layers before give."""
    config = ModelConfig(image_shape=(8, 8, 3), hidden=(4,), latent_dim=2, arch="conv")
    _, vae = build_models(config, 0)
    last = [m for m in vae.decoder.modules() if isinstance(m, nn.ConvTranspose2d)][-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.tensor([20.0, -20.0, -20.0]))
    images = decode_images(vae, np.zeros((1, 2), np.float32), config.image_shape)
    np.testing.assert_allclose(images[0, ..., 0], 1.0, atol=1e-6)
    np.testing.assert_allclose(images[0, ..., 1:], 0.0, atol=1e-6)


def test_the_colour_loss_sums_bce_over_every_pixel_and_channel():
    rng = np.random.default_rng(1)
    x = torch.as_tensor(rng.random((4, 6, 6, 3), dtype=np.float32)).flatten(1)
    logits = torch.as_tensor(rng.normal(size=(4, 108)).astype(np.float32))
    expected = F.binary_cross_entropy(torch.sigmoid(logits.double()), x.double(),
                                      reduction="sum") / 4  # nats per image
    assert reconstruction_loss(logits, x, "bce").item() == pytest.approx(expected.item(),
                                                                         rel=1e-5)


def test_colour_mosaics_keep_their_channels():
    tiles = np.stack([np.full((2, 2, 3), v, np.float32) for v in (0.0, 0.5, 1.0, 0.25)])
    tiles[0, ..., 0] = 1.0  # red
    out = mosaic(tiles, 2, 2, gap=1)
    assert out.shape == (5, 5, 3)
    np.testing.assert_array_equal(out[0, 0], [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(out[2, :], 1.0)  # the white gap


def test_colour_conv_trains_lowers_both_losses_and_round_trips_a_checkpoint(shapes, tmp_path):
    data = small_shapes(shapes)
    config = ModelConfig(image_shape=data.image_shape, hidden=(8, 16), latent_dim=2,
                         arch="conv")
    trainer = Trainer(data, config, TrainConfig(epochs=2, batch_size=60, seed=0))
    before, _ = trainer.evaluate()
    for _ in range(2 * trainer.steps_per_epoch):
        trainer.train_step()
    after, _ = trainer.evaluate()
    assert after.ae_recon < before.ae_recon and after.vae_loss < before.vae_loss
    snapshot = trainer.snapshot()
    path = tmp_path / "colour.safetensors"
    save_checkpoint(Checkpoint(snapshot.ae, snapshot.vae, config, trainer.config, data.name,
                               data.class_names, history=tuple(trainer.history)), path)
    ckpt = load_checkpoint(path)
    assert ckpt.model_config.image_shape == (32, 32, 3)
    z = np.array([[0.3, -0.7]], np.float32)
    np.testing.assert_array_equal(decode_images(ckpt.vae, z, (32, 32, 3)),
                                  decode_images(snapshot.vae, z, (32, 32, 3)))


def test_a_grey_checkpoint_does_not_open_colour_data_and_the_reverse(shapes):
    grey = ModelConfig(image_shape=(32, 32), hidden=(8, 16), arch="conv")
    with pytest.raises(ValueError, match=r"\(32, 32\).*\(32, 32, 3\)"):
        Trainer(small_shapes(shapes), grey, TrainConfig(epochs=1))


@pytest.mark.slow  # trains a classifier on 6,000 images: a few seconds
def test_the_judge_classifies_colour_shapes_and_saves_their_channels(shapes, tmp_path):
    from vae_gui.model.judge import load_judge, save_judge, train_judge

    data = small_shapes(shapes, n_train=6000, n_test=300)
    judge = train_judge(data, epochs=2)
    assert judge.image_shape == (32, 32, 3) and judge.network.conv1.in_channels == 3
    # Six classes: chance is 1/6; the shapes differ enough for a small LeNet to tell apart.
    accuracy = judge.accuracy(data.test_images, data.test_labels)
    assert accuracy == pytest.approx(judge.test_accuracy) and accuracy > 0.6
    back = load_judge(save_judge(judge, tmp_path / "judge.safetensors"))
    assert back.image_shape == (32, 32, 3)
    np.testing.assert_array_equal(back.probabilities(data.test_images[:20]),
                                  judge.probabilities(data.test_images[:20]))
