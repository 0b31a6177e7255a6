"""Training across processes with torch.distributed: what a process started by `torchrun` is,
and the pieces the Trainer needs (its share of each batch, averaged losses).

    torchrun --nproc-per-node 2 -m vae_gui train --out runs/ddp        # 2 processes, 1 machine
    torchrun --nnodes 2 --node-rank 0 --nproc-per-node 4 \\
             --master-addr HOST0 --master-port 29500 -m vae_gui train ...  # on each machine

Every process holds both models whole and the whole dataset; the batches are the same in
every process (one shuffle from the seed), and each process trains on its interleaved share
of each batch, `batch[rank::world_size]`. DistributedDataParallel averages the gradients, so
a step is the step one process would take on the whole batch (exactly, when the batch
divides evenly; the VAE's noise differs, so runs agree closely, not bit for bit). Process 0
writes the checkpoints, metrics.json and the progress bar.

Light: torch.distributed is imported only when a process group is made.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class DistributedContext:
    """This process's place in a distributed run."""

    rank: int
    world_size: int
    local_rank: int

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def backend(self, device_type: str) -> str:
        """NCCL between GPUs, gloo between CPUs."""
        return "nccl" if device_type == "cuda" else "gloo"


def context_from_environment(env: Mapping[str, str] | None = None
                             ) -> DistributedContext | None:
    """The context torchrun describes in RANK, WORLD_SIZE and LOCAL_RANK, or None for a
    single process (no WORLD_SIZE, or 1). ValueError for values that make no sense."""
    env = os.environ if env is None else env
    if "WORLD_SIZE" not in env:
        return None
    try:
        world, rank = int(env["WORLD_SIZE"]), int(env.get("RANK", "0"))
        local = int(env.get("LOCAL_RANK", str(rank)))
    except ValueError:
        raise ValueError("WORLD_SIZE, RANK and LOCAL_RANK must be whole numbers (torchrun "
                         "sets them)") from None
    if world < 1 or not 0 <= rank < world or local < 0:
        raise ValueError(f"RANK {rank} and WORLD_SIZE {world} do not describe a process of "
                         "a distributed run")
    return None if world == 1 else DistributedContext(rank, world, local)


def start(context: DistributedContext, device_type: str) -> None:
    """Joins the process group (torchrun's rendezvous: MASTER_ADDR and MASTER_PORT); on
    CUDA, makes this process's own GPU (LOCAL_RANK) the one "cuda" means."""
    import torch
    import torch.distributed as dist

    if device_type == "cuda":
        torch.cuda.set_device(context.local_rank % torch.cuda.device_count())
    if not dist.is_initialized():
        dist.init_process_group(context.backend(device_type), rank=context.rank,
                                world_size=context.world_size)


def stop() -> None:
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


def share(indices, context: DistributedContext | None):
    """This process's share of a batch: every world_size-th index from its rank."""
    return indices if context is None else indices[context.rank::context.world_size]


def average(values, context: DistributedContext | None):
    """The mean of a tensor over the processes (itself for a single process)."""
    if context is None:
        return values
    import torch.distributed as dist

    values = values.clone()
    dist.all_reduce(values)
    return values / context.world_size
