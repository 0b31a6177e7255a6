"""Downloading torchvision's IDX datasets ourselves, in chunks, so that the download can be
cancelled between any two chunks (closing the window, stopping training) and reports how
far it got. torchvision's own download runs to the end once started."""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import urllib.request
from collections.abc import Callable
from pathlib import Path

CHUNK_BYTES = 64 * 1024
TIMEOUT_S = 30  # per network operation: a stalled connection fails rather than hangs

Check = Callable[[], None]  # raises to cancel (each caller chooses its exception)
Progress = Callable[[str, int, int], None]  # file name, bytes so far, total (0: unknown)


def unpacked_name(filename: str) -> str:
    return filename.removesuffix(".gz")


def download_raw_files(dataset_cls, raw: Path, check: Check | None = None,
                       on_progress: Progress | None = None) -> None:
    """Fetches each of `dataset_cls.resources` ((file name, md5) pairs) from the first of
    `dataset_cls.mirrors` that serves it, checks its md5, and unpacks it into `raw`, where
    torchvision reads it with download=False. Files already unpacked are kept. Raises
    OSError (with the last mirror's reason) when no mirror serves a file, ValueError on a
    checksum mismatch, and whatever `check` raises; nothing half-written is left behind."""
    raw.mkdir(parents=True, exist_ok=True)
    for filename, md5 in dataset_cls.resources:
        target = raw / unpacked_name(filename)
        if target.is_file():
            continue
        errors: list[Exception] = []
        for mirror in dataset_cls.mirrors:
            try:
                packed = _fetch(mirror + filename, raw, md5, check, on_progress)
            except (OSError, ValueError) as exc:  # URLError and timeouts are OSErrors
                errors.append(exc)
                continue
            try:
                _unpack(packed, target, filename.endswith(".gz"), check)
            finally:
                packed.unlink(missing_ok=True)
            break
        else:
            raise errors[-1] if errors else OSError(f"no mirror lists {filename}")


def _fetch(url: str, folder: Path, md5: str | None, check: Check | None,
           on_progress: Progress | None) -> Path:
    """Downloads `url` into a temporary file in `folder`; returns its path."""
    name = url.rsplit("/", 1)[-1]
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=folder)
    try:
        digest = hashlib.md5(usedforsecurity=False)
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=TIMEOUT_S) as r:
            total, done = int(r.headers.get("Content-Length") or 0), 0
            while True:
                if check is not None:
                    check()
                chunk = r.read(CHUNK_BYTES)
                if not chunk:
                    break
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if on_progress is not None:
                    on_progress(name, done, total)
        if md5 and digest.hexdigest() != md5:
            raise ValueError(f"{name} arrived damaged (its checksum does not match)")
        return Path(tmp)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _unpack(packed: Path, target: Path, gzipped: bool, check: Check | None) -> None:
    """Gunzips `packed` (or copies it, when it is not gzipped) into `target`, atomically."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        opener = gzip.open if gzipped else open
        with os.fdopen(fd, "wb") as out, opener(packed, "rb") as src:
            while chunk := src.read(CHUNK_BYTES * 16):
                if check is not None:
                    check()
                out.write(chunk)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise



