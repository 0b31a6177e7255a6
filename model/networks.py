"""The encoders and decoders (MLPs or stride-2 convolutions), and the AE and VAE built from
the same shapes."""

from __future__ import annotations

import torch
from torch import nn
from vae_gui.model.config import ModelConfig


def mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers with ReLU between them and nothing after the last."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


# Every convolutional stage: a 4x4 kernel at stride 2 with padding 1 halves both sides
# exactly (and its transpose doubles them), so a side divisible by 2**stages comes back whole.
CONV_STAGE = {"kernel_size": 4, "stride": 2, "padding": 1}


def conv_side(config: ModelConfig) -> int:
    """The side of the smallest feature map: the image's side halved once per stage."""
    return config.image_shape[0] // 2 ** len(config.hidden)


class ChannelsFirst(nn.Module):
    """Flat colour images (N, H*W*C), channels last as the data holds them -> (N, C, H, W)."""

    def __init__(self, image_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.image_shape = tuple(image_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(-1, *self.image_shape).permute(0, 3, 1, 2)


class FlatChannelsLast(nn.Module):
    """Feature maps (N, C, H, W) -> flat (N, H*W*C), channels last like the data."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 2, 3, 1).flatten(1)


def conv_encoder(config: ModelConfig, n_outputs: int) -> nn.Sequential:
    """Flat images (N, H*W*C) -> stride-2 convolutions with a ReLU after each -> one Linear.

    Layers only, no dropout, as in mlp(), so that Encoder's dropout treats both alike. Colour
    images only change the first module (to channels first) and the first convolution's
    input channels, so grey models keep their parameter names.
    """
    height, width = config.image_shape[:2]
    channels = config.channels
    layers: list[nn.Module] = [ChannelsFirst(config.image_shape) if channels > 1
                               else nn.Unflatten(1, (1, height, width))]
    for n_in, n_out in zip((channels, *config.hidden[:-1]), config.hidden, strict=True):
        layers += [nn.Conv2d(n_in, n_out, **CONV_STAGE), nn.ReLU()]
    side = conv_side(config)
    layers += [nn.Flatten(1), nn.Linear(config.hidden[-1] * side * side, n_outputs)]
    return nn.Sequential(*layers)


def conv_decoder(config: ModelConfig) -> nn.Sequential:
    """Latent points (N, d) -> a Linear to the smallest feature map -> transposed stride-2
    convolutions mirroring conv_encoder back to the image's channels -> flat logits
    (N, H*W*C), channels last."""
    side, channels = conv_side(config), config.hidden[-1]
    layers: list[nn.Module] = [nn.Linear(config.latent_dim, channels * side * side), nn.ReLU(),
                               nn.Unflatten(1, (channels, side, side))]
    widths = [*reversed(config.hidden), config.channels]
    for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        layers.append(nn.ConvTranspose2d(n_in, n_out, **CONV_STAGE))
        if i < len(widths) - 2:  # logits after the last: nothing follows it
            layers.append(nn.ReLU())
    layers.append(FlatChannelsLast() if config.channels > 1 else nn.Flatten(1))
    return nn.Sequential(*layers)


class Encoder(nn.Module):
    """Maps a batch of images (N, *image_shape) or flat (N, H*W*C) to `n_outputs` numbers per
    image."""

    def __init__(self, config: ModelConfig, n_outputs: int) -> None:
        super().__init__()
        if config.arch == "conv":
            self.net = conv_encoder(config, n_outputs)
        else:
            self.net = mlp([config.n_pixels, *config.hidden, n_outputs])
        self.dropout = config.encoder_dropout
        # Dropout masks come from this generator when set (the trainer seeds one), so that a
        # run with dropout is as reproducible as one without and leaves torch's global
        # random state alone.
        self.generator: torch.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        if not (self.dropout and self.training):
            return self.net(x)
        # Dropout on the input pixels and after each ReLU, applied here rather than as
        # nn.Dropout layers: those would shift the Sequential's indices and so the names of
        # the weights checkpoints store.
        x = self._drop(x)
        for layer in self.net:
            x = layer(x)
            if isinstance(layer, nn.ReLU):
                x = self._drop(x)
        return x

    def _drop(self, x: torch.Tensor) -> torch.Tensor:
        keep = 1.0 - self.dropout
        return x * (torch.rand(x.shape, generator=self.generator, device=x.device) < keep) / keep


class Decoder(nn.Module):
    """Maps latent points (N, latent_dim) to pixel logits (N, H*W*C), channels last; images are
    their sigmoid."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if config.arch == "conv":
            self.net = conv_decoder(config)
        else:
            self.net = mlp([config.latent_dim, *reversed(config.hidden), config.n_pixels])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class Autoencoder(nn.Module):
    """A deterministic autoencoder: x -> z -> logits, with no sampling and no prior."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = Encoder(config, config.latent_dim)
        self.decoder = Decoder(config)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (logits, z)."""
        z = self.encode(x)
        return self.decode(z), z


class VariationalAutoencoder(nn.Module):
    """A VAE: q(z|x) = N(mu(x), diag(exp(logvar(x)))), prior p(z) = N(0, I)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        # One encoder head gives mu and log-variance; otherwise the same shape as the AE.
        self.encoder = Encoder(config, 2 * config.latent_dim)
        self.decoder = Decoder(config)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (mu, logvar) of q(z|x)."""
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar

    @staticmethod
    def reparameterize(
        mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """z = mu + sigma * eps with eps ~ N(0, I), so gradients reach mu and sigma."""
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + torch.exp(0.5 * logvar) * eps

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def forward(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns (logits, mu, logvar), decoding one sample z ~ q(z|x)."""
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar, generator)
        return self.decode(z), mu, logvar


def build_models(config: ModelConfig, seed: int) -> tuple[Autoencoder, VariationalAutoencoder]:
    """An AE and a VAE, initialised from `seed` without touching the global random state."""
    return build_pair(config, ("ae", "vae"), seed)


def build_model(config: ModelConfig, kind: str) -> Autoencoder | VariationalAutoencoder:
    """An AE ("ae") or a VAE ("vae") of this shape, from torch's current random state."""
    return VariationalAutoencoder(config) if kind == "vae" else Autoencoder(config)


def build_pair(config: ModelConfig, kinds, seed: int) -> tuple[nn.Module, nn.Module]:
    """A model of each kind ("ae" or "vae"), each initialised from `seed` (so that two VAEs
    start as the same network) without touching the global random state."""
    models = []
    with torch.random.fork_rng(devices=[]):
        for kind in kinds:
            torch.manual_seed(seed)
            models.append(build_model(config, kind))
    return tuple(models)
