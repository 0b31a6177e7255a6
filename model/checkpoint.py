"""Checkpoints: both models' weights as safetensors, with JSON metadata in the same file.

A checkpoint is data, never code: nothing here unpickles, and loading validates every field,
name, shape and dtype (read lazily from the header with safetensors' own reader) before any
weight is read or a model is built. Saves are atomic.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import save as save_safetensors
from vae_gui.model.atomic_write import write_atomic
from vae_gui.model.config import MAX_CLASS_NAME_CHARS, MAX_CLASSES, ModelConfig, TrainConfig
from vae_gui.model.errors import CheckpointError
from vae_gui.model.networks import Autoencoder, VariationalAutoencoder, build_model
from vae_gui.model.pair import DEFAULT_PAIR, SLOTS, one_of_kind, parse_pair
from vae_gui.model.safetensors_file import open_header, read_finite
from vae_gui.model.training import MAX_HISTORY, EpochMetrics, Model, thin_history

FORMAT = "vae-gui-checkpoint"
VERSION = 1
METADATA_KEY = "vae_gui"
MAX_FILE_BYTES = 2 * 1024**3
MAX_HEADER_BYTES = 16 * 1024**2
MAX_DATASET_CHARS = 4096  # a dataset's name or path, as long as a path may be
MAX_TIMELINE_MOMENTS = 1000
TIMELINE_PREFIX = "timeline"


class _ByKind:
    """The pair's AE and VAE by name, where it holds one of each (the default pair)."""

    left: Model
    right: Model

    @property
    def models(self) -> tuple[Model, Model]:
        return self.left, self.right

    def _of_kind(self, kind: str) -> Model:
        kinds = ["vae" if isinstance(m, VariationalAutoencoder) else "ae" for m in self.models]
        return one_of_kind(kinds, self.models, kind, "checkpoint")

    @property
    def ae(self) -> Autoencoder:
        return self._of_kind("ae")

    @property
    def vae(self) -> VariationalAutoencoder:
        return self._of_kind("vae")


@dataclass(frozen=True, eq=False)
class TimelineModels(_ByKind):
    """Both models at one earlier moment of the run (a checkpoint may carry its timeline)."""

    step: int
    epoch: float
    left: Model
    right: Model


@dataclass(frozen=True, eq=False)
class Checkpoint(_ByKind):
    """Both trained models (the pair that `train_config.pair` names, left column first) and
    what is needed to understand them."""

    left: Model
    right: Model
    model_config: ModelConfig
    train_config: TrainConfig
    dataset: str
    class_names: tuple[str, ...]
    epoch: int = 0
    step: int = 0
    history: tuple[EpochMetrics, ...] = ()
    device: str = ""  # where the models were trained, if known
    precision: str = ""  # what trained them: "fp32", "bf16" or "fp16"; "" if not known
    # Earlier moments of the run, oldest first (opt-in: each costs the weights again).
    timeline: tuple[TimelineModels, ...] = ()

    def metadata(self) -> dict:
        """The JSON metadata; the history thinned to MAX_HISTORY epochs, so that any run's
        checkpoint fits the header size that loading accepts. "timeline" only when there is
        one: a checkpoint without one is the same file as before timelines existed."""
        timeline = ({"timeline": [{"step": m.step, "epoch": m.epoch} for m in self.timeline]}
                    if self.timeline else {})
        return {
            "format": FORMAT,
            "version": VERSION,
            "model": self.model_config.to_dict(),
            "training": self.train_config.to_dict(),
            "dataset": self.dataset,
            "class_names": list(self.class_names),
            "epoch": self.epoch,
            "step": self.step,
            "history": [m.to_dict() for m in thin_history(self.history, MAX_HISTORY)],
            "device": self.device,
            "precision": self.precision,
            **timeline,
        }


