"""Checkpoints: a faithful round trip, a CheckpointError for every broken or hostile file,
and saves that never leave a damaged file behind (issue 6, items 1 and 2, at library level)."""

from __future__ import annotations

import errno
import json
import os
import pickle
import random
import signal
import stat
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
import vae_gui.model.atomic_write as atomic_write_module
import vae_gui.model.checkpoint as checkpoint_module
import vae_gui.model.safetensors_file as safetensors_file_module
from checkpoint_files import Payload as _Payload
from checkpoint_files import split_safetensors
from safetensors.torch import save as save_safetensors
from vae_gui.model.checkpoint import load_checkpoint, save_checkpoint
from vae_gui.model.config import ModelConfig
from vae_gui.model.errors import CheckpointError

# ---------------------------------------------------------------------------- round trip


def test_round_trip_gives_identical_models_and_metadata(tmp_path, make_checkpoint):
    original = make_checkpoint(seed=5)
    path = save_checkpoint(original, tmp_path / "run.safetensors")
    loaded = load_checkpoint(path)
    z = torch.randn(50, 2, generator=torch.Generator().manual_seed(0))
    x = torch.rand(20, 28, 28, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(loaded.ae.decode(z), original.ae.decode(z))
        assert torch.equal(loaded.vae.decode(z), original.vae.decode(z))
        assert torch.equal(loaded.ae.encode(x), original.ae.encode(x))
        for a, b in zip(loaded.vae.encode(x), original.vae.encode(x), strict=True):
            assert torch.equal(a, b)
    assert loaded.metadata() == original.metadata()
    assert (loaded.model_config, loaded.train_config) == (original.model_config,
                                                          original.train_config)
    assert loaded.history == original.history and loaded.class_names == tuple("0123456789")
    assert (loaded.dataset, loaded.epoch, loaded.step) == ("mnist5k", 1, 32)
    for m in (loaded.ae, loaded.vae):  # ready for the GUI thread: frozen, inference mode
        assert not m.training and not any(p.requires_grad for p in m.parameters())


@pytest.mark.parametrize("config", [ModelConfig(hidden=(8,), latent_dim=1),
                                    ModelConfig(hidden=(16, 8, 4), latent_dim=5),
                                    ModelConfig(image_shape=(12, 20), hidden=(10,), latent_dim=3)])
def test_round_trip_for_other_shapes(tmp_path, make_checkpoint, config):
    original = make_checkpoint(config=config, class_names=("a", "b"))
    loaded = load_checkpoint(save_checkpoint(original, tmp_path / "x.safetensors"))
    z = torch.randn(4, config.latent_dim)
    assert torch.equal(loaded.vae.decode(z), original.vae.decode(z))
    assert loaded.model_config == config


def test_a_header_whose_length_starts_with_byte_0x80_still_loads(tmp_path, make_checkpoint):
    # The first byte of a safetensors file is the low byte of its header length. It used to be
    # taken for a pickle opcode when it was 0x80, which rejected 1 in 32 genuine checkpoints.
    import dataclasses

    from vae_gui.model.checkpoint import checkpoint_bytes

    path = tmp_path / "c.safetensors"
    base = make_checkpoint()
    for n in range(0, 400):  # the bytes alone, in memory: only the name changes
        if checkpoint_bytes(dataclasses.replace(base, dataset="d" * n))[0] == 0x80:
            break
    else:
        pytest.fail("no dataset name gave a header length with low byte 0x80")
    save_checkpoint(dataclasses.replace(base, dataset="d" * n), path)
    assert path.read_bytes()[0] == 0x80
    assert load_checkpoint(path).dataset == "d" * n


def test_saved_checkpoints_get_the_usual_file_mode(tmp_path, make_checkpoint):
    # tempfile.mkstemp creates 0600 files; a checkpoint should be as readable as any file.
    old = os.umask(0o022)
    try:
        path = save_checkpoint(make_checkpoint(), tmp_path / "m.safetensors")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


# ------------------------------------------------------------------- hostile and broken files


def _refused(path, *fragments: str) -> str:
    """Loads `path`, expecting a CheckpointError whose message names the file and `fragments`."""
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, message
    assert "Traceback" not in message and message.rstrip().endswith(".")
    return message


def test_empty_file(tmp_path):
    path = tmp_path / "empty.safetensors"
    path.write_bytes(b"")
    _refused(path, "empty")


@pytest.mark.parametrize("fraction", [0.0001, 0.001, 0.01, 0.3, 0.5, 0.9, 0.9999])
def test_truncated_file(saved_checkpoint, tmp_path, fraction):
    blob = saved_checkpoint.read_bytes()
    cut = max(1, int(len(blob) * fraction))
    path = tmp_path / "cut.safetensors"
    path.write_bytes(blob[:cut])
    message = _refused(path)
    assert "truncated" in message or "damaged" in message


@pytest.mark.parametrize("cut", [1, 7, 8, 9])
def test_file_cut_inside_the_length_prefix(saved_checkpoint, tmp_path, cut):
    path = tmp_path / "cut.safetensors"
    path.write_bytes(saved_checkpoint.read_bytes()[:cut])
    _refused(path, "truncated")


@pytest.mark.parametrize("seed, size", [(0, 16), (1, 1000), (2, 100_000)])
def test_random_bytes(tmp_path, seed, size):
    path = tmp_path / "noise.safetensors"
    path.write_bytes(random.Random(seed).randbytes(size))
    _refused(path, "not a vae-gui checkpoint")


def test_random_bytes_behind_a_plausible_header_length(tmp_path):
    noise = random.Random(3).randbytes(5000)
    path = tmp_path / "noise.safetensors"
    path.write_bytes(struct.pack("<Q", 1000) + noise)
    _refused(path, "not a vae-gui checkpoint")


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_a_pickle_with_a_payload_is_never_run(tmp_path, protocol):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.safetensors"
    path.write_bytes(pickle.dumps({"state_dict": _Payload(marker)}, protocol=protocol))
    message = _refused(path)
    assert not marker.exists(), "loading the checkpoint ran code from the file"
    if protocol >= 2:  # protocols 0 and 1 have no signature; they are simply not safetensors
        assert "pickle" in message and "never opens" in message
    # Control: the payload is live, so the absence of the marker above means something.
    control = tmp_path / "control"
    pickle.loads(pickle.dumps(_Payload(control), protocol=protocol))
    assert control.exists()


@pytest.mark.parametrize("zipfile", [True, False])
def test_a_torch_save_file_is_refused_without_running_it(tmp_path, zipfile, make_checkpoint):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.safetensors"
    state = make_checkpoint().vae.state_dict()
    torch.save({"state": state, "payload": _Payload(marker)}, path,
               _use_new_zipfile_serialization=zipfile)
    _refused(path, "torch.save")
    assert not marker.exists()


def test_wrong_tensor_shape(saved_checkpoint, tmp_path):
    from safetensors.torch import load_file

    tensors = load_file(saved_checkpoint)
    tensors["vae.decoder.net.0.weight"] = torch.zeros(5, 5)
    header, _ = split_safetensors(saved_checkpoint.read_bytes())
    path = tmp_path / "shapes.safetensors"
    path.write_bytes(save_safetensors(tensors, metadata=header["__metadata__"]))
    _refused(path, "vae.decoder.net.0.weight", "has shape [5, 5]", "needs")


def test_latent_size_disagreeing_with_the_metadata(rewrite_checkpoint):
    path = rewrite_checkpoint(lambda m: m["model"].update(latent_dim=3))
    _refused(path, "latent 3", "needs")


@pytest.mark.parametrize("change, fragment", [
    (lambda t: t.pop("vae.decoder.net.2.bias"), "missing ['decoder.net.2.bias']"),
    (lambda t: t.__setitem__("ae.extra", torch.zeros(1)), "unexpected ['extra']"),
])
def test_missing_or_extra_tensors(saved_checkpoint, tmp_path, change, fragment):
    from safetensors.torch import load_file

    tensors = load_file(saved_checkpoint)
    change(tensors)
    header, _ = split_safetensors(saved_checkpoint.read_bytes())
    path = tmp_path / "tensors.safetensors"
    path.write_bytes(save_safetensors(tensors, metadata=header["__metadata__"]))
    _refused(path, "does not match", fragment)


def test_integer_tensors(saved_checkpoint, tmp_path):
    from safetensors.torch import load_file

    tensors = load_file(saved_checkpoint)
    tensors["ae.decoder.net.0.bias"] = tensors["ae.decoder.net.0.bias"].to(torch.int32)
    header, _ = split_safetensors(saved_checkpoint.read_bytes())
    path = tmp_path / "ints.safetensors"
    path.write_bytes(save_safetensors(tensors, metadata=header["__metadata__"]))
    _refused(path, "not as floating-point")


def _spy_on_reads(monkeypatch) -> tuple[list[str], list[str]]:
    """Records every tensor that load_checkpoint reads (get_tensor) and every model it builds.

    safetensors' safe_open is a Rust object whose methods cannot be patched, so the safe_open
    of model/safetensors_file.py (which opens checkpoints) is replaced by a wrapper that
    passes everything else through.
    """
    reads, built = [], []
    real_safe_open = safetensors_file_module.safe_open
    real_build = checkpoint_module._models

    class SpyingSafeOpen:
        def __init__(self, *args, **kwargs):
            self.f = real_safe_open(*args, **kwargs)

        def __enter__(self):
            self.f.__enter__()
            return self

        def __exit__(self, *exc):
            return self.f.__exit__(*exc)

        def get_tensor(self, name):
            reads.append(name)
            return self.f.get_tensor(name)

        def __getattr__(self, name):
            return getattr(self.f, name)

    def build(*args, **kwargs):
        built.append(args)
        return real_build(*args, **kwargs)

    monkeypatch.setattr(safetensors_file_module, "safe_open", SpyingSafeOpen)
    monkeypatch.setattr(checkpoint_module, "_models", build)
    return reads, built


def _spy_on_networks(monkeypatch) -> list[str]:
    """Records every network that checkpoint.py constructs itself (on torch's meta device,
    to learn the tensor shapes that the metadata's sizes call for)."""
    constructed = []
    real_build = checkpoint_module.build_model

    def construct(config, kind):
        if torch.get_default_device().type == "meta":
            constructed.append(kind)
        return real_build(config, kind)

    monkeypatch.setattr(checkpoint_module, "build_model", construct)
    return constructed


@pytest.mark.parametrize("damage, fragments", [
    # The last tensor of the VAE's decoder: a loader that checked each tensor as it read it
    # would have read every other one first.
    (lambda t: t.__setitem__("vae.decoder.net.2.bias", torch.zeros(5)),
     ["vae.decoder.net.2.bias", "has shape [5]"]),
    (lambda t: t.__setitem__("vae.decoder.net.2.bias", torch.zeros(784, dtype=torch.int64)),
     ["vae.decoder.net.2.bias", "not as floating-point"]),
    (lambda t: t.__setitem__("stray", torch.zeros(3)), ["does not match", "['stray']"]),
], ids=["shape", "dtype", "stray-name"])
def test_names_shapes_and_dtypes_are_checked_before_any_tensor_is_read(
        saved_checkpoint, tmp_path, monkeypatch, damage, fragments):
    from safetensors.torch import load_file

    tensors = load_file(saved_checkpoint)
    damage(tensors)
    header, _ = split_safetensors(saved_checkpoint.read_bytes())
    path = tmp_path / "damaged.safetensors"
    path.write_bytes(save_safetensors(tensors, metadata=header["__metadata__"]))
    reads, built = _spy_on_reads(monkeypatch)
    _refused(path, *fragments)
    assert reads == [] and built == []


def test_a_good_checkpoint_reads_each_tensor_once_after_the_checks(saved_checkpoint,
                                                                  monkeypatch):
    # The control of the test above: the spy does see the reads of a checkpoint that loads.
    from safetensors.torch import load_file

    reads, built = _spy_on_reads(monkeypatch)
    constructed = _spy_on_networks(monkeypatch)
    load_checkpoint(saved_checkpoint)
    assert sorted(reads) == sorted(load_file(saved_checkpoint)) and len(built) == 1
    assert sorted(constructed) == ["ae", "vae"]


def test_missing_metadata(saved_checkpoint, tmp_path, rewrite_checkpoint):
    from safetensors.torch import load_file

    path = tmp_path / "plain.safetensors"  # a valid safetensors file that vae-gui did not save
    path.write_bytes(save_safetensors(load_file(saved_checkpoint)))
    _refused(path, "without vae-gui metadata")
    path = rewrite_checkpoint(edit_header=lambda h: h["__metadata__"].pop("vae_gui"))
    _refused(path, "without vae-gui metadata")


@pytest.mark.parametrize("raw", ["{not json", "", "[" * 100_000 + "]" * 100_000,
                                 '{"format": "vae-gui-checkpoint", "version": 1'],
                         ids=["not-json", "empty", "nested-100000-deep", "unterminated"])
def test_malformed_metadata_json(rewrite_checkpoint, raw):
    _refused(rewrite_checkpoint(raw_meta=raw), "metadata")


@pytest.mark.parametrize("raw", ["[]", "42", '"text"', "null"])
def test_metadata_that_is_not_an_object(rewrite_checkpoint, raw):
    _refused(rewrite_checkpoint(raw_meta=raw), "not a vae-gui checkpoint")


def test_metadata_of_another_format(rewrite_checkpoint):
    _refused(rewrite_checkpoint(lambda m: m.update(format="something-else")),
             "not a vae-gui checkpoint")


def test_metadata_of_a_newer_version(rewrite_checkpoint):
    _refused(rewrite_checkpoint(lambda m: m.update(version=2)), "version 2", "Update vae-gui")


@pytest.mark.parametrize("version", [0, "1", None, 1.5])
def test_metadata_of_an_unknown_version(rewrite_checkpoint, version):
    _refused(rewrite_checkpoint(lambda m: m.update(version=version)), "cannot be opened")


@pytest.mark.parametrize("edit", [
    lambda m: m.pop("model"),
    lambda m: m.pop("class_names"),
    lambda m: m.update(model=None),
    lambda m: m.update(model="big"),
    lambda m: m["model"].update(hidden="many"),
    lambda m: m["model"].update(image_shape=[28, 28, 2]),
    lambda m: m["training"].update(loss="l7"),
    lambda m: m["training"].update(lr=-1),
    lambda m: m["training"].update(seed=10**30),
    lambda m: m.update(class_names=[]),
    lambda m: m.update(class_names="0123"),
    lambda m: m.update(class_names=[1, 2]),
    lambda m: m.update(dataset=["x"]),
    lambda m: m.update(epoch=-1),
    lambda m: m.update(step="many"),
    lambda m: m.update(history={"epoch": 1}),
    lambda m: m.update(history=[{"epoch": 1}]),
], ids=["no-model", "no-class-names", "model-null", "model-string", "hidden-string",
        "image-2-channels", "unknown-loss", "negative-lr", "huge-seed", "no-classes",
        "class-names-string", "class-names-numbers", "dataset-list", "negative-epoch",
        "step-string", "history-dict", "history-incomplete"])
def test_damaged_metadata_fields(rewrite_checkpoint, edit):
    _refused(rewrite_checkpoint(edit), "damaged metadata")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize("name", ["ae.encoder.net.0.weight", "vae.decoder.net.2.bias"])
def test_non_finite_weights(tmp_path, make_checkpoint, name, value):
    checkpoint = make_checkpoint()
    prefix, key = name.split(".", 1)
    with torch.no_grad():
        getattr(checkpoint, prefix).state_dict()[key].view(-1)[3] = value
    path = save_checkpoint(checkpoint, tmp_path / "nan.safetensors")
    _refused(path, name, "NaN or infinite")


@pytest.mark.parametrize("field, value", [
    ("hidden", [10**9]),
    ("hidden", [256] * 1000),
    ("latent_dim", 10**9),
    ("latent_dim", 10**30),
    ("image_shape", [10**6, 10**6]),
    ("latent_dim", float("inf")),
    ("hidden", [float("inf")]),
    ("latent_dim", float("nan")),
])
def test_absurd_declared_sizes_are_refused_before_allocating(rewrite_checkpoint, monkeypatch,
                                                            field, value):
    path = rewrite_checkpoint(lambda m: m["model"].update({field: value}))
    reads, built = _spy_on_reads(monkeypatch)
    constructed = _spy_on_networks(monkeypatch)
    _refused(path, "damaged metadata")
    # Building any of these for real would need terabytes or fail: they are refused with the
    # metadata, before any network of that size exists (not even on the meta device) and
    # before any tensor is read.
    assert constructed == [] and built == [] and reads == []


def test_a_header_claiming_a_huge_tensor_allocates_nothing(rewrite_checkpoint, monkeypatch):
    def claim(header):
        entry = header["vae.decoder.net.2.weight"]
        entry["shape"] = [2**31, 2**31]
        entry["data_offsets"] = [entry["data_offsets"][0], 2**62]

    path = rewrite_checkpoint(edit_header=claim)
    reads, built = _spy_on_reads(monkeypatch)
    _refused(path, "damaged")
    # Refused with the header: the 2**62-byte tensor is never read, no model is built.
    assert reads == [] and built == []


def test_a_header_length_beyond_the_file(saved_checkpoint, tmp_path):
    blob = bytearray(saved_checkpoint.read_bytes())
    blob[:8] = struct.pack("<Q", 2**63)
    path = tmp_path / "len.safetensors"
    path.write_bytes(bytes(blob))
    _refused(path, "truncated")


def test_a_file_larger_than_any_checkpoint(saved_checkpoint, monkeypatch):
    monkeypatch.setattr(checkpoint_module, "MAX_FILE_BYTES", 1000)
    _refused(saved_checkpoint, "larger than any vae-gui checkpoint")


def test_a_folder_instead_of_a_file(tmp_path):
    folder = tmp_path / "run.safetensors"
    folder.mkdir()
    _refused(folder, "is a folder")


def test_a_path_that_does_not_exist(tmp_path):
    _refused(tmp_path / "nowhere" / "gone.safetensors", "does not exist")


def test_a_path_through_a_regular_file(saved_checkpoint):
    _refused(saved_checkpoint / "inside.safetensors", "does not exist")


def test_a_path_too_long_for_the_system(tmp_path):
    _refused(tmp_path / ("x" * 300), "cannot be opened")


def test_a_pipe_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.safetensors"
    os.mkfifo(fifo)  # opening a pipe for reading would block until someone writes
    _refused(fifo, "not a regular file")


def test_a_device_is_refused_without_reading_it():
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero here")
    _refused(Path("/dev/zero"), "not a regular file")  # reading it would never end


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root reads files whatever their mode; the emulated test covers it")
def test_a_file_without_read_permission(saved_checkpoint):
    saved_checkpoint.chmod(0)
    try:
        _refused(saved_checkpoint, "permission denied")
    finally:
        saved_checkpoint.chmod(0o644)


def test_a_file_without_read_permission_emulated(saved_checkpoint, monkeypatch):
    # Tests here run as root, where mode 000 does not stop a read: make open() refuse instead.
    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(saved_checkpoint))

    monkeypatch.setattr(safetensors_file_module, "open", refuse, raising=False)
    _refused(saved_checkpoint, "permission denied")


