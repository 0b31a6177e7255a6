"""Training batches read from disk: the images of a folder too large to hold in memory.

A streamed folder's DatasetBundle lists every file in its FolderStream (vae_gui.model.data).
`StreamBatches` reads the Trainer's batches through a torch DataLoader whose worker processes
decode the files (`FileImages`), each batch the rows `batch_rows` picks from the epoch's
seeded permutation: the rows the in-memory path slices from its tensor, so that both paths
train on the same batches, image for image and pixel for pixel (the workers return uint8,
converted to float32 here exactly as data._to_float32 converts a folder held in memory).

The workers are started with forkserver (spawn where there is none): the Trainer runs in a
QThread of the GUI, and forking a threaded process can copy a lock some other thread holds.
The fork server imports this module (and so torch) once, so later workers start in
milliseconds instead of importing torch again. As with spawn, each worker imports the main
script again (not a package's __main__): a script that trains on a streamed folder keeps its
work under `if __name__ == "__main__":`, as the `vae-gui` command, the benchmarks and pytest
do. Torch has no public way to stop a DataLoader's persistent workers; `StreamBatches.close`
does what the iterator's __del__ does, at a moment we choose, so that a stopped run leaves no
process behind.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from vae_gui.model.data import FolderStream, grey_pixels, read_image
from vae_gui.model.distributed import DistributedContext, share
from vae_gui.model.errors import DatasetError

# Worker processes that read a streamed folder: one per core, at most this many, or the
# variable's whole number (0 reads in the training thread itself). benchmarks/bench_stream.py
# on 2 idle cores: two workers were the fastest of 0, 1 and 2 (0.68x of the in-memory path
# for 28x28 PNGs, against 0.42x in the training thread), and no slower on a busy machine
# (docs/benchmarks.md, "Streaming a folder from disk against holding it in memory").
STREAM_WORKERS_VARIABLE = "VAE_GUI_STREAM_WORKERS"
MAX_STREAM_WORKERS = 4
# Batches each worker reads ahead of the training step (DataLoader's prefetch_factor).
PREFETCH_BATCHES = 2
STREAM_TIMEOUT = 300.0  # seconds a batch may take to arrive from the workers


def stream_workers() -> int:
    """The worker processes a streamed run uses: STREAM_WORKERS_VARIABLE, or one per core up
    to MAX_STREAM_WORKERS."""
    text = os.environ.get(STREAM_WORKERS_VARIABLE, "").strip()
    if not text:
        return min(MAX_STREAM_WORKERS, os.cpu_count() or 1)
    try:
        workers = int(text)
    except ValueError:
        workers = -1
    if not 0 <= workers <= 64:
        raise DatasetError(f"{STREAM_WORKERS_VARIABLE} is {text!r}, but it must be a whole "
                           "number of worker processes from 0 to 64 (0 reads the images in the "
                           "training thread); fix it or unset it.")
    return workers


def describe_path(workers: int) -> str:
    """How a streamed run reads its images, in words."""
    if workers == 0:
        return "streamed from disk in the training thread (no worker processes)"
    return f"streamed from disk by {workers} worker process{'' if workers == 1 else 'es'}"


def images_in_flight(batch_size: int, workers: int) -> int:
    """Images a streamed run holds at once besides the held subsets: the batches read ahead
    and the one being trained on (as uint8 and as float32, counted as two)."""
    return (PREFETCH_BATCHES * max(workers, 1) + 2) * batch_size


def batch_rows(order: torch.Tensor, pos: int, batch_size: int,
               distributed: DistributedContext | None) -> tuple[torch.Tensor, int]:
    """The rows of the batch at `pos` of an epoch's `order` that this process trains on,
    and the batch's size. In a distributed run a last batch smaller than the processes is
    topped up from the epoch's start, so that every process has a share (each must step, or
    the others would wait)."""
    idx = order[pos:pos + batch_size]
    size = len(idx)
    if distributed is not None and size < distributed.world_size:
        idx = torch.cat([idx, order[:distributed.world_size - size]])
    return share(idx, distributed), size


class FileImages(Dataset):
    """One image per file, as uint8 (H, W) or (H, W, 3), and '' or the sentence saying why it
    could not be read (a worker's exception would reach the Trainer wrapped in a traceback)."""

    def __init__(self, files: tuple[str, ...], image_size: int, channels: int) -> None:
        self.files = files
        self.image_size = image_size
        self.channels = channels

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[np.ndarray, str]:
        file = Path(self.files[index])
        try:
            rgb = read_image(file, self.image_size)
            problem = ""
        except DatasetError as exc:
            rgb, problem = None, str(exc)
        except Exception as exc:  # noqa: BLE001 - memory, say: still the file's problem to name
            rgb, problem = None, f"Could not read image {file} ({exc}); remove or replace it."
        if rgb is None:
            rgb = np.zeros((self.image_size, self.image_size, 3), np.uint8)
        return (grey_pixels(rgb) if self.channels == 1 else rgb), problem


def collate_images(items: list[tuple[np.ndarray, str]]) -> tuple[torch.Tensor, list[str]]:
    """A batch as one uint8 tensor (shared with the Trainer's process without a copy through
    the pipe) and the problems of the files that could not be read."""
    images = torch.from_numpy(np.stack([image for image, _ in items]))
    return images, [problem for _, problem in items if problem]


class EpochBatches:
    """A batch sampler: the rows of each batch of one epoch's order, from a position on."""

    def __init__(self, batch_size: int, distributed: DistributedContext | None) -> None:
        self.batch_size = batch_size
        self.distributed = distributed
        self.order = torch.empty(0, dtype=torch.long)
        self.start = 0

    def __iter__(self):
        for pos in range(self.start, len(self.order), self.batch_size):
            yield batch_rows(self.order, pos, self.batch_size, self.distributed)[0].tolist()

    def __len__(self) -> int:
        return math.ceil(max(len(self.order) - self.start, 0) / self.batch_size)


def _worker_context() -> multiprocessing.context.BaseContext:
    """forkserver, which preloads this module, or spawn where there is no forkserver."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        # Only before the server starts does this take effect: once per process is enough.
        context.set_forkserver_preload([__name__])
        return context
    return multiprocessing.get_context("spawn")


def _start_server(context: multiprocessing.context.BaseContext) -> None:
    """Starts the fork server now, if there is one, so that its import of torch (about 2 s)
    overlaps the Trainer's first snapshot instead of delaying its first step."""
    if context.get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


class StreamBatches:
    """The training batches of a streamed folder, read ahead by `workers` processes (0: in
    the calling thread). `batch(order, pos)` gives the flattened float32 images of the batch
    at `pos` of the epoch's `order`; `close()` ends the workers (the next batch starts them
    again)."""

    def __init__(self, stream: FolderStream, batch_size: int, workers: int,
                 distributed: DistributedContext | None, device: torch.device) -> None:
        self.stream = stream
        self.batch_size = batch_size
        self.workers = workers
        self.device = device
        self._dataset = FileImages(stream.train_files, stream.image_size, stream.channels)
        self._sampler = EpochBatches(batch_size, distributed)
        self._loader: DataLoader | None = None
        self._batches = None  # the loader's iterator over the current epoch
        self._order: torch.Tensor | None = None
        self._next_pos = -1
        self.started_pids: tuple[int, ...] = ()  # the workers started last (for tests)
        self._context = _worker_context() if workers else None
        if self._context is not None:
            _start_server(self._context)

    def _start(self, order: torch.Tensor, pos: int) -> None:
        self._sampler.order, self._sampler.start = order, pos
        if self._loader is None:
            workers = self.workers
            self._loader = DataLoader(
                self._dataset, batch_sampler=self._sampler, num_workers=workers,
                collate_fn=collate_images, persistent_workers=workers > 0,
                prefetch_factor=PREFETCH_BATCHES if workers else None,
                multiprocessing_context=self._context,
                # A batch that takes minutes is a stalled disk or network share: said, rather
                # than a window that cannot close because its training thread waits forever.
                timeout=STREAM_TIMEOUT if workers else 0,
                # Its own generator: the loader draws a seed for its workers, which from
                # torch's global generator would change other draws of the process.
                generator=torch.Generator())
        # A persistent loader's iter() resets its iterator: the workers stay, the prefetched
        # batches of an unfinished epoch are dropped, and reading starts at `pos`.
        self._batches = iter(self._loader)
        self._order = order
        workers = getattr(self._batches, "_workers", ())
        self.started_pids = tuple(w.pid for w in workers if w.pid is not None)

    def batch(self, order: torch.Tensor, pos: int) -> torch.Tensor:
        """The batch at `pos` of `order` (a CPU tensor, one epoch's permutation), as the
        in-memory path's train_x[batch_rows(...)] would hold it; DatasetError naming the file
        when one cannot be read."""
        if self._batches is None or order is not self._order or pos != self._next_pos:
            self._start(order, pos)  # a new epoch, or a batch retried after a divergence
        try:
            images, problems = next(self._batches)
        except StopIteration:  # not reached: the trainer asks for each batch once
            raise RuntimeError(f"no batch at {pos} of an epoch of {len(order)}") from None
        except RuntimeError as exc:  # a worker killed (out of memory, a signal), a timeout
            self.close()
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise DatasetError(
                f"Reading the images of {self.stream.root} from disk failed: {reason}. Train "
                "again; if it happens again, free some memory or set "
                "VAE_GUI_STREAM_WORKERS=0 to read them in the training thread.") from exc
        if problems:
            self._next_pos = -1
            raise DatasetError(problems[0])
        self._next_pos = pos + self.batch_size
        # Converted here, on the CPU, as the in-memory path converts before its tensor goes to
        # the device (a GPU divides by a constant as a multiplication, a bit apart).
        x = images.numpy().reshape(len(images), -1).astype(np.float32)
        x /= 255  # in place, float32: exactly what data._to_float32 does
        return torch.from_numpy(x).to(self.device)

    @property
    def running(self) -> bool:
        """Whether worker processes may be running (started and not closed)."""
        return self._loader is not None and self.workers > 0

    def close(self) -> None:
        """Ends the worker processes now and waits for them (at most a few seconds)."""
        batches, self._batches = self._batches, None
        loader, self._loader = self._loader, None
        self._order, self._next_pos = None, -1
        shutdown = getattr(batches, "_shutdown_workers", None)
        if shutdown is not None:
            shutdown()
        if loader is not None:
            loader._iterator = None  # the persistent iterator, whose workers just ended