def checkpoint_bytes(checkpoint: Checkpoint) -> bytes:
    """The checkpoint as safetensors bytes; CheckpointError when it could not be opened
    again (its metadata larger than loading accepts), so that nothing unreadable is saved."""
    if len(checkpoint.timeline) > MAX_TIMELINE_MOMENTS:
        raise CheckpointError(f"A checkpoint carries at most {MAX_TIMELINE_MOMENTS} moments of "
                              f"its run, not {len(checkpoint.timeline)}; nothing was saved.")
    kinds = _kinds(checkpoint.train_config)
    for moment in (checkpoint, *checkpoint.timeline):
        held = tuple("vae" if isinstance(m, VariationalAutoencoder) else "ae"
                     for m in moment.models)
        if held != kinds:
            raise CheckpointError(f"The checkpoint's models are {' and '.join(held)}, but its "
                                  f"settings name {' and '.join(kinds)}; nothing was saved.")
    tensors = {}
    prefixes = weight_prefixes(checkpoint.train_config.pair)
    models = [("", checkpoint.models)]
    models += [(f"{TIMELINE_PREFIX}.{i}.", m.models) for i, m in enumerate(checkpoint.timeline)]
    for start, pair in models:
        for prefix, module in zip(prefixes, pair, strict=True):
            for name, t in module.state_dict().items():
                tensors[f"{start}{prefix}.{name}"] = (t.detach().to("cpu", torch.float32)
                                                      .contiguous())
    text = json.dumps(checkpoint.metadata())
    if len(text) > MAX_HEADER_BYTES - 64 * 1024:  # room for the tensors' part of the header
        raise CheckpointError(f"The checkpoint's metadata would be {len(text) / 1024**2:.1f} MB, "
                              f"more than the {MAX_HEADER_BYTES // 1024**2} MB that vae-gui "
                              "opens; nothing was saved.")
    return save_safetensors(tensors, metadata={METADATA_KEY: text})


def save_checkpoint(checkpoint: Checkpoint, path: str | os.PathLike) -> Path:
    """Writes atomically (see vae_gui.model.atomic_write): a temporary file in the same folder,
    fsync, then a rename over `path`.

    If anything fails, the file that was at `path` is untouched and no temporary file is left;
    a failure to write raises CheckpointError.
    """
    path = Path(path)
    blob = checkpoint_bytes(checkpoint)
    try:
        write_atomic(path, blob)
    except OSError as exc:
        raise CheckpointError(
            f"Could not save the checkpoint to {path}: {exc.strerror or exc}. Nothing was "
            "overwritten; choose a folder you can write to, with enough free space."
        ) from exc
    return path


def _json(text: str | bytes):
    """json.loads that turns deep nesting (RecursionError) into ValueError."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def _vae_gui_metadata(path: Path, header_metadata: dict[str, str] | None) -> dict:
    """The vae-gui metadata dictionary from the safetensors header's metadata."""
    text = (header_metadata or {}).get(METADATA_KEY)
    if not isinstance(text, str):
        raise CheckpointError(f"{path} is a safetensors file without vae-gui metadata, so it "
                              "was not saved by vae-gui; open a checkpoint that vae-gui saved.")
    try:
        meta = _json(text)
    except ValueError as exc:
        raise CheckpointError(f"{path} has damaged vae-gui metadata (it is not valid JSON: "
                              f"{exc}); it cannot be opened.") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is a safetensors file but not a vae-gui checkpoint "
                              "(its metadata names another format).")
    version = meta.get("version")
    if version != VERSION:
        newer = isinstance(version, int) and not isinstance(version, bool) and version > VERSION
        raise CheckpointError(
            f"{path} is a vae-gui checkpoint of version {version!r}; this vae-gui reads version "
            f"{VERSION}. " + ("Update vae-gui to open it." if newer else
                              "It cannot be opened.")
        )
    return meta