def test_a_read_error_from_the_disk(saved_checkpoint, monkeypatch):
    def fail(*args, **kwargs):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(safetensors_file_module, "open", fail, raising=False)
    _refused(saved_checkpoint, "Input/output error")


# ------------------------------------------------------------------------ atomic saves


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


@pytest.mark.parametrize("failing", ["os.replace", "os.fsync", "write"])
def test_a_failed_save_keeps_the_previous_checkpoint(tmp_path, make_checkpoint, monkeypatch,
                                                     failing):
    path = save_checkpoint(make_checkpoint(seed=1, step=100), tmp_path / "run.safetensors")
    before = path.read_bytes()

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    if failing == "write":
        real_fdopen = os.fdopen

        class FullDisk:
            def __init__(self, f):
                self.f = f

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.f.close()

            def fileno(self):
                return self.f.fileno()

            def write(self, data):
                self.f.write(data[: len(data) // 2])  # half of it reaches the disk
                no_space()

        monkeypatch.setattr(atomic_write_module.os, "fdopen",
                            lambda *a, **k: FullDisk(real_fdopen(*a, **k)))
    else:
        monkeypatch.setattr(atomic_write_module.os, failing.split(".")[1], no_space)
    with pytest.raises(CheckpointError, match="No space left on device.*Nothing was overwritten"):
        save_checkpoint(make_checkpoint(seed=2, step=200), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert load_checkpoint(path).step == 100
    assert _leftovers(tmp_path) == []


def test_an_interrupted_save_keeps_the_previous_checkpoint(tmp_path, make_checkpoint,
                                                            monkeypatch):
    path = save_checkpoint(make_checkpoint(step=100), tmp_path / "run.safetensors")

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic_write_module.os, "fsync", interrupt)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(make_checkpoint(step=200), path)
    monkeypatch.undo()
    assert load_checkpoint(path).step == 100
    assert _leftovers(tmp_path) == []


def test_saving_into_a_missing_folder_raises_checkpoint_error(tmp_path, make_checkpoint):
    with pytest.raises(CheckpointError, match="choose a folder you can write to"):
        save_checkpoint(make_checkpoint(), tmp_path / "missing" / "run.safetensors")


def test_saving_over_a_folder_raises_checkpoint_error(tmp_path, make_checkpoint):
    (tmp_path / "run.safetensors").mkdir()
    with pytest.raises(CheckpointError):
        save_checkpoint(make_checkpoint(), tmp_path / "run.safetensors")
    assert _leftovers(tmp_path) == []


def test_atomic_write_removes_its_temporary_file_whatever_stops_it(tmp_path):
    # One writer for checkpoints, metrics.json and exports (vae_gui.model.atomic_write).
    from vae_gui.model.atomic_write import atomic_write, write_atomic

    path = write_atomic(tmp_path / "notes.txt", b"old")
    for stop in (KeyboardInterrupt, ValueError):
        with pytest.raises(stop), atomic_write(path, "w") as f:
            f.write("new, half written")
            raise stop
        assert path.read_bytes() == b"old" and _leftovers(tmp_path) == []
    old = os.umask(0o022)
    try:
        with atomic_write(path, "w") as f:
            f.write("new \u03b2")
    finally:
        os.umask(old)
    assert path.read_text(encoding="utf-8") == "new \u03b2"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644 and _leftovers(tmp_path) == []
    with pytest.raises(ValueError, match="mode"), atomic_write(path, "a"):
        pass


def _encodings(seed: int):
    import numpy as np

    rng = np.random.default_rng(seed)
    codes = [rng.normal(size=(12, 3)).astype(np.float32) for _ in range(3)]
    return (*codes, np.arange(12) % 2, ("even", "odd"))


@pytest.mark.parametrize("suffix", [".csv", ".npz"])
@pytest.mark.parametrize("failing", ["os.replace", "os.fsync"])
def test_a_failed_export_keeps_the_previous_file(tmp_path, monkeypatch, suffix, failing):
    import numpy as np
    from vae_gui.model.export import export_encodings

    path = export_encodings(tmp_path / f"codes{suffix}", *_encodings(1))
    before = path.read_bytes()

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic_write_module.os, failing.split(".")[1], no_space)
    with pytest.raises(OSError, match="No space left on device"):
        export_encodings(path, *_encodings(2))
    monkeypatch.undo()
    assert path.read_bytes() == before and _leftovers(tmp_path) == []
    # Control: the same export, unhindered, replaces the file with the new encodings.
    export_encodings(path, *_encodings(2))
    assert path.read_bytes() != before and _leftovers(tmp_path) == []
    ae_codes = _encodings(2)[0]
    if suffix == ".npz":
        with np.load(path) as saved:
            np.testing.assert_array_equal(saved["ae_codes"], ae_codes)
    else:
        first = path.read_text(encoding="utf-8").splitlines()[1].split(",")
        assert first[:3] == ["0", "0", "even"]
        np.testing.assert_allclose([float(v) for v in first[3:6]], ae_codes[0], rtol=1e-5)


def test_an_interrupted_export_keeps_the_previous_file(tmp_path, monkeypatch):
    import csv

    from vae_gui.model.export import export_encodings

    path = export_encodings(tmp_path / "codes.csv", *_encodings(1))
    before = path.read_bytes()
    real_writer = csv.writer

    def writer_interrupted_after_the_header(f):
        w = real_writer(f)

        class Interrupted:
            def writerow(self, row):
                if row[0] != "index":
                    raise KeyboardInterrupt
                w.writerow(row)
        return Interrupted()

    monkeypatch.setattr(csv, "writer", writer_interrupted_after_the_header)
    with pytest.raises(KeyboardInterrupt):
        export_encodings(path, *_encodings(2))
    assert path.read_bytes() == before and _leftovers(tmp_path) == []


SAVE_LOOP = textwrap.dedent("""
    import os, stat, sys, time
    import vae_gui.model.atomic_write
    from vae_gui.model.checkpoint import Checkpoint, save_checkpoint
    from vae_gui.model.config import ModelConfig, TrainConfig
    from vae_gui.model.networks import build_models

    path, slow = sys.argv[1], sys.argv[2] == "slow"
    real_fsync = os.fsync

    def slow_fsync(fd):
        # A slow disk: the temporary file is written but not yet renamed. Say so, then wait.
        if stat.S_ISREG(os.fstat(fd).st_mode):
            print("in-save", flush=True)
            time.sleep(0.5)
        real_fsync(fd)

    config = ModelConfig()  # the default size, ~3.7 MB
    versions = []
    for seed in (1, 2):
        ae, vae = build_models(config, seed)
        versions.append(Checkpoint(ae, vae, config, TrainConfig(seed=seed), "mnist5k",
                                   tuple("0123456789"), epoch=seed, step=seed))
    save_checkpoint(versions[0], path)
    print("saving", flush=True)
    if slow:
        vae_gui.model.atomic_write.os.fsync = slow_fsync
    i = 1
    while True:
        save_checkpoint(versions[i % 2], path)
        i += 1
""")


# Slow: each case starts two processes that import torch (~6 s). The quick tests of failed
# and interrupted saves above check the same temporary-file-and-rename, in this process.
@pytest.mark.slow
@pytest.mark.parametrize("when", ["mid-write", "random"])
def test_a_save_killed_half_way_leaves_a_loadable_checkpoint(tmp_path, when):
    """SIGKILL a process that saves over the same path again and again, several times."""
    path = tmp_path / "run.safetensors"
    rng = random.Random(0)
    for _ in range(2):
        child = subprocess.Popen(
            [sys.executable, "-c", SAVE_LOOP, str(path), "slow" if when == "mid-write" else ""],
            stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout.readline().strip() == "saving"
            if when == "mid-write":  # the new version is in the temporary file, not renamed
                assert child.stdout.readline().strip() == "in-save"
            else:
                time.sleep(rng.uniform(0.0, 0.3))
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=10)
            child.stdout.close()
        assert child.returncode == -signal.SIGKILL
        loaded = load_checkpoint(path)  # always one whole version, never a mixture
        assert loaded.step in (1, 2) and loaded.train_config.seed == loaded.step
        if when == "mid-write":  # the kill came before the rename: the previous version stays
            assert loaded.step == 1
    leftovers = _leftovers(tmp_path)
    if when == "mid-write":
        # Each kill left its temporary file (proof that it landed in the middle of a save);
        # the second process's first save removed the first one (unlocked, seconds old).
        assert len(leftovers) == 1
    # Such leftovers are hidden, never mistaken for the checkpoint, and a later save works.
    assert all(name.startswith(".run.safetensors.") for name in leftovers)
    save_checkpoint(load_checkpoint(path), path)
    assert load_checkpoint(path).step in (1, 2)
    # A save a while later removes what the last kill left (here: made to look a minute old).
    for name in _leftovers(tmp_path):
        then = time.time() - 60
        os.utime(tmp_path / name, (then, then))
    save_checkpoint(load_checkpoint(path), path)
    assert _leftovers(tmp_path) == []


def test_metadata_is_plain_json_in_the_header(saved_checkpoint):
    header, _ = split_safetensors(saved_checkpoint.read_bytes())
    meta = json.loads(header["__metadata__"]["vae_gui"])
    assert meta["format"] == "vae-gui-checkpoint" and meta["version"] == 1
    assert meta["model"] == {"image_shape": [28, 28], "hidden": [32], "latent_dim": 2,
                             "encoder_dropout": 0.0, "arch": "mlp"}


HOSTILE_CLASS_NAMES = ("=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "seven")


def test_csv_export_neutralises_cells_a_spreadsheet_would_run(tmp_path):
    import csv

    import numpy as np
    from vae_gui.model.export import export_encodings

    n = len(HOSTILE_CLASS_NAMES)
    codes = -np.ones((n, 2), dtype=np.float32)  # negative numbers stay numbers
    path = export_encodings(tmp_path / "codes.csv", codes, codes, codes, np.arange(n),
                            HOSTILE_CLASS_NAMES)
    with path.open(newline="") as f:
        rows = list(csv.reader(f))[1:]
    for row, name in zip(rows, HOSTILE_CLASS_NAMES, strict=True):
        expected = name if name == "seven" else "'" + name
        assert row[2] == expected
        assert row[3] == "-1"


def test_csv_export_names_labels_beyond_the_class_names(tmp_path):
    import csv

    import numpy as np
    from vae_gui.model.export import export_encodings

    codes = np.zeros((3, 2), dtype=np.float32)
    path = export_encodings(tmp_path / "codes.csv", codes, codes, codes, np.array([0, 1, 2]),
                            ("a", "b"))  # a folder that gained a class since training
    with path.open(newline="") as f:
        assert [row[2] for row in list(csv.reader(f))[1:]] == ["a", "b", "class 2"]
