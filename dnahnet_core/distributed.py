"""The one distributed code path, for training and scoring: 1 process, N GPUs or several nodes.

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; without them everything here is a single process
and every collective is the identity. Training: NCCL on CUDA, Gloo on CPU; rank 0 logs and saves
(:class:`DistInfo`, :func:`init_distributed`). Scoring: each rank takes every world_size-th chunk of
items and rank 0 merges the results in input order over Gloo (:class:`Ranks`, :func:`ordered_map`).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from itertools import islice
from typing import Any, Callable, Iterable, Iterator, TypeVar

import torch
import torch.distributed as dist

from .errors import DnaHNetError

T = TypeVar("T")
R = TypeVar("R")


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


# ---- scoring: ordered results across ranks ------------------------------------------------------


@dataclass
class Ranks:
    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_ranks(device: torch.device) -> Ranks:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        # Gloo carries the merged results as Python objects on CPU, whatever device scores.
        dist.init_process_group("gloo")
    return Ranks(rank=int(os.environ.get("RANK", "0")), world_size=world)


def ordered_map(items: Iterable[T], fn: Callable[[list[T]], list[R]], ranks: Ranks, chunk: int = 64) -> Iterator[R]:
    """Apply ``fn`` to chunks of items, split across ranks; yields results in input order on rank 0
    (other ranks yield nothing but must still exhaust the iterator: it drives the gathers).
    Chunks keep memory flat and let output stream out as soon as it is ready."""
    it = iter(items)
    while True:
        buffer = list(islice(it, chunk * ranks.world_size))
        if not buffer:
            return
        if ranks.world_size == 1:
            yield from fn(buffer)
            continue
        results = fn(buffer[ranks.rank :: ranks.world_size])
        gathered: list[Any] | None = [None] * ranks.world_size if ranks.is_main else None
        dist.gather_object(results, gathered, dst=0)
        if gathered is not None:
            for i in range(len(buffer)):
                yield gathered[i % ranks.world_size][i // ranks.world_size]


def drain(results: Iterable[Any], ranks: Ranks) -> None:
    """On a rank other than 0: do this rank's share of the work (iterating drives it), then tear
    down the process group. Rank 0 consumes the merged results itself."""
    try:
        for _ in results:
            pass
    finally:
        finish(ranks)


def finish(ranks: Ranks, ok: bool | None = None) -> None:
    """Tear down the process group; after a failure skip the barrier (other ranks may never reach
    it) so the process exits with its own one-line error instead of hanging. Called from a
    ``finally`` clause, ``ok`` defaults to "no exception is propagating"."""
    if ok is None:
        ok = sys.exc_info()[0] is None
    if ranks.world_size > 1 and dist.is_initialized():
        if ok:
            dist.barrier()
        dist.destroy_process_group()