def _count(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ValueError(f"{what} must be a whole number >= 0, not {value!r}")
    return int(value)


def _parse_metadata(path: Path, meta: dict) -> tuple:
    try:
        model_config = ModelConfig.from_dict(meta["model"])
        train_config = TrainConfig.from_dict(meta["training"])
        names = meta["class_names"]
        if not isinstance(names, list) or not all(isinstance(c, str) for c in names):
            raise TypeError("class_names must be a list of strings")
        if not 1 <= len(names) <= MAX_CLASSES:
            raise ValueError(f"there must be 1 to {MAX_CLASSES} class names, not {len(names)}")
        if any(len(c) > MAX_CLASS_NAME_CHARS for c in names):
            raise ValueError(f"class names may have at most {MAX_CLASS_NAME_CHARS} characters")
        class_names = tuple(names)
        raw_history = meta.get("history", [])
        if not isinstance(raw_history, list):
            raise TypeError("history must be a list")
        history = tuple(thin_history([EpochMetrics.from_dict(m) for m in raw_history]))
        dataset = meta["dataset"]
        if not isinstance(dataset, str) or len(dataset) > MAX_DATASET_CHARS:
            raise TypeError(f"dataset must be a name or path of at most {MAX_DATASET_CHARS} "
                            "characters")
        device = meta.get("device", "")
        if not isinstance(device, str) or len(device) > 64:
            raise TypeError("device must be a short name")
        # Absent from checkpoints older than mixed precision; any short name is kept (a
        # later vae-gui may name more), only shown, never used to train.
        precision = meta.get("precision", "")
        if not isinstance(precision, str) or len(precision) > 16:
            raise TypeError("precision must be a short name")
        epoch, step = _count(meta["epoch"], "epoch"), _count(meta["step"], "step")
        timeline = _parse_timeline(meta.get("timeline", []), step)
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError,
            RecursionError) as exc:
        what = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise CheckpointError(f"{path} has damaged metadata ({what}); it cannot be "
                              "opened.") from exc
    return (model_config, train_config, class_names, history, dataset, epoch, step, device,
            precision, timeline)


def _parse_timeline(raw, step: int) -> tuple[tuple[int, float], ...]:
    """(step, epoch) of each moment a checkpoint carries: at most MAX_TIMELINE_MOMENTS, in
    increasing steps, all before the checkpoint's own."""
    if not isinstance(raw, list) or len(raw) > MAX_TIMELINE_MOMENTS:
        raise ValueError(f"timeline must be a list of at most {MAX_TIMELINE_MOMENTS} moments")
    out = []
    for m in raw:
        if not isinstance(m, dict):
            raise TypeError("each moment of the timeline must be an object")
        s, e = _count(m["step"], "a moment's step"), m["epoch"]
        if isinstance(e, bool) or not isinstance(e, int | float) or not 0 <= e < 1e12:
            raise ValueError(f"a moment's epoch must be a number >= 0, not {e!r}")
        if s >= step or (out and s <= out[-1][0]):
            raise ValueError("the timeline's steps must increase and come before the "
                             "checkpoint's own")
        out.append((s, float(e)))
    return tuple(out)


# safetensors' names of the floating-point types that weights may be stored as.
FLOAT_DTYPES = ("F16", "BF16", "F32", "F64")


def weight_prefixes(pair) -> tuple[str, str]:
    """The names the two models' weights start with: "ae" and "vae" for the default pair (so
    its files are those written before pairs could be chosen), "left" and "right" otherwise."""
    return ("ae", "vae") if tuple(pair) == DEFAULT_PAIR else SLOTS


def _kinds(train_config: TrainConfig) -> tuple[str, str]:
    return tuple(spec.kind for spec in parse_pair(train_config.pair))


def _expected_shapes(model_config: ModelConfig,
                     train_config: TrainConfig) -> dict[str, tuple[int, ...]]:
    """Every tensor name of a checkpoint of these networks, with its shape.

    The networks are built on the meta device: no memory is allocated, so absurd sizes in
    the metadata cost nothing here (ModelConfig's BOUNDS have refused them already).
    """
    with torch.device("meta"):
        modules = {prefix: build_model(model_config, kind) for prefix, kind in zip(
            weight_prefixes(train_config.pair), _kinds(train_config), strict=True)}
    return {f"{prefix}.{name}": tuple(t.shape) for prefix, module in modules.items()
            for name, t in module.state_dict().items()}


