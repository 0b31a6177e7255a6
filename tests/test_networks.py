"""Network shapes, the reparameterization trick, seeding, and logits vs images."""

from __future__ import annotations

import pytest
import torch
from vae_gui.model.config import ModelConfig
from vae_gui.model.losses import reconstruction_loss
from vae_gui.model.networks import Autoencoder, VariationalAutoencoder, build_models


def test_gradients_flow_through_mu_and_sigma():
    mu = torch.randn(8, 3, requires_grad=True)
    logvar = torch.randn(8, 3, requires_grad=True)
    z = VariationalAutoencoder.reparameterize(mu, logvar, torch.Generator().manual_seed(0))
    (z ** 2).sum().backward()
    assert mu.grad is not None and logvar.grad is not None
    assert (mu.grad != 0).all()
    assert (logvar.grad != 0).all()


def test_reparameterize_samples_have_the_right_mean_and_spread():
    mu = torch.full((200_000, 1), 1.5)
    logvar = torch.full((200_000, 1), 2 * torch.log(torch.tensor(0.5)).item())  # sigma = 0.5
    z = VariationalAutoencoder.reparameterize(mu, logvar, torch.Generator().manual_seed(0))
    # Standard error of the mean is 0.5 / sqrt(2e5) ~ 0.0011; of the std about 0.0008.
    assert abs(z.mean().item() - 1.5) < 0.01
    assert abs(z.std().item() - 0.5) < 0.01


def test_encoder_gradients_reach_both_heads_of_the_vae():
    config = ModelConfig(hidden=(16,), latent_dim=2)
    _, vae = build_models(config, 0)
    x = torch.rand(4, 28, 28)
    logits, mu, logvar = vae(x, torch.Generator().manual_seed(0))
    loss = reconstruction_loss(logits, x) + 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum()
    loss.backward()
    last = vae.encoder.net[-1]  # one linear head: rows 0..d-1 give mu, d..2d-1 give logvar
    assert last.weight.grad[:2].abs().sum() > 0
    assert last.weight.grad[2:].abs().sum() > 0


@pytest.mark.parametrize("hidden, latent", [((256, 128), 2), ((400,), 20), ((64, 32, 16), 5),
                                            ((8,), 1)])
def test_encode_decode_shapes(hidden, latent):
    config = ModelConfig(hidden=hidden, latent_dim=latent)
    ae, vae = build_models(config, 0)
    x = torch.rand(7, 28, 28)
    assert ae.encode(x).shape == (7, latent)
    assert ae.encode(x.flatten(1)).shape == (7, latent)  # (N, H*W) works as well
    mu, logvar = vae.encode(x)
    assert mu.shape == logvar.shape == (7, latent)
    z = torch.randn(3, latent)
    assert ae.decode(z).shape == vae.decode(z).shape == (3, 784)
    logits, z_ae = ae(x)
    assert logits.shape == (7, 784) and z_ae.shape == (7, latent)
    logits, mu, logvar = vae(x)
    assert logits.shape == (7, 784)


def test_ae_and_vae_have_the_same_shape_apart_from_the_vae_head():
    config = ModelConfig(hidden=(64, 32), latent_dim=3)
    ae, vae = Autoencoder(config), VariationalAutoencoder(config)
    ae_shapes = {k: v.shape for k, v in ae.state_dict().items()}
    vae_shapes = {k: v.shape for k, v in vae.state_dict().items()}
    assert ae_shapes.keys() == vae_shapes.keys()
    differing = {k for k in ae_shapes if ae_shapes[k] != vae_shapes[k]}
    assert differing == {"encoder.net.4.weight", "encoder.net.4.bias"}  # 3 vs 6 outputs


def _weights(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def test_same_seed_gives_identical_weights_and_different_seed_does_not():
    config = ModelConfig(hidden=(32,), latent_dim=2)
    a_ae, a_vae = build_models(config, 7)
    b_ae, b_vae = build_models(config, 7)
    c_ae, c_vae = build_models(config, 8)
    for a, b in ((a_ae, b_ae), (a_vae, b_vae)):
        wa, wb = _weights(a), _weights(b)
        assert all(torch.equal(wa[k], wb[k]) for k in wa)
    for a, c in ((a_ae, c_ae), (a_vae, c_vae)):
        wa, wc = _weights(a), _weights(c)
        assert not torch.equal(wa["decoder.net.0.weight"], wc["decoder.net.0.weight"])


def test_build_models_leaves_the_global_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    build_models(ModelConfig(hidden=(8,)), seed=5)
    assert torch.equal(torch.rand(3), expected)


def test_decoders_output_unbounded_logits_and_images_are_their_sigmoid():
    config = ModelConfig(hidden=(16,), latent_dim=2)
    ae, vae = build_models(config, 0)
    with torch.no_grad():
        for decoder in (ae.decoder, vae.decoder):
            decoder.net[-1].bias.fill_(-5.0)  # a plausible state: mostly dark pixels
            logits = decoder(torch.randn(10, 2) * 3)
            assert logits.min() < 0 or logits.max() > 1  # not already squashed into [0, 1]
            assert logits.min() < -1
            images = torch.sigmoid(logits)
            assert images.min() >= 0 and images.max() <= 1
            # The reconstruction loss treats decoder outputs as logits: BCE of sigmoid(logits).
            x = (torch.rand(10, 784) > 0.5).float()
            ref = torch.nn.functional.binary_cross_entropy(images, x, reduction="sum") / 10
            torch.testing.assert_close(reconstruction_loss(logits, x), ref, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("kwargs", [dict(latent_dim=0), dict(latent_dim=10**9),
                                    dict(hidden=()), dict(hidden=(10**9,)),
                                    dict(hidden=(8,) * 9), dict(image_shape=(28,))])
def test_model_config_refuses_out_of_bound_shapes(kwargs):
    with pytest.raises(ValueError):
        ModelConfig(**kwargs)
