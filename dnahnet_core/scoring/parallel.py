"""Scoring under torchrun: each rank takes every world_size-th item; rank 0 merges in input order.

Without torchrun (WORLD_SIZE unset) this is the identity: one process scores everything.
"""

from __future__ import annotations

import os
import sys
from itertools import islice
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")
R = TypeVar("R")


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
