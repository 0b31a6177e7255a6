"""What training a pair of models will need in memory, checked before anything is allocated.

A model too large for the machine would otherwise fail deep inside torch's allocator after
seconds of swapping (or be killed by the system); refusing it up front says by how much.
"""

from __future__ import annotations

import contextlib
import os
import sys

try:
    import resource
except ImportError:  # Windows: no address-space limits to read
    resource = None

from vae_gui.model.config import ModelConfig
from vae_gui.model.errors import TooLarge

FLOAT_BYTES = 4
# Per parameter while training: the weights, their gradients, Adam's two moments, the last
# good weights kept against divergence, and up to three frozen snapshot copies in flight.
COPIES_PER_PARAMETER = 8
# Per activation value of a batch: the value kept for the backward pass, its gradient, and
# the temporaries of the nonlinearities and the loss.
COPIES_PER_ACTIVATION = 4
# The batch of the trainer's evaluation and of encoding the clouds. 512 rows of 784 pixels
# stay in the CPU's cache: an epoch's test pass over 10,000 MNIST images took 0.47 to 0.54 s
# against 0.49 to 0.61 s at 2000, one thread, alternated in one process.
EVAL_BATCH = 512
KERNEL_TAPS = 16  # a convolutional stage's 4x4 kernel (vae_gui.model.networks.CONV_STAGE)


def parameter_count(config: ModelConfig, vaes: int = 1) -> int:
    """Parameters of a pair of models of which `vaes` are VAEs (the default pair: an AE and a
    VAE), from the layer sizes alone."""
    encoder, decoder, features = (_conv_parameters(config) if config.arch == "conv"
                                  else _mlp_parameters(config))
    head = (features + 1) * config.latent_dim  # a VAE's encoder has two: mean, log-variance
    return 2 * (encoder + decoder) + (2 + vaes) * head


def _mlp_parameters(config: ModelConfig) -> tuple[int, int, int]:
    """(encoder without its head, decoder, the head's inputs) of the fully connected nets."""
    widths = [config.n_pixels, *config.hidden]
    encoder = sum((a + 1) * b for a, b in zip(widths, widths[1:], strict=False))
    decoder_widths = [config.latent_dim, *reversed(config.hidden), config.n_pixels]
    decoder = sum((a + 1) * b for a, b in zip(decoder_widths, decoder_widths[1:], strict=False))
    return encoder, decoder, config.hidden[-1]


def _conv_parameters(config: ModelConfig) -> tuple[int, int, int]:
    """(encoder without its head, decoder, the head's inputs) of the convolutional nets."""
    channels = [config.channels, *config.hidden]  # image channels first
    # A stage from a to b channels: a * b kernels and b biases, either way round.
    stages = sum(a * b * KERNEL_TAPS for a, b in zip(channels, channels[1:], strict=False))
    features = config.hidden[-1] * _conv_sides(config)[-1] ** 2
    encoder = stages + sum(config.hidden)
    decoder = (config.latent_dim + 1) * features + stages + sum(channels[:-1])
    return encoder, decoder, features


def _conv_sides(config: ModelConfig) -> list[int]:
    """The side of each convolutional stage's output: the image's, halved once a stage."""
    return [config.image_shape[0] // 2**i for i in range(1, len(config.hidden) + 1)]


def _values_per_image(config: ModelConfig) -> int:
    """The activation values of one image through one encoder: its pixels, each hidden
    layer's outputs (all channels of a feature map), and its latent code; a decoder's are
    about the same, in reverse."""
    if config.arch == "conv":
        hidden = sum(c * side * side for c, side in zip(config.hidden, _conv_sides(config),
                                                         strict=True))
    else:
        hidden = sum(config.hidden)
    return config.n_pixels + hidden + config.latent_dim


def training_bytes(config: ModelConfig, batch_size: int, n_images: int, vaes: int = 1) -> int:
    """The bytes a run of this configuration needs, roughly: the parameters and their
    training state, one batch's activations (or an evaluation batch's), and the images."""
    values = 2 * _values_per_image(config)  # an encoder and a decoder
    training = 2 * values * batch_size * COPIES_PER_ACTIVATION  # the AE and the VAE
    # Evaluation runs without gradients, so nothing is kept for a backward pass: one
    # model's whole pass held at once is a generous bound. (Counting it as training's would
    # ask for gigabytes for the feature maps of a convolutional pair on 64-pixel images.)
    evaluation = values * EVAL_BATCH
    images = n_images * config.n_pixels
    return FLOAT_BYTES * (parameter_count(config, vaes) * COPIES_PER_PARAMETER
                          + max(training, evaluation) + images)


def available_bytes() -> int | None:
    """Memory this process may still use: the smaller of what the system has available
    and what its address-space limit leaves; None where neither can be read."""
    limits = []
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    limits.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        if hasattr(os, "sysconf") and sys.platform != "win32":
            with contextlib.suppress(ValueError, OSError):
                limits.append(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    if resource is not None and hasattr(resource, "RLIMIT_AS"):
        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            limits.append(max(soft - _address_space_used(), 0))
    return min(limits) if limits else None


def _address_space_used() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def gigabytes(n: int) -> str:
    return f"{n / 1024**3:,.1f} GB"


def check_fits(config: ModelConfig, batch_size: int, n_images: int,
               available: int | None = None, vaes: int = 1) -> None:
    """Raises TooLarge, with both sizes, when a run would need more memory than is
    available (`available` defaults to available_bytes())."""
    available = available_bytes() if available is None else available
    if available is None:
        return
    need = training_bytes(config, batch_size, n_images, vaes)
    if need > available:
        raise TooLarge(
            f"Training these models would need about {gigabytes(need)} of memory "
            f"({parameter_count(config, vaes):,} parameters in the two models, with their "
            f"gradients, optimizer state and copies, and a batch of {batch_size}), but only "
            f"{gigabytes(available)} is available. Choose fewer or smaller hidden layers, a "
            "smaller batch, or smaller images."
        )
