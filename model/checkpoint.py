"""Checkpoints: both models' weights as safetensors, with JSON metadata in the same file.

A checkpoint is data, never code: nothing here unpickles, and loading validates every field,
name, shape and value before a model is built from it. Saves are atomic.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from model.config import ModelConfig, TrainConfig
from model.errors import CheckpointError
from model.networks import Autoencoder, VariationalAutoencoder, build_models
from model.training import EpochMetrics

FORMAT = "vae-gui-checkpoint"
VERSION = 1
METADATA_KEY = "vae_gui"
MAX_FILE_BYTES = 2 * 1024**3
MAX_HEADER_BYTES = 16 * 1024**2
SUFFIX = ".safetensors"


@dataclass(frozen=True, eq=False)
class Checkpoint:
    """Both trained models and what is needed to understand them."""

    ae: Autoencoder
    vae: VariationalAutoencoder
    model_config: ModelConfig
    train_config: TrainConfig
    dataset: str
    class_names: tuple[str, ...]
    epoch: int = 0
    step: int = 0
    history: tuple[EpochMetrics, ...] = ()

    def metadata(self) -> dict:
        return {
            "format": FORMAT,
            "version": VERSION,
            "model": self.model_config.to_dict(),
            "training": self.train_config.to_dict(),
            "dataset": self.dataset,
            "class_names": list(self.class_names),
            "epoch": self.epoch,
            "step": self.step,
            "history": [m.to_dict() for m in self.history],
        }


def save_checkpoint(checkpoint: Checkpoint, path: str | os.PathLike) -> Path:
    """Writes atomically: a temporary file in the same folder, fsync, then rename over `path`."""
    path = Path(path)
    tensors = {}
    for prefix, module in (("ae", checkpoint.ae), ("vae", checkpoint.vae)):
        for name, t in module.state_dict().items():
            tensors[f"{prefix}.{name}"] = t.detach().to("cpu", torch.float32).contiguous()
    blob = save_safetensors(tensors, metadata={METADATA_KEY: json.dumps(checkpoint.metadata())})
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise CheckpointError(f"{path} does not exist.")
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder; choose a {SUFFIX} checkpoint file inside it.")
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise CheckpointError(f"{path} is {size / 1024**3:.1f} GiB, far larger than any "
                                  "vae-gui checkpoint; it is not one.")
        with open(path, "rb") as f:
            return f.read()
    except PermissionError as exc:
        raise CheckpointError(f"{path} cannot be read: permission denied. Check the file's "
                              "permissions or copy it somewhere readable.") from exc
    except OSError as exc:
        raise CheckpointError(f"{path} cannot be read: {exc.strerror or exc}.") from exc


def _parse_header(path: Path, blob: bytes) -> dict:
    """The metadata dictionary from the safetensors header, without touching the tensors."""
    if len(blob) == 0:
        raise CheckpointError(f"{path} is empty; it may be a save that never finished.")
    if blob[:1] == b"\x80" or blob[:4] == b"PK\x03\x04":
        raise CheckpointError(
            f"{path} is a pickle or torch.save file. vae-gui never opens those, because "
            "loading them can run code hidden in the file; open a .safetensors checkpoint "
            "saved by vae-gui instead."
        )
    if len(blob) < 8:
        raise CheckpointError(f"{path} is truncated: it is only {len(blob)} bytes long.")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > min(MAX_HEADER_BYTES, len(blob) - 8):
        raise CheckpointError(f"{path} is not a safetensors file, or it is truncated "
                              "(its header runs past the end of the file).")
    try:
        header = json.loads(blob[8:8 + n])
        meta = json.loads(header["__metadata__"][METADATA_KEY])
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{path} is not a vae-gui checkpoint: its header has no readable "
                              f"vae-gui metadata ({type(exc).__name__}).") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is a safetensors file but not a vae-gui checkpoint.")
    if meta.get("version") != VERSION:
        raise CheckpointError(f"{path} is a vae-gui checkpoint of version {meta.get('version')!r};"
                              f" this vae-gui reads version {VERSION}. Update vae-gui.")
    return meta


def _parse_metadata(path: Path, meta: dict) -> tuple:
    try:
        model_config = ModelConfig.from_dict(meta["model"])
        train_config = TrainConfig.from_dict(meta["training"])
        class_names = tuple(str(c) for c in meta["class_names"])
        history = tuple(EpochMetrics.from_dict(m) for m in meta.get("history", []))
        dataset, epoch, step = str(meta["dataset"]), int(meta["epoch"]), int(meta["step"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CheckpointError(f"{path} has damaged metadata ({type(exc).__name__}: {exc}); it "
                              "cannot be opened.") from exc
    if not class_names:
        raise CheckpointError(f"{path} lists no class names; it cannot be opened.")
    return model_config, train_config, class_names, history, dataset, epoch, step


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Reads and validates a checkpoint; any problem raises CheckpointError with the reason."""
    path = Path(path)
    blob = _read_bytes(path)
    meta = _parse_header(path, blob)
    model_config, train_config, class_names, history, dataset, epoch, step = _parse_metadata(
        path, meta)
    try:
        tensors = load_safetensors(blob)
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types
        raise CheckpointError(f"{path} is damaged: its tensors cannot be read ({exc}).") from exc
    # Shapes come from networks built on the meta device: no memory is allocated, so absurd
    # sizes in the metadata are caught here, before anything real is built.
    with torch.device("meta"):
        expected = {"ae": Autoencoder(model_config).state_dict(),
                    "vae": VariationalAutoencoder(model_config).state_dict()}
    weights: dict[str, dict[str, torch.Tensor]] = {}
    for prefix, want_shapes in expected.items():
        found = {k[len(prefix) + 1:]: v for k, v in tensors.items()
                 if k.startswith(prefix + ".")}
        missing = sorted(set(want_shapes) - set(found))
        extra = sorted(set(found) - set(want_shapes))
        if missing or extra:
            raise CheckpointError(
                f"{path} does not match the networks its metadata describes "
                f"(missing {missing[:3]}, unexpected {extra[:3]})."
            )
        for name, t in found.items():
            want = tuple(want_shapes[name].shape)
            if tuple(t.shape) != want:
                raise CheckpointError(
                    f"{path}: {prefix}.{name} has shape {list(t.shape)}, but the metadata "
                    f"(latent {model_config.latent_dim}, hidden {list(model_config.hidden)}, "
                    f"images {list(model_config.image_shape)}) needs {list(want)}."
                )
            if not t.is_floating_point():
                raise CheckpointError(f"{path}: {prefix}.{name} is not a floating-point tensor.")
            if not torch.isfinite(t).all():
                raise CheckpointError(f"{path}: {prefix}.{name} contains NaN or infinite "
                                      "weights; the run that saved it had diverged.")
        weights[prefix] = {k: v.float() for k, v in found.items()}
    ae, vae = build_models(model_config, seed=0)
    for prefix, module in (("ae", ae), ("vae", vae)):
        module.load_state_dict(weights[prefix])
        module.eval().requires_grad_(False)
    return Checkpoint(ae, vae, model_config, train_config, dataset, class_names, epoch, step,
                      history)
