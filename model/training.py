"""Training two models together (an AE and a VAE by default), with no Qt: progress and
snapshots go to callbacks.

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
from vae_gui.model.memory_needs import EVAL_BATCH, check_fits
from vae_gui.model.networks import Autoencoder, VariationalAutoencoder, build_pair
from vae_gui.model.pair import ModelSpec, one_of_kind, pair_labels, parse_pair
from vae_gui.model.precision import autocast, choose_precision, grad_scaler

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


Model = Autoencoder | VariationalAutoencoder


@dataclass(frozen=True)
class ModelLosses:
    """One model's losses in nats per image: loss = recon + β·KL (an AE's KL is 0)."""

    kind: str  # "ae" or "vae"
    loss: float
    recon: float
    kl: float

    def values(self) -> tuple[float, float, float]:
        return self.loss, self.recon, self.kl

    def to_dict(self) -> dict:
        return {"kind": self.kind, "loss": self.loss, "recon": self.recon, "kl": self.kl}

    @classmethod
    def from_dict(cls, d: dict) -> ModelLosses:
        return cls(str(d["kind"]), float(d["loss"]), float(d["recon"]), float(d["kl"]))


@dataclass(frozen=True)
class Losses:
    """Both columns' losses in nats per image, left first."""

    left: ModelLosses
    right: ModelLosses

    @property
    def columns(self) -> tuple[ModelLosses, ModelLosses]:
        return self.left, self.right

    def of_kind(self, kind: str) -> ModelLosses:
        """The losses of the pair's one model of this kind (ValueError for two VAEs)."""
        return one_of_kind([c.kind for c in self.columns], self.columns, kind, "pair")

    # The default pair's figures by their names (a pair of two VAEs has no single one).
    @property
    def ae_recon(self) -> float:
        return self.of_kind("ae").recon

    @property
    def vae_loss(self) -> float:
        return self.of_kind("vae").loss

    @property
    def vae_recon(self) -> float:
        return self.of_kind("vae").recon

    @property
    def vae_kl(self) -> float:
        return self.of_kind("vae").kl

    def is_finite(self) -> bool:
        return all(math.isfinite(v) for c in self.columns for v in c.values())

    def to_dict(self) -> dict:
        return {"left": self.left.to_dict(), "right": self.right.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> Losses:
        if "left" not in d:  # written before pairs could be chosen: an AE and a VAE
            return cls.ae_vae(*(float(d[k]) for k in ("ae_recon", "vae_loss", "vae_recon",
                                                       "vae_kl")))
        return cls(ModelLosses.from_dict(d["left"]), ModelLosses.from_dict(d["right"]))

    @classmethod
    def ae_vae(cls, ae_recon: float, vae_loss: float, vae_recon: float, vae_kl: float) -> Losses:
        """The losses of the default pair, an AE and a VAE, by their names."""
        return cls(ModelLosses("ae", ae_recon, ae_recon, 0.0),
                   ModelLosses("vae", vae_loss, vae_recon, vae_kl))

    @classmethod
    def of_rows(cls, kinds: tuple[str, str], row) -> Losses:
        """From the six numbers loss, recon, kl of the left then of the right model."""
        row = [float(v) for v in row]
        return cls(ModelLosses(kinds[0], *row[:3]), ModelLosses(kinds[1], *row[3:6]))


@dataclass(frozen=True)
class EpochMetrics:
    """The mean train losses over one epoch and the test losses after it; `kl_per_dim`
    holds each column's test KL per latent dimension (empty for an AE)."""

    epoch: int
    seconds: float
    train: Losses
    test: Losses
    kl_per_dim: tuple[tuple[float, ...], tuple[float, ...]]

    def to_dict(self) -> dict:
        return {"epoch": self.epoch, "seconds": self.seconds, "train": self.train.to_dict(),
                "test": self.test.to_dict(), "kl_per_dim": [list(k) for k in self.kl_per_dim]}

    @classmethod
    def from_dict(cls, d: dict) -> EpochMetrics:
        kl = d["kl_per_dim"]
        if kl and not isinstance(kl[0], list):  # before pairs: the VAE's, an AE | VAE pair
            kl = [[], kl]
        return cls(int(d["epoch"]), float(d["seconds"]), Losses.from_dict(d["train"]),
                   Losses.from_dict(d["test"]),
                   (tuple(float(v) for v in kl[0]), tuple(float(v) for v in kl[1])))


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
class Column:
    """One column's model in a snapshot, and its encoding of the cloud's images."""

    spec: ModelSpec
    name: str  # how the window names it: "AE", "VAE", "VAE β=4", "A: VAE"
    model: Model
    mu: np.ndarray  # an AE's codes or a VAE's means, (N, latent_dim), read-only
    logvar: np.ndarray | None  # a VAE's log-variances; None for an AE

    @property
    def variational(self) -> bool:
        return self.logvar is not None


@dataclass(frozen=True, eq=False)
class Snapshot:
    """An immutable picture of both models that another thread may use freely.

    The models are frozen CPU copies (no gradients, eval mode), never the ones being trained;
    the arrays are read-only. `train_curve` has one row per snapshot interval: the step, then
    loss, recon and KL of the left model and of the right (means since the previous row).
    """

    step: int
    epoch: float
    columns: tuple[Column, Column]
    labels: np.ndarray
    train_curve: np.ndarray
    history: tuple[EpochMetrics, ...]
    steps_per_epoch: int = 0
    changes: tuple[LiveChange, ...] = ()  # β and learning-rate changes made while training
    cloud: CloudPoints | None = None  # which images the points encode (None: all test images)

    @property
    def left(self) -> Column:
        return self.columns[0]

    @property
    def right(self) -> Column:
        return self.columns[1]

    @property
    def models(self) -> tuple[Model, Model]:
        return self.columns[0].model, self.columns[1].model

    @property
    def kinds(self) -> tuple[str, str]:
        return self.columns[0].spec.kind, self.columns[1].spec.kind

    def of_kind(self, kind: str) -> Column:
        """The column of the pair's one model of this kind (ValueError for two VAEs)."""
        return one_of_kind(self.kinds, self.columns, kind, "snapshot")

    # The default pair's parts by their names.
    @property
    def ae(self) -> Autoencoder:
        return self.of_kind("ae").model

    @property
    def vae(self) -> VariationalAutoencoder:
        return self.of_kind("vae").model

    @property
    def ae_codes(self) -> np.ndarray:
        return self.of_kind("ae").mu

    @property
    def vae_mu(self) -> np.ndarray:
        return self.of_kind("vae").mu

    @property
    def vae_logvar(self) -> np.ndarray:
        return self.of_kind("vae").logvar


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


def _describe_bad(losses: Losses, names: tuple[str, str]) -> str:
    """Which terms went non-finite, in words: 'infinite (VAE KL), NaN (AE reconstruction)'."""
    bad = []
    for name, c in zip(names, losses.columns, strict=True):
        terms = (("reconstruction", c.recon),) if c.kind == "ae" else (
            ("loss", c.loss), ("reconstruction", c.recon), ("KL", c.kl))
        bad += [f"{'NaN' if v != v else 'infinite'} ({name} {term})" for term, v in terms
                if not math.isfinite(v)]
    return ", ".join(bad)


def _describe_bad_weights(models) -> str:
    """'the weights became NaN or infinite', or '' when every weight is finite."""
    if all(torch.isfinite(p).all() for m in models for p in m.parameters()):
        return ""
    return "the weights became NaN or infinite"


def _describe_bad_points(names: tuple[str, str], encoded) -> str:
    """What is out of range in the encoded test points (one (mu, logvar or None) a column),
    in words, or '' when nothing is."""
    bad = []
    for name, (mu, logvar) in zip(names, encoded, strict=True):
        parts = ((f"{name} codes", mu),) if logvar is None else (
            (f"{name} means", mu), (f"{name} log-variances", logvar))
        bad += [f"the {what} became NaN or infinite" for what, a in parts
                if not np.isfinite(a).all()]
    for name, (_, logvar) in zip(names, encoded, strict=True):
        if not bad and logvar is not None and logvar.size and float(logvar.max()) > MAX_LOGVAR:
            bad.append(f"the {name} log-variance reached {float(logvar.max()):.3g}, above the "
                       f"bound of {MAX_LOGVAR:g} (its exp overflows float32 from about 88.7)")
    return ", ".join(bad)


def frozen_copy(module: torch.nn.Module) -> torch.nn.Module:
    """A CPU copy in eval mode with no gradients, safe to use from the GUI thread."""
    frozen = copy.deepcopy(module).to("cpu").eval()
    frozen.requires_grad_(False)
    return frozen


def read_only(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def specs_of(models) -> tuple[ModelSpec, ModelSpec]:
    """The kinds of two models, each VAE with the run's β (what a checkpoint written before
    pairs could be chosen, or a pair built by hand, holds)."""
    return tuple(ModelSpec("vae" if isinstance(m, VariationalAutoencoder) else "ae")
                 for m in models)


def pair_of(train_config: TrainConfig | None, models) -> tuple[tuple[ModelSpec, ModelSpec],
                                                                tuple[str, str]]:
    """The pair's specs and the columns' names, from the run's settings where known."""
    if train_config is None:
        specs = specs_of(models)
        return specs, pair_labels(specs, None)
    specs = parse_pair(train_config.pair)
    return specs, pair_labels(specs, train_config.beta)


@torch.no_grad()
def encode_points(models, x: torch.Tensor | Iterable[torch.Tensor]):
    """Each model's encoding of `x` (a tensor of flattened images, or batches of them): a
    pair of (codes or means, log-variances or None), as read-only numpy arrays."""
    batches = x.split(EVAL_BATCH) if isinstance(x, torch.Tensor) else x
    modes = [m.training for m in models]
    for m in models:
        m.eval()
    parts: list[tuple[list, list]] = [([], []) for _ in models]
    for b in batches:
        for m, (mus, logvars) in zip(models, parts, strict=True):
            if isinstance(m, VariationalAutoencoder):
                mu, logvar = m.encode(b)
                logvars.append(logvar)
            else:
                mu = m.encode(b)
            mus.append(mu)
    for m, mode in zip(models, modes, strict=True):
        m.train(mode)
    out = []
    for m, (mus, logvars) in zip(models, parts, strict=True):
        empty = [torch.zeros(0, m.config.latent_dim)]  # no points: the right width
        mu = read_only(torch.cat(mus or empty).cpu().numpy())
        variational = isinstance(m, VariationalAutoencoder)
        out.append((mu, read_only(torch.cat(logvars or empty).cpu().numpy())
                    if variational else None))
    return tuple(out)


def encode_cloud(models, cloud: CloudPoints, test_x: torch.Tensor, train_x: torch.Tensor):
    """`encode_points` of the cloud's images, gathered batch by batch (never all at once)."""
    return encode_points(models, (b.flatten(1) for b in cloud.batches(test_x, train_x,
                                                                       EVAL_BATCH)))


def columns_of(specs, names, models, encoded) -> tuple[Column, Column]:
    return tuple(Column(spec, name, model, mu, logvar) for spec, name, model, (mu, logvar)
                 in zip(specs, names, models, encoded, strict=True))


def snapshot_of(
    models,
    data: DatasetBundle,
    history: tuple[EpochMetrics, ...] = (),
    step: int = 0,
    cloud: CloudPoints | None = None,
    epoch: int | None = None,
    train_config: TrainConfig | None = None,
    names: tuple[str, str] | None = None,
) -> Snapshot:
    """A snapshot of two models that nobody is training (a loaded checkpoint, say), its
    points `cloud` (by default every test image). The columns are named after
    `train_config`'s pair where given, or `names`."""
    models = tuple(models)
    specs, default_names = pair_of(train_config, models)
    cloud = cloud or CloudPoints.of(data)
    device = next(models[0].parameters()).device
    # One batch at a time: the whole of a large cloud is never copied (the arrays are
    # read-only, so torch.tensor copies each batch rather than sharing it).
    batches = cloud.batches(np.asarray(data.test_images), np.asarray(data.train_images),
                            EVAL_BATCH)
    encoded = encode_points(models, (torch.tensor(b).flatten(1).to(device) for b in batches))
    return Snapshot(
        step=step,
        epoch=float(epoch if epoch is not None else history[-1].epoch if history else 0),
        columns=columns_of(specs, names or default_names, models, encoded),
        labels=read_only(cloud.labels(data.test_labels, data.train_labels)),
        train_curve=read_only(np.zeros((0, 7))),
        history=tuple(history),
        cloud=cloud,
    )


def with_cloud(snapshot: Snapshot, data: DatasetBundle, cloud: CloudPoints) -> Snapshot:
    """`snapshot` with its (frozen) models' encodings of other points: for a change of the
    points shown while nothing trains."""
    fresh = snapshot_of(snapshot.models, data, snapshot.history, snapshot.step, cloud, 0)
    columns = tuple(dataclasses.replace(c, mu=f.mu, logvar=f.logvar)
                    for c, f in zip(snapshot.columns, fresh.columns, strict=True))
    return dataclasses.replace(snapshot, columns=columns, labels=fresh.labels, cloud=cloud)


class Trainer:
    """Trains two models (an AE and a VAE by default; TrainConfig.pair) on the same shuffled
    batches with an Adam optimizer each."""

    def __init__(
        self,
        data: DatasetBundle,
        model_config: ModelConfig,
        train_config: TrainConfig,
        models: tuple[Model, Model] | None = None,
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
        vaes = sum(spec.variational for spec in parse_pair(train_config.pair))
        check_fits(model_config, train_config.batch_size, held, vaes=vaes)
        self.data = data
        self.model_config = model_config
        self.config = train_config
        self.device = resolve_device(train_config.device)
        # The float type of the training step's forward pass ("fp32", "bf16" or "fp16"), and
        # why; ValueError here, before anything is built, where the device cannot train in it.
        choice = choose_precision(train_config.precision, self.device)
        self.precision, self.precision_reason = choice.precision, choice.reason
        self.scaler = grad_scaler(self.precision, self.device)  # fp16 only
        self.pair = parse_pair(train_config.pair)
        kinds = tuple(spec.kind for spec in self.pair)
        if models is None:
            models = build_pair(model_config, kinds, train_config.seed)
        elif specs_of(models) != tuple(ModelSpec(k) for k in kinds):
            raise ValueError(f"the models given are {[s.kind for s in specs_of(models)]}, but "
                             f"the pair to train is {list(kinds)}")
        self.models = tuple(m.to(self.device).train() for m in models)
        # With torchrun: this process's share of every batch, gradients averaged by
        # DistributedDataParallel (vae_gui/model/distributed.py).
        self.distributed = distributed
        self._step_mods = self._step_modules()
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
        for k, model in enumerate(self.models):
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
        self._curve_sum = np.zeros(6)
        self._curve_n = 0
        self._epoch_sum = np.zeros(6)
        self._epoch_n = 0
        self._epoch_started = time.perf_counter()
        self._good = tuple(copy.deepcopy(m.state_dict()) for m in self.models)

    @property
    def kinds(self) -> tuple[str, str]:
        return tuple(spec.kind for spec in self.pair)

    @property
    def names(self) -> tuple[str, str]:
        """The columns' names, with the β trained now."""
        return pair_labels(self.pair, self.config.beta)

    @property
    def ae(self) -> Autoencoder:
        """The pair's AE (ValueError where it holds none)."""
        return one_of_kind(self.kinds, self.models, "ae", "run")

    @property
    def vae(self) -> VariationalAutoencoder:
        """The pair's one VAE (ValueError where it holds none or two)."""
        return one_of_kind(self.kinds, self.models, "vae", "run")

    def set_epochs(self, epochs: int) -> None:
        """Trains until `epochs` epochs in all (to continue a finished run further)."""
        self.config = dataclasses.replace(self.config, epochs=epochs)

    def apply_live(self, beta: float, lr: float) -> None:
        """Trains the next steps with this β and learning rate (each optimizer keeps its
        moments); raises ValueError when either is out of bounds."""
        if (beta, lr) == (self.config.beta, self.config.lr):
            return
        self.config = dataclasses.replace(self.config, beta=beta, lr=lr)
        for optimizer in self.optimizers:
            for group in optimizer.param_groups:
                group["lr"] = lr
        self.changes.append(LiveChange(self.step, beta, lr))

    def _step_modules(self) -> tuple[torch.nn.Module, ...]:
        """What the training step calls: the models, or their DistributedDataParallel
        wrappers (same parameters) in a distributed run."""
        if self.distributed is None:
            return self.models
        from torch.nn.parallel import DistributedDataParallel

        ids = [torch.cuda.current_device()] if self.device.type == "cuda" else None
        return tuple(DistributedDataParallel(m, device_ids=ids) for m in self.models)

    def _make_optimizers(self) -> None:
        self.optimizers = tuple(adam_optimizer(m.parameters(), self.config.lr)
                                for m in self.models)

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

        terms = []  # (loss, recon, kl) of each model, as tensors
        with autocast(self.precision, self.device):
            for spec, module in zip(self.pair, self._step_mods, strict=True):
                # The losses from float32 copies (no copy at all in fp32): each sums hundreds
                # of per-pixel terms, which bf16's 8-bit mantissa would round to 3 digits.
                if spec.variational:
                    logits, mu, logvar = (t.float() for t in module(x, self.noise_gen))
                    recon = reconstruction_loss(logits, x, kind)
                    kl = kl_per_dimension(mu, logvar).sum()
                    terms.append((recon + spec.beta_in(beta) * kl, recon, kl))
                else:
                    recon = reconstruction_loss(module(x)[0].float(), x, kind)
                    terms.append((recon, recon, torch.zeros_like(recon)))
        # One transfer for the six (averaged over the processes of a distributed run, so
        # that all of them see the same losses and stop together on a non-finite one).
        values = average(torch.stack([t for model_terms in terms for t in model_terms])
                         .detach(), self.distributed)
        losses = Losses.of_rows(self.kinds, values.tolist())
        if not losses.is_finite():
            self._restore_last_good()
            raise TrainingDiverged(
                f"Training diverged at step {self.step + 1}: the loss became "
                f"{_describe_bad(losses, self.names)}. "
                f"The last good weights were kept; lower the learning rate "
                f"(now {self.config.lr:g}) and train again."
            )
        for optimizer in self.optimizers:
            optimizer.zero_grad(set_to_none=True)
        # The models share no parameters, so one backward pass gives each its own gradients.
        total = terms[0][0] + terms[1][0]
        if self.scaler is None:
            total.backward()
            for optimizer in self.optimizers:
                optimizer.step()
        else:  # fp16: a scaled loss keeps small gradients from underflowing; steps whose
            # gradients overflowed are skipped and the scale lowered (torch.amp.GradScaler)
            self.scaler.scale(total).backward()
            for optimizer in self.optimizers:
                self.scaler.step(optimizer)
            self.scaler.update()

        self.step += 1
        self.last_batch_size = batch_size
        self._pos += batch_size
        row = np.array([v for c in losses.columns for v in c.values()])
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
        train = Losses.of_rows(self.kinds, self._epoch_sum / max(self._epoch_n, 1))
        self._epoch_sum[:] = 0
        self._epoch_n = 0
        test, kl_dims = self.evaluate()
        if not test.is_finite():
            # The last step's loss was finite, but the weights it left are not usable: such
            # an epoch is not recorded (a NaN in the history, a checkpoint, metrics.json).
            self._restore_last_good()
            raise TrainingDiverged(
                f"Training diverged in epoch {self.epoch + 1}: the test loss became "
                f"{_describe_bad(test, self.names)}. The last good weights were kept; lower the "
                f"learning "
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
        for model, good in zip(self.models, self._good, strict=True):
            model.load_state_dict(good)
        self._make_optimizers()  # Adam's moments may hold NaN too

    @torch.no_grad()
    def evaluate(self) -> tuple[Losses, tuple[tuple[float, ...], tuple[float, ...]]]:
        """Test losses of both models (a VAE's with one sample per image, fixed noise: the
        same for two VAEs) on the test images held in memory: all of them, or a streamed
        folder's fixed subset (`test_set` says which); and each VAE's KL per dimension."""
        n = len(self.test_x)
        kind, beta = self.config.loss, self.config.beta
        rows, kl_dims = [], []
        for spec, model in zip(self.pair, self.models, strict=True):
            model.eval()
            gen = torch.Generator(self.device).manual_seed(EVAL_NOISE_SEED)
            sums = np.zeros(3)
            dims = torch.zeros(self.model_config.latent_dim, device=self.device)
            for start in range(0, n, EVAL_BATCH):
                x = self.test_x[start:start + EVAL_BATCH]
                w = len(x)
                if spec.variational:
                    logits, mu, logvar = model(x, gen)
                    recon = reconstruction_loss(logits, x, kind).item()
                    kd = kl_per_dimension(mu, logvar)
                    kl = kd.sum().item()
                    sums += w * np.array([recon + spec.beta_in(beta) * kl, recon, kl])
                    dims += w * kd
                else:
                    recon = reconstruction_loss(model(x)[0], x, kind).item()
                    sums += w * np.array([recon, recon, 0.0])
            model.train()
            rows += list(sums / n)
            kl_dims.append(tuple((dims / n).tolist()) if spec.variational else ())
        return Losses.of_rows(self.kinds, rows), tuple(kl_dims)

    def snapshot(self) -> Snapshot:
        """Encodes the test points and freezes copies of both models."""
        if self._curve_n:
            self._curve.append((self.step, *map(float, self._curve_sum / self._curve_n)))
            if len(self._curve) > MAX_CURVE_ROWS:
                self._curve = thin_rows(self._curve, MAX_CURVE_ROWS // 2)
            self._curve_sum[:] = 0
            self._curve_n = 0
        frozen = tuple(frozen_copy(m) for m in self.models)
        encoded = encode_cloud(self.models, self.cloud, self.test_x, self.train_x)
        names = self.names
        # An optimizer step can make weights non-finite, or the log-variance too large for
        # exp, even after a finite loss: never publish such a snapshot; the views keep the
        # last good one, as after a non-finite loss.
        problem = _describe_bad_weights(frozen) or _describe_bad_points(names, encoded)
        if problem:
            self._restore_last_good()
            raise TrainingDiverged(
                f"Training diverged at step {self.step}: {problem}. "
                f"The last good weights were kept; lower the learning rate "
                f"(now {self.config.lr:g}) and train again."
            )
        # The frozen copies never change, so their weights serve as the last good ones as is.
        self._good = tuple(m.state_dict() for m in frozen)
        return Snapshot(
            step=self.step,
            epoch=self.epoch + self._pos / self.n_train,
            columns=columns_of(self.pair, names, frozen, encoded),
            labels=self.cloud_labels,
            train_curve=read_only(np.array(self._curve, dtype=np.float64).reshape(-1, 7)),
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
