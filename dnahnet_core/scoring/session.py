"""One scoring session: the model, its device, the batching engine and the ranks every recipe runs on.

Every scoring recipe (``score_sequences``, ``score_variants``, ``knock_out_genes``,
``chunk_boundaries``, ``embed_sequences``, ``score_library``) takes its inputs and one session and
returns a :class:`RecipeRun`: the parameters it used (for provenance) and its results as
dataclasses, in input order. Under torchrun each rank opens the same session; the recipes split
their work across ranks and only rank 0 receives results (the others yield nothing, but must still
iterate: iterating drives their share of the work)::

    with ScoringSession.open(device="cpu") as session:          # the embedded model
        run = score_variants(session, "variants.vcf", reference="genome.fa")
        for record in run.results:
            ...
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Generic, Iterable, Iterator, TypeVar

import torch

from ..distributed import Ranks, finish, init_ranks, ordered_map
from .engine import LikelihoodEngine, resolve_device
from .model_io import LoadedModel, open_model

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class RecipeRun(Generic[R]):
    """What a recipe returns. ``results`` is lazy: the work happens while it is iterated."""

    parameters: dict[str, object]  # every setting the recipe used, in the words of its output headers
    results: Iterator[R]  # input order; on ranks other than 0, empty once iterated


@dataclass
class ScoringSession:
    loaded: LoadedModel
    device: torch.device
    engine: LikelihoodEngine
    ranks: Ranks = field(default_factory=Ranks)

    @classmethod
    def open(cls, model: str | Path | None = None, device: str = "auto", batch_size: int = 8,
             max_tokens: int | None = None) -> "ScoringSession":
        """Load ``model`` (None: the embedded default) on ``device`` (auto, cpu, cuda; under
        torchrun CUDA means this rank's GPU) and join the ranks when torchrun started several."""
        dev = resolve_device(device)
        loaded = open_model(model, device=str(dev))
        engine = LikelihoodEngine(loaded.model, dev, batch_size=batch_size, max_tokens=max_tokens)
        return cls(loaded=loaded, device=dev, engine=engine, ranks=init_ranks(dev))

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that receives results and writes outputs."""
        return self.ranks.is_main

    @property
    def batch_size(self) -> int:
        return self.engine.batch_size

    def provenance(self) -> dict[str, str]:
        """Version, model name, path and checksum: the first lines of every output's provenance."""
        return self.loaded.provenance()

    def map(self, items: Iterable[T], fn: Callable[[list[T]], list[R]], chunk: int) -> Iterator[R]:
        """``fn`` over chunks of ``items``, split across ranks; results in input order on rank 0.
        ``chunk`` is also the unit of resumable commits: a resumed run starts on a chunk boundary,
        so it batches its windows exactly as an uninterrupted run and its floats are the same."""
        return ordered_map(items, fn, self.ranks, chunk=chunk)

    def close(self, ok: bool | None = None) -> None:
        """Leave the ranks (a barrier first, unless a failure is propagating)."""
        finish(self.ranks, ok)

    def __enter__(self) -> "ScoringSession":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(ok=exc_type is None)


def drive(run: RecipeRun) -> None:
    """On a rank other than 0: do this rank's share of ``run`` (its results are sent to rank 0)."""
    for _ in run.results:
        pass
