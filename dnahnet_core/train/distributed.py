"""Process-group setup for torchrun: one code path for 1 process, N GPUs or several nodes.

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; without them this is a single process. Gloo on CPU,
NCCL on CUDA. Rank 0 logs and saves.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from typing import Callable, TypeVar

import torch
import torch.distributed as dist

from ..errors import DnaHNetError

T = TypeVar("T")


@dataclass
class DistInfo:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "auto":
        return torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    if name == "cuda":
        return torch.device(f"cuda:{local_rank}")
    return torch.device(name)


def init_distributed(device: str) -> DistInfo:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device, local)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo", rank=rank, world_size=world)
    return DistInfo(rank=rank, world_size=world, local_rank=local, device=dev)


def all_reduce_sum(values: list[float], info: DistInfo) -> list[float]:
    """Sum a few scalars over ranks (identity for one process)."""
    if not info.distributed:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=info.device)
    dist.all_reduce(t)
    return t.tolist()


def on_main(fn: Callable[[], T], info: DistInfo, what: str) -> T | None:
    """Run ``fn`` on rank 0 only, then tell every rank whether it worked, so that a failure there
    stops all ranks with an error instead of leaving them waiting in the next collective."""
    error: BaseException | None = None
    result = None
    if info.is_main:
        try:
            result = fn()
        except Exception as err:  # re-raised below, after the other ranks have been told
            error = err
    failed = all_reduce_sum([1.0 if error is not None else 0.0], info)[0] > 0
    if error is not None:
        raise error
    if failed:
        raise DnaHNetError(f"rank 0 failed while {what}; see its error message")
    return result


def barrier(info: DistInfo) -> None:
    if info.distributed:
        dist.barrier()


def cleanup(info: DistInfo) -> None:
    if info.distributed and dist.is_initialized():
        dist.destroy_process_group()
