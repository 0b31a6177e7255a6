"""Training the AE and the VAE together, with no Qt: progress and snapshots go to callbacks.

The trainer keeps the whole dataset as one tensor on the device and slices shuffled batches
from it, with no per-sample DataLoader; benchmarks/bench_train.py compares the two. A folder
too large for memory (DatasetBundle.stream) is read from disk instead, the same batches in
the same order, through a DataLoader with worker processes (model/folder_stream.py;
benchmarks/bench_stream.py compares the two paths).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch
from vae_gui.model.cloud_points import MAX_CLOUD_POINTS, CloudPoints
from vae_gui.model.config import ModelConfig, TrainConfig
from vae_gui.model.data import DatasetBundle
from vae_gui.model.device import resolve_device
from vae_gui.model.distributed import DistributedContext, average
from vae_gui.model.errors import TrainingDiverged
from vae_gui.model.folder_stream import (
    StreamBatches,
    batch_rows,
    describe_path,
    images_in_flight,
    stream_workers,
)
from vae_gui.model.losses import kl_per_dimension, reconstruction_loss
from vae_gui.model.memory_needs import check_fits
from vae_gui.model.networks import Autoencoder, VariationalAutoencoder, build_models
from vae_gui.model.precision import autocast, choose_precision, grad_scaler

EVAL_BATCH = 2000
# The noise behind every test evaluation of a VAE (Trainer.evaluate, the β sweep): each
# epoch's figures come from the same eps, so they differ only by what training changed.
EVAL_NOISE_SEED = 12345
# exp(88.7) overflows float32, so a log-variance above this bound is a run that diverged:
# its KL and sigma would be inf, or nearly, wherever they are computed in float32.
MAX_LOGVAR = 80.0
# A run's history keeps at most this many epochs (evenly spaced, the latest always kept), so
# that memory, checkpoints and metrics.json stay bounded however long a run is: at latent 512
# an epoch's entry is about 11 kB of JSON, so 1,000 of them fit a checkpoint's header.
MAX_HISTORY = 1000
# The per-snapshot training curve keeps at most this many rows, thinned the same way.
MAX_CURVE_ROWS = 20_000


@dataclass(frozen=True)
class Losses:
    """Losses in nats per image: the AE's reconstruction and the VAE's three terms."""

    ae_recon: float
    vae_loss: float
    vae_recon: float
    vae_kl: float

    def is_finite(self) -> bool:
        return all(math.isfinite(v) for v in (self.ae_recon, self.vae_loss, self.vae_recon,
                                              self.vae_kl))

    def to_dict(self) -> dict[str, float]:
        return {"ae_recon": self.ae_recon, "vae_loss": self.vae_loss,
                "vae_recon": self.vae_recon, "vae_kl": self.vae_kl}

    @classmethod
    def from_dict(cls, d: dict) -> Losses:
        return cls(*(float(d[k]) for k in ("ae_recon", "vae_loss", "vae_recon", "vae_kl")))


@dataclass(frozen=True)
class EpochMetrics:
    """The mean train losses over one epoch and the test losses after it."""

    epoch: int
    seconds: float
    train: Losses
    test: Losses
    kl_per_dim: tuple[float, ...]

    def to_dict(self) -> dict:
        return {"epoch": self.epoch, "seconds": self.seconds, "train": self.train.to_dict(),
                "test": self.test.to_dict(), "kl_per_dim": list(self.kl_per_dim)}

    @classmethod
    def from_dict(cls, d: dict) -> EpochMetrics:
        return cls(int(d["epoch"]), float(d["seconds"]), Losses.from_dict(d["train"]),
                   Losses.from_dict(d["test"]), tuple(float(v) for v in d["kl_per_dim"]))


def thin_history(history, limit: int = MAX_HISTORY) -> list[EpochMetrics]:
    """At most `limit` entries of `history`: those whose epoch is a multiple of the smallest
    power of two that leaves few enough, and the latest, so the spacing stays even."""
    history = list(history)
    stride = 1
    while len(history) > limit:
        stride *= 2
        history = [m for m in history[:-1] if m.epoch % stride == 0] + history[-1:]
    return history


def thin_rows(rows: list, limit: int) -> list:
    """Every other row but the latest when there are more than `limit` (the curve's rows)."""
    while len(rows) > limit:
        rows = rows[:-1:2] + rows[-1:]
    return rows


@dataclass(frozen=True)
class Progress:
    """Where training stands; `epoch` counts from 1 and is the epoch being trained."""

    epoch: int
    epochs: int
    step: int
    step_in_epoch: int
    steps_per_epoch: int
    samples_per_second: float


@dataclass(frozen=True)
class LiveChange:
    """β and the learning rate changed while training: from `step` on, they are these."""

    step: int
    beta: float
    lr: float


@dataclass(frozen=True, eq=False)
class Snapshot:
    """An immutable picture of both models that another thread may use freely.

    The models are frozen CPU copies (no gradients, eval mode), never the ones being trained;
    the arrays are read-only. `train_curve` has one row per snapshot interval:
    step, ae_recon, vae_loss, vae_recon, vae_kl (means since the previous row).
    """

    step: int
    epoch: float
    ae: Autoencoder
    vae: VariationalAutoencoder
    ae_codes: np.ndarray
    vae_mu: np.ndarray
    vae_logvar: np.ndarray
    labels: np.ndarray
    train_curve: np.ndarray
    history: tuple[EpochMetrics, ...]
    steps_per_epoch: int = 0
    changes: tuple[LiveChange, ...] = ()  # β and learning-rate changes made while training
    cloud: CloudPoints | None = None  # which images the points encode (None: all test images)


class TrainingControl:
    """Pause, resume, single-step, stop, a pace limit and live β and learning rate, called
    from any thread; checked between batches."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._stopped = False
        self._paused = False
        self._steps_requested = 0
        self._min_interval = 0.0  # seconds between steps; 0: full speed
        self._next_step_at = 0.0
        self._live: tuple[float, float, int] | None = None
        self._cloud_train: bool | None = None

    def set_pace(self, steps_per_second: float | None) -> None:
        """At most this many steps a second (None: as fast as possible), from now on."""
        with self._cond:
            self._min_interval = 1.0 / steps_per_second if steps_per_second else 0.0
            self._next_step_at = 0.0
            self._cond.notify_all()

    def set_live(self, beta: float, lr: float, epochs: int) -> None:
        """β, the learning rate and the number of epochs from the next step on (the last
        values given win)."""
        with self._cond:
            self._live = (float(beta), float(lr), int(epochs))

    def take_live(self) -> tuple[float, float, int] | None:
        """The β, learning rate and epochs asked for since the last call, if any."""
        with self._cond:
            live, self._live = self._live, None
            return live

    def set_cloud(self, include_train: bool) -> None:
        """Whether the snapshots encode the training split too, from the next step on."""
        with self._cond:
            self._cloud_train = bool(include_train)

    def take_cloud(self) -> bool | None:
        """The cloud choice asked for since the last call, if any."""
        with self._cond:
            choice, self._cloud_train = self._cloud_train, None
            return choice

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def pause(self) -> None:
        with self._cond:
            self._paused = True

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._steps_requested = 0
            self._cond.notify_all()

    def request_step(self) -> None:
        """While paused, train exactly one more batch; ignored while running."""
        with self._cond:
            if self._paused:  # a request kept while running would train a batch after a pause
                self._steps_requested += 1
                self._cond.notify_all()

    @property
    def stopped(self) -> bool:
        return self._stopped

    @property
    def paused(self) -> bool:
        return self._paused

    def wait_for_work(self) -> bool:
        """Blocks while paused, or until the pace allows the next step; True to train the
        next batch, False to stop. A stop, pause or pace change ends a wait at once."""
        with self._cond:
            while True:
                if self._stopped:
                    return False
                if self._steps_requested:
                    self._steps_requested -= 1
                    return True
                if self._paused:
                    self._cond.wait()
                    continue
                now = time.monotonic()
                if self._min_interval and now < self._next_step_at:
                    self._cond.wait(self._next_step_at - now)
                    continue
                self._next_step_at = now + self._min_interval
                return True


def adam_optimizer(params, lr: float) -> torch.optim.Adam:
    """Adam with the fused kernel where this torch has it (CPU since 2.4): one operation for
    all parameters instead of several small ones per tensor, about 20% of a step here."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr)


def warm_up() -> None:
    """Builds one throw-away optimizer: the first in a process imports torch._dynamo (about
    1 to 2 s), which a GUI would rather pay in the background than on its first Train."""
    adam_optimizer([torch.zeros(1, requires_grad=True)], 1e-3)


def _describe_bad(losses: Losses) -> str:
    """Which terms went non-finite, in words: 'infinite (VAE KL), NaN (AE reconstruction)'."""
    names = {"ae_recon": "AE reconstruction", "vae_loss": "VAE loss",
             "vae_recon": "VAE reconstruction", "vae_kl": "VAE KL"}
    bad = [f"{'NaN' if v != v else 'infinite'} ({names[k]})"
           for k, v in losses.to_dict().items() if not math.isfinite(v)]
    return ", ".join(bad)


def _describe_bad_weights(ae: Autoencoder, vae: VariationalAutoencoder) -> str:
    """'the weights became NaN or infinite', or '' when every weight is finite."""
    if all(torch.isfinite(p).all() for p in (*ae.parameters(), *vae.parameters())):
        return ""
    return "the weights became NaN or infinite"


def _describe_bad_points(codes: np.ndarray, mu: np.ndarray, logvar: np.ndarray) -> str:
    """What is out of range in the encoded test points, in words, or '' when nothing is."""
    bad = [f"the {name} became NaN or infinite"
           for name, a in (("AE codes", codes), ("VAE means", mu), ("VAE log-variances", logvar))
           if not np.isfinite(a).all()]
    if not bad and logvar.size and float(logvar.max()) > MAX_LOGVAR:
        bad.append(f"the VAE log-variance reached {float(logvar.max()):.3g}, above the bound "
                   f"of {MAX_LOGVAR:g} (its exp overflows float32 from about 88.7)")
    return ", ".join(bad)


def frozen_copy(module: torch.nn.Module) -> torch.nn.Module:
    """A CPU copy in eval mode with no gradients, safe to use from the GUI thread."""
    frozen = copy.deepcopy(module).to("cpu").eval()
    frozen.requires_grad_(False)
    return frozen


def read_only(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


@torch.no_grad()
def encode_points(
    ae: Autoencoder, vae: VariationalAutoencoder, x: torch.Tensor | Iterable[torch.Tensor]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AE codes and VAE means and log-variances of `x` (a tensor of flattened images, or
    batches of them), as read-only numpy arrays."""
    batches = x.split(EVAL_BATCH) if isinstance(x, torch.Tensor) else x
    modes = ae.training, vae.training
    ae.eval()
    vae.eval()
    codes, mus, logvars = [], [], []
    for b in batches:
        codes.append(ae.encode(b))
        mu, logvar = vae.encode(b)
        mus.append(mu)
        logvars.append(logvar)
    ae.train(modes[0])
    vae.train(modes[1])
    if not codes:  # no points: empty arrays of the right width
        codes = mus = logvars = [torch.zeros(0, ae.config.latent_dim)]
    return tuple(read_only(torch.cat(t).cpu().numpy()) for t in (codes, mus, logvars))


def encode_cloud(ae: Autoencoder, vae: VariationalAutoencoder, cloud: CloudPoints,
                 test_x: torch.Tensor, train_x: torch.Tensor):
    """`encode_points` of the cloud's images, gathered batch by batch (never all at once)."""
    return encode_points(ae, vae, (b.flatten(1) for b in cloud.batches(test_x, train_x,
                                                                         EVAL_BATCH)))


def snapshot_of(
    ae: Autoencoder,
    vae: VariationalAutoencoder,
    data: DatasetBundle,
    history: tuple[EpochMetrics, ...] = (),
    step: int = 0,
    cloud: CloudPoints | None = None,
    epoch: int | None = None,
) -> Snapshot:
    """A snapshot of models that nobody is training (a loaded checkpoint, say), its points
    `cloud` (by default every test image)."""
    cloud = cloud or CloudPoints.of(data)
    device = next(ae.parameters()).device
    # One batch at a time: the whole of a large cloud is never copied (the arrays are
    # read-only, so torch.tensor copies each batch rather than sharing it).
    batches = cloud.batches(np.asarray(data.test_images), np.asarray(data.train_images),
                            EVAL_BATCH)
    codes, mu, logvar = encode_points(ae, vae, (torch.tensor(b).flatten(1).to(device)
                                                for b in batches))
    return Snapshot(
        step=step,
        epoch=float(epoch if epoch is not None else history[-1].epoch if history else 0),
        ae=ae,
        vae=vae,
        ae_codes=codes,
        vae_mu=mu,
        vae_logvar=logvar,
        labels=read_only(cloud.labels(data.test_labels, data.train_labels)),
        train_curve=read_only(np.zeros((0, 5))),
        history=tuple(history),
        cloud=cloud,
    )


def with_cloud(snapshot: Snapshot, data: DatasetBundle, cloud: CloudPoints) -> Snapshot:
    """`snapshot` with its (frozen) models' encodings of other points: for a change of the
    points shown while nothing trains."""
    fresh = snapshot_of(snapshot.ae, snapshot.vae, data, snapshot.history, snapshot.step,
                        cloud, 0)
    return dataclasses.replace(snapshot, ae_codes=fresh.ae_codes, vae_mu=fresh.vae_mu,
                               vae_logvar=fresh.vae_logvar, labels=fresh.labels, cloud=cloud)


class Trainer:
    """Trains an AE and a VAE on the same shuffled batches with two Adam optimizers."""

    def __init__(
        self,
        data: DatasetBundle,
        model_config: ModelConfig,
        train_config: TrainConfig,
        models: tuple[Autoencoder, VariationalAutoencoder] | None = None,
        include_train: bool = False,
        max_points: int = MAX_CLOUD_POINTS,
        distributed: DistributedContext | None = None,
    ) -> None:
        if tuple(model_config.image_shape) != data.image_shape:
            raise ValueError(f"the models expect images of {model_config.image_shape} but "
                             f"{data.name} has {data.image_shape}")
        # A streamed folder holds its subsets and the batches read ahead, not every image.
        self.workers = stream_workers() if data.stream is not None else 0
        held = len(data.train_images) + len(data.test_images)
        if data.stream is not None:
            held += images_in_flight(train_config.batch_size, self.workers)
        # Refused before any allocation, with the sizes, rather than failing in the allocator.
        check_fits(model_config, train_config.batch_size, held)
        self.data = data
        self.model_config = model_config
        self.config = train_config
        self.device = resolve_device(train_config.device)
        # The float type of the training step's forward pass ("fp32", "bf16" or "fp16"), and
        # why; ValueError here, before anything is built, where the device cannot train in it.
        choice = choose_precision(train_config.precision, self.device)
        self.precision, self.precision_reason = choice.precision, choice.reason
        self.scaler = grad_scaler(self.precision, self.device)  # fp16 only
        ae, vae = models if models is not None else build_models(model_config, train_config.seed)
        self.ae, self.vae = ae.to(self.device).train(), vae.to(self.device).train()
        # With torchrun: this process's share of every batch, gradients averaged by
        # DistributedDataParallel (vae_gui/model/distributed.py).
        self.distributed = distributed
        self._ae_step, self._vae_step = self._step_modules()
        self._make_optimizers()
        # The images held in memory: every one, or a streamed folder's fixed subsets (the test
        # loss and the clouds use them; the training batches come from _stream).
        self.train_x = torch.tensor(data.train_images).flatten(1).to(self.device)
        self.test_x = torch.tensor(data.test_images).flatten(1).to(self.device)
        self.n_train = data.n_train
        self._stream = (StreamBatches(data.stream, train_config.batch_size, self.workers,
                                      distributed, self.device)
                        if data.stream is not None else None)
        # Which path reads the training images, and what the test figures are measured on,
        # in words: the CLI prints them, metrics.json and the window's status say them.
        self.data_path = "in memory" if data.stream is None else describe_path(self.workers)
        self.test_set = data.test_set()
        self.cloud = CloudPoints.of(data, include_train, max_points)
        self.cloud_labels = read_only(self.cloud.labels(data.test_labels, data.train_labels))
        self.shuffle_gen = torch.Generator().manual_seed(train_config.seed)
        # Each process of a distributed run draws its own noise (the batches are shared).
        rank_seed = 1000 * distributed.rank if distributed is not None else 0
        self.noise_gen = torch.Generator(self.device).manual_seed(
            train_config.seed + 1 + rank_seed)
        for k, model in enumerate((self.ae, self.vae)):
            model.encoder.generator = torch.Generator(self.device).manual_seed(
                train_config.seed + 2 + k + rank_seed)
        self.steps_per_epoch = math.ceil(self.n_train / train_config.batch_size)
        self.step = 0
        self.last_batch_size = 0
        self.epoch = 0  # completed epochs
        self.history: list[EpochMetrics] = []  # thinned past MAX_HISTORY (_keep_epoch)
        self._history_stride = 1
        self.changes: list[LiveChange] = []
        self._order = torch.empty(0, dtype=torch.long)
        self._order_cpu = self._order  # the same permutation, for the stream's sampler
        self._pos = 0
        self._curve: list[tuple[float, ...]] = []
        self._curve_sum = np.zeros(4)
        self._curve_n = 0
        self._epoch_sum = np.zeros(4)
        self._epoch_n = 0
        self._epoch_started = time.perf_counter()
        self._good = (copy.deepcopy(self.ae.state_dict()), copy.deepcopy(self.vae.state_dict()))

    def set_epochs(self, epochs: int) -> None:
        """Trains until `epochs` epochs in all (to continue a finished run further)."""
        self.config = dataclasses.replace(self.config, epochs=epochs)

    def apply_live(self, beta: float, lr: float) -> None:
        """Trains the next steps with this β and learning rate (each optimizer keeps its
        moments); raises ValueError when either is out of bounds."""
        if (beta, lr) == (self.config.beta, self.config.lr):
            return
        self.config = dataclasses.replace(self.config, beta=beta, lr=lr)
        for optimizer in (self.ae_opt, self.vae_opt):
            for group in optimizer.param_groups:
                group["lr"] = lr
        self.changes.append(LiveChange(self.step, beta, lr))

    def _step_modules(self) -> tuple[torch.nn.Module, torch.nn.Module]:
        """What the training step calls: the models, or their DistributedDataParallel
        wrappers (same parameters) in a distributed run."""
        if self.distributed is None:
            return self.ae, self.vae
        from torch.nn.parallel import DistributedDataParallel

        ids = [torch.cuda.current_device()] if self.device.type == "cuda" else None
        return (DistributedDataParallel(self.ae, device_ids=ids),
                DistributedDataParallel(self.vae, device_ids=ids))

    def _make_optimizers(self) -> None:
        self.ae_opt = adam_optimizer(self.ae.parameters(), self.config.lr)
        self.vae_opt = adam_optimizer(self.vae.parameters(), self.config.lr)

    def train_step(self) -> Losses:
        """Trains both models on the next batch; raises TrainingDiverged on a non-finite loss."""
        if self._pos == 0:
            self._order_cpu = torch.randperm(self.n_train, generator=self.shuffle_gen)
            self._order = self._order_cpu.to(self.device)
            self._epoch_started = time.perf_counter()
        rows, batch_size = batch_rows(self._order, self._pos, self.config.batch_size,
                                      self.distributed)
        if self._stream is None:
            x = self.train_x[rows]
        else:  # the same rows, read from disk (DatasetError naming a file it cannot read)
            x = self._stream.batch(self._order_cpu, self._pos)
        kind, beta = self.config.loss, self.config.beta

        with autocast(self.precision, self.device):
            ae_logits, _ = self._ae_step(x)
            vae_logits, mu, logvar = self._vae_step(x, self.noise_gen)
            # The losses from float32 copies (no copy at all in fp32): each sums hundreds of
            # per-pixel terms, which bf16's 8-bit mantissa would round to about 3 digits.
            ae_logits, vae_logits, mu, logvar = (
                t.float() for t in (ae_logits, vae_logits, mu, logvar))
            ae_recon = reconstruction_loss(ae_logits, x, kind)
            vae_recon = reconstruction_loss(vae_logits, x, kind)
            kl = kl_per_dimension(mu, logvar).sum()
        vae_total = vae_recon + beta * kl
        # One transfer for the four (averaged over the processes of a distributed run, so
        # that all of them see the same losses and stop together on a non-finite one).
        values = average(torch.stack([ae_recon, vae_total, vae_recon, kl]).detach(),
                         self.distributed)
        losses = Losses(*values.tolist())
        if not losses.is_finite():
            self._restore_last_good()
            raise TrainingDiverged(
                f"Training diverged at step {self.step + 1}: the loss became "
                f"{_describe_bad(losses)}. "
                f"The last good weights were kept; lower the learning rate "
                f"(now {self.config.lr:g}) and train again."
            )
        self.ae_opt.zero_grad(set_to_none=True)
        self.vae_opt.zero_grad(set_to_none=True)
        # The models share no parameters, so one backward pass gives each its own gradients.
        total = ae_recon + vae_total
        if self.scaler is None:
            total.backward()
            self.ae_opt.step()
            self.vae_opt.step()
        else:  # fp16: a scaled loss keeps small gradients from underflowing; steps whose
            # gradients overflowed are skipped and the scale lowered (torch.amp.GradScaler)
            self.scaler.scale(total).backward()
            self.scaler.step(self.ae_opt)
            self.scaler.step(self.vae_opt)
            self.scaler.update()

        self.step += 1
        self.last_batch_size = batch_size
        self._pos += batch_size
        row = np.array([losses.ae_recon, losses.vae_loss, losses.vae_recon, losses.vae_kl])
        self._curve_sum += row
        self._curve_n += 1
        self._epoch_sum += row * batch_size
        self._epoch_n += batch_size
        if self._pos >= self.n_train:
            self._finish_epoch()
        return losses

    def _finish_epoch(self) -> None:
        seconds = time.perf_counter() - self._epoch_started
        self._pos = 0
        train = Losses(*map(float, self._epoch_sum / max(self._epoch_n, 1)))
        self._epoch_sum[:] = 0
        self._epoch_n = 0
        test, kl_dims = self.evaluate()
        if not test.is_finite():
            # The last step's loss was finite, but the weights it left are not usable: such
            # an epoch is not recorded (a NaN in the history, a checkpoint, metrics.json).
            self._restore_last_good()
            raise TrainingDiverged(
                f"Training diverged in epoch {self.epoch + 1}: the test loss became "
                f"{_describe_bad(test)}. The last good weights were kept; lower the learning "
                f"rate (now {self.config.lr:g}) and train again."
            )
        self.epoch += 1
        self._keep_epoch(EpochMetrics(self.epoch, seconds, train, test, kl_dims))

    def _keep_epoch(self, metrics: EpochMetrics) -> None:
        """Appends to the history, which keeps the epochs that are multiples of a stride
        (doubled whenever MAX_HISTORY is passed) and the latest: bounded, evenly spaced."""
        history = self.history
        if history and history[-1].epoch % self._history_stride:
            history.pop()  # kept only while it was the latest
        history.append(metrics)
        if len(history) > MAX_HISTORY:
            self._history_stride *= 2
            self.history = [m for m in history[:-1] if m.epoch % self._history_stride == 0
                            ] + [metrics]

    def _restore_last_good(self) -> None:
        self.ae.load_state_dict(self._good[0])
        self.vae.load_state_dict(self._good[1])
        self._make_optimizers()  # Adam's moments may hold NaN too

    @torch.no_grad()
    def evaluate(self) -> tuple[Losses, tuple[float, ...]]:
        """Test losses of both models (the VAE's with one sample per image, fixed noise) on
        the test images held in memory: all of them, or a streamed folder's fixed subset
        (`test_set` says which)."""
        self.ae.eval()
        self.vae.eval()
        gen = torch.Generator(self.device).manual_seed(EVAL_NOISE_SEED)
        sums = np.zeros(4)
        kl_dims = torch.zeros(self.model_config.latent_dim, device=self.device)
        n = len(self.test_x)
        kind, beta = self.config.loss, self.config.beta
        for start in range(0, n, EVAL_BATCH):
            x = self.test_x[start:start + EVAL_BATCH]
            w = len(x)
            ae_logits, _ = self.ae(x)
            vae_logits, mu, logvar = self.vae(x, gen)
            recon = reconstruction_loss(vae_logits, x, kind).item()
            kd = kl_per_dimension(mu, logvar)
            kl = kd.sum().item()
            sums += w * np.array([reconstruction_loss(ae_logits, x, kind).item(),
                                  recon + beta * kl, recon, kl])
            kl_dims += w * kd
        self.ae.train()
        self.vae.train()
        return Losses(*map(float, sums / n)), tuple((kl_dims / n).tolist())

    def snapshot(self) -> Snapshot:
        """Encodes the test points and freezes copies of both models."""
        if self._curve_n:
            self._curve.append((self.step, *map(float, self._curve_sum / self._curve_n)))
            if len(self._curve) > MAX_CURVE_ROWS:
                self._curve = thin_rows(self._curve, MAX_CURVE_ROWS // 2)
            self._curve_sum[:] = 0
            self._curve_n = 0
        ae, vae = frozen_copy(self.ae), frozen_copy(self.vae)
        codes, mu, logvar = encode_cloud(self.ae, self.vae, self.cloud, self.test_x,
                                         self.train_x)
        # An optimizer step can make weights non-finite, or the log-variance too large for
        # exp, even after a finite loss: never publish such a snapshot; the views keep the
        # last good one, as after a non-finite loss.
        problem = _describe_bad_weights(ae, vae) or _describe_bad_points(codes, mu, logvar)
        if problem:
            self._restore_last_good()
            raise TrainingDiverged(
                f"Training diverged at step {self.step}: {problem}. "
                f"The last good weights were kept; lower the learning rate "
                f"(now {self.config.lr:g}) and train again."
            )
        # The frozen copies never change, so their weights serve as the last good ones as is.
        self._good = (ae.state_dict(), vae.state_dict())
        return Snapshot(
            step=self.step,
            epoch=self.epoch + self._pos / self.n_train,
            ae=ae,
            vae=vae,
            ae_codes=codes,
            vae_mu=mu,
            vae_logvar=logvar,
            labels=self.cloud_labels,
            train_curve=read_only(np.array(self._curve, dtype=np.float64).reshape(-1, 5)),
            history=tuple(self.history),
            steps_per_epoch=self.steps_per_epoch,
            changes=tuple(self.changes),
            cloud=self.cloud,
        )

    @property
    def stream_pids(self) -> tuple[int, ...]:
        """The worker processes a streamed run started last (empty in memory); after close()
        none of them runs."""
        return self._stream.started_pids if self._stream is not None else ()

    def close(self) -> None:
        """Ends the worker processes that read a streamed folder, if any run (run() does this
        as it returns; the next step starts them again)."""
        if self._stream is not None:
            self._stream.close()

    def set_cloud(self, include_train: bool) -> None:
        """Encodes the training split's images too (or no longer) from the next snapshot."""
        if include_train != self.cloud.include_train:
            self.cloud = dataclasses.replace(self.cloud, include_train=include_train)
            self.cloud_labels = read_only(self.cloud.labels(self.data.test_labels,
                                                             self.data.train_labels))

    def progress(self, samples_per_second: float) -> Progress:
        return Progress(
            epoch=min(self.epoch + 1, self.config.epochs),
            epochs=self.config.epochs,
            step=self.step,
            step_in_epoch=math.ceil(self._pos / self.config.batch_size),
            steps_per_epoch=self.steps_per_epoch,
            samples_per_second=samples_per_second,
        )

    def run(
        self,
        control: TrainingControl | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        on_snapshot: Callable[[Snapshot], None] | None = None,
        on_epoch: Callable[[EpochMetrics], None] | None = None,
        snapshot_interval: float = 0.25,
        snapshot_budget: float = 0.1,
        progress_interval: float = 0.1,
    ) -> list[EpochMetrics]:
        """Trains until `config.epochs` epochs are complete or `control` stops it.

        Snapshots come at most every `snapshot_interval` seconds, and further apart when
        encoding the test points takes more than `snapshot_budget` of the time, so that
        live views never cost training more than about that fraction. An epoch's end gets
        one too, unless the last came less than half an interval before.
        """
        try:
            return self._run(control, on_progress, on_snapshot, on_epoch, snapshot_interval,
                             snapshot_budget, progress_interval)
        finally:
            # A stopped, finished or failed run leaves no worker process behind; Continue
            # starts them again at the batch where it stopped.
            self.close()

    def _run(
        self,
        control: TrainingControl | None,
        on_progress: Callable[[Progress], None] | None,
        on_snapshot: Callable[[Snapshot], None] | None,
        on_epoch: Callable[[EpochMetrics], None] | None,
        snapshot_interval: float,
        snapshot_budget: float,
        progress_interval: float,
    ) -> list[EpochMetrics]:
        control = control or TrainingControl()
        interval = snapshot_interval
        last_snap = last_progress = time.perf_counter()
        rate_t, rate_n, rate = last_snap, 0, 0.0
        while self.epoch < self.config.epochs and control.wait_for_work():
            stepping = control.paused  # a single requested step: show its result at once
            if (live := control.take_live()) is not None:
                beta, lr, epochs = live
                self.apply_live(beta, lr)
                self.set_epochs(epochs)
                if self.epoch >= epochs:
                    break
            # Other points: show them at the next snapshot rather than after the interval.
            if (cloud := control.take_cloud()) is not None and cloud != self.cloud.include_train:
                self.set_cloud(cloud)
                last_snap = -math.inf
            epochs_before = self.epoch
            self.train_step()
            rate_n += self.last_batch_size
            now = time.perf_counter()
            if now - rate_t >= 0.5 or not rate:
                rate = rate_n / max(now - rate_t, 1e-9)
                if now - rate_t >= 0.5:
                    rate_t, rate_n = now, 0
            if self.epoch > epochs_before and on_epoch:
                on_epoch(self.history[-1])
            if on_progress and (now - last_progress >= progress_interval or stepping
                                or self._pos == 0):
                on_progress(self.progress(rate))
                last_progress = now
            # An epoch's end gets a snapshot of its own (the run's timeline keeps these
            # first) unless the last came less than half an interval ago: at most one more
            # per epoch than the interval alone would give.
            epoch_end = self.epoch > epochs_before and now - last_snap >= interval / 2
            if on_snapshot and (now - last_snap >= interval or stepping or epoch_end):
                t0 = time.perf_counter()
                on_snapshot(self.snapshot())
                cost = time.perf_counter() - t0
                interval = max(snapshot_interval, cost / snapshot_budget)
                last_snap = time.perf_counter()
        if on_snapshot:
            on_snapshot(self.snapshot())
        if on_progress:
            on_progress(self.progress(rate))
        return list(self.history)
