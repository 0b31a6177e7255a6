"""Checkpoints: both models' weights as safetensors, with JSON metadata in the same file.

A checkpoint is data, never code: nothing here unpickles, and loading validates every field,
name, shape and value before a model is built from it. Saves are atomic.
"""

from __future__ import annotations

import json
import os
import stat
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from vae_gui.model.config import MAX_CLASSES, ModelConfig, TrainConfig
from vae_gui.model.errors import CheckpointError
from vae_gui.model.networks import Autoencoder, VariationalAutoencoder, build_models
from vae_gui.model.training import EpochMetrics

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


def new_file_mode() -> int:
    """The mode a newly created file gets here (0o666 less the umask), e.g. 0o644.

    tempfile.mkstemp makes files private (0600); files renamed into place get this mode
    instead, so that a saved checkpoint is as readable as any other file the user saves.
    """
    mask = None
    try:  # read the umask without changing it, where the system allows
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    mask = int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    if mask is None:  # elsewhere: read it by setting it, and put it straight back
        mask = os.umask(0o022)
        os.umask(mask)
    return 0o666 & ~mask


def save_checkpoint(checkpoint: Checkpoint, path: str | os.PathLike) -> Path:
    """Writes atomically: a temporary file in the same folder, fsync, then rename over `path`.

    If anything fails, the file that was at `path` is untouched and no temporary file is left;
    a failure to write raises CheckpointError.
    """
    path = Path(path)
    tensors = {}
    for prefix, module in (("ae", checkpoint.ae), ("vae", checkpoint.vae)):
        for name, t in module.state_dict().items():
            tensors[f"{prefix}.{name}"] = t.detach().to("cpu", torch.float32).contiguous()
    blob = save_safetensors(tensors, metadata={METADATA_KEY: json.dumps(checkpoint.metadata())})
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            if hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), new_file_mode())
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
        _fsync_folder(path.parent)
    except OSError as exc:
        raise CheckpointError(
            f"Could not save the checkpoint to {path}: {exc.strerror or exc}. Nothing was "
            "overwritten; choose a folder you can write to, with enough free space."
        ) from exc
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
    return path


def _fsync_folder(folder: Path) -> None:
    """Makes the rename itself durable, where the system allows opening a folder."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _read_bytes(path: Path) -> bytes:
    try:
        st = path.stat()
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise CheckpointError(f"{path} does not exist; check the path or choose another "
                              "checkpoint.") from exc
    except PermissionError as exc:
        raise CheckpointError(f"{path} cannot be read: permission denied. Check the "
                              "permissions of the file and its folders.") from exc
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{path} cannot be opened: "
                              f"{getattr(exc, 'strerror', None) or exc}.") from exc
    if stat.S_ISDIR(st.st_mode):
        raise CheckpointError(f"{path} is a folder; choose a {SUFFIX} checkpoint file inside it.")
    if not stat.S_ISREG(st.st_mode):
        # A pipe would block and a device could be endless: never open them.
        raise CheckpointError(f"{path} is not a regular file (it is a device, pipe or socket); "
                              f"choose a {SUFFIX} checkpoint file.")
    if st.st_size > MAX_FILE_BYTES:
        raise CheckpointError(f"{path} is {st.st_size / 1024**3:.1f} GiB, far larger than any "
                              "vae-gui checkpoint; it is not one.")
    try:
        with open(path, "rb") as f:
            blob = f.read(MAX_FILE_BYTES + 1)
    except PermissionError as exc:
        raise CheckpointError(f"{path} cannot be read: permission denied. Check the file's "
                              "permissions or copy it somewhere readable.") from exc
    except OSError as exc:
        raise CheckpointError(f"{path} cannot be read: {exc.strerror or exc}.") from exc
    if len(blob) > MAX_FILE_BYTES:
        raise CheckpointError(f"{path} is larger than any vae-gui checkpoint; it is not one.")
    return blob


def _looks_like_pickle(blob: bytes) -> bool:
    """A pickle (protocol 2 or later) or a torch.save zip archive."""
    return (blob[:1] == b"\x80" and blob[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")) or (
        blob[:4] == b"PK\x03\x04")


def _json(text: str | bytes):
    """json.loads that turns deep nesting (RecursionError) into ValueError."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def _parse_header(path: Path, blob: bytes) -> dict:
    """The metadata dictionary from the safetensors header, without touching the tensors."""
    if len(blob) == 0:
        raise CheckpointError(f"{path} is empty; it may be a save that never finished. "
                              "Choose another checkpoint.")
    header = None
    if len(blob) >= 8:
        (n,) = struct.unpack("<Q", blob[:8])
        if 0 < n <= min(MAX_HEADER_BYTES, len(blob) - 8):
            try:
                header = _json(blob[8:8 + n])
            except ValueError:
                header = None
    # Only a file that is not safetensors is checked for pickle: the first byte of a
    # safetensors file is the low byte of its header length, which may well be 0x80.
    if not isinstance(header, dict):
        if _looks_like_pickle(blob):
            raise CheckpointError(
                f"{path} is a pickle or torch.save file. vae-gui never opens those, because "
                "loading them can run code hidden in the file; open a .safetensors checkpoint "
                "saved by vae-gui instead."
            )
        raise CheckpointError(
            f"{path} is not a vae-gui checkpoint: it is not a safetensors file, or it is "
            "truncated (an unfinished save or download). Save or download it again."
        )
    extra = header.get("__metadata__")
    text = extra.get(METADATA_KEY) if isinstance(extra, dict) else None
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
        class_names = tuple(names)
        raw_history = meta.get("history", [])
        if not isinstance(raw_history, list):
            raise TypeError("history must be a list")
        history = tuple(EpochMetrics.from_dict(m) for m in raw_history)
        dataset = meta["dataset"]
        if not isinstance(dataset, str):
            raise TypeError("dataset must be a name")
        epoch, step = _count(meta["epoch"], "epoch"), _count(meta["step"], "step")
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError,
            RecursionError) as exc:
        what = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise CheckpointError(f"{path} has damaged metadata ({what}); it cannot be "
                              "opened.") from exc
    return model_config, train_config, class_names, history, dataset, epoch, step


FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


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
            if t.dtype not in FLOAT_DTYPES:
                raise CheckpointError(f"{path}: {prefix}.{name} is stored as {t.dtype}, not as "
                                      "floating-point weights; the file is damaged.")
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