def _check_tensors(path: Path, f, model_config: ModelConfig, train_config: TrainConfig,
                   moments: int = 0) -> list[str]:
    """Checks every name, shape and dtype in the header against the networks that the
    metadata describes (and `moments` earlier copies of them), without reading any tensor's
    data; returns the names."""
    expected = _expected_shapes(model_config, train_config)
    expected |= {f"{TIMELINE_PREFIX}.{i}.{name}": shape for i in range(moments)
                 for name, shape in list(expected.items())}
    names = set(f.keys())
    missing, extra = sorted(set(expected) - names), sorted(names - set(expected))
    if missing or extra:
        def short(names: list[str]) -> list[str]:  # "decoder.net.2.bias" for either model
            return [n.split(".", 1)[1] if n.startswith(("ae.", "vae.", "left.", "right."))
                    else n
                    for n in names[:3]]
        raise CheckpointError(
            f"{path} does not match the networks its metadata describes "
            f"(missing {short(missing)}, unexpected {short(extra)})."
        )
    for name, want in expected.items():
        tensor = f.get_slice(name)
        shape = tuple(tensor.get_shape())
        if shape != want:
            raise CheckpointError(
                f"{path}: {name} has shape {list(shape)}, but the metadata "
                f"(latent {model_config.latent_dim}, hidden {list(model_config.hidden)}, "
                f"images {list(model_config.image_shape)}) needs {list(want)}."
            )
        dtype = tensor.get_dtype()
        if dtype not in FLOAT_DTYPES:
            raise CheckpointError(f"{path}: {name} is stored as {dtype}, not as "
                                  "floating-point weights; the file is damaged.")
    return list(expected)


def read_metadata(path: str | os.PathLike) -> dict:
    """The vae-gui metadata of a checkpoint, checked as load_checkpoint checks it, without
    reading any weights; CheckpointError when it is not a checkpoint vae-gui can open."""
    path = Path(path)
    with open_header(path, CheckpointError, "checkpoint", MAX_FILE_BYTES,
                     MAX_HEADER_BYTES) as f:
        meta = _vae_gui_metadata(path, f.metadata())
    _parse_metadata(path, meta)
    return meta


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Reads and validates a checkpoint; any problem raises CheckpointError with the reason.

    The file is checked in the order of what it costs: its kind and size (stat), its first
    bytes, the safetensors header (safe_open), the vae-gui metadata, then every tensor's name,
    shape and dtype from the header; only then are the weights read, checked to be finite,
    and the models built.
    """
    path = Path(path)
    with open_header(path, CheckpointError, "checkpoint", MAX_FILE_BYTES,
                     MAX_HEADER_BYTES) as f:
        meta = _vae_gui_metadata(path, f.metadata())
        (model_config, train_config, class_names, history, dataset, epoch, step, device,
         precision, timeline) = _parse_metadata(path, meta)
        names = _check_tensors(path, f, model_config, train_config, len(timeline))
        prefixes = weight_prefixes(train_config.pair)
        # "" for the checkpoint's own models, "timeline.3." for its fourth earlier moment.
        weights: dict[str, dict[str, dict[str, torch.Tensor]]] = {}
        for name in names:
            start = ""
            if name.startswith(f"{TIMELINE_PREFIX}."):
                index, name_in_moment = name[len(TIMELINE_PREFIX) + 1:].split(".", 1)
                start = f"{TIMELINE_PREFIX}.{index}."
            else:
                name_in_moment = name
            prefix, key = name_in_moment.split(".", 1)
            weights.setdefault(start, {p: {} for p in prefixes})[prefix][key] = read_finite(
                f, path, name, CheckpointError, "; the run that saved it had diverged")
    left, right = _models(model_config, train_config, weights[""])
    moments = tuple(TimelineModels(s, e, *_models(model_config, train_config,
                                                  weights[f"{TIMELINE_PREFIX}.{i}."]))
                    for i, (s, e) in enumerate(timeline))
    return Checkpoint(left, right, model_config, train_config, dataset, class_names, epoch,
                      step, history, device, precision, moments)


def _models(model_config: ModelConfig, train_config: TrainConfig,
            weights: dict[str, dict[str, torch.Tensor]]) -> tuple[Model, Model]:
    models = []
    with torch.random.fork_rng(devices=[]):  # their initial weights are replaced at once
        for prefix, kind in zip(weight_prefixes(train_config.pair), _kinds(train_config),
                                strict=True):
            module = build_model(model_config, kind)
            module.load_state_dict(weights[prefix])
            models.append(module.eval().requires_grad_(False))
    return tuple(models)
