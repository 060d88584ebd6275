"""Hidden states per stage (``dnahnet embed``): vectors for probes, per nucleotide and per chunk.

What each stage's vector is (chosen for probes: the deepest representation at each resolution):

* **Stage 0, one vector per nucleotide** (width ``d_model[0]``): the model's final hidden state,
  the output of the outer decoder (after its final norm) that the LM head reads. The vector of base
  j is the one at j's own token, so it has seen bases <= j (and no later base) and is what the
  model turns into its prediction of base j + 1.
* **Stage K >= 1, one vector per stage-K chunk** (width ``d_model[K]``): the output of the network
  that runs on the stage-K chunks, i.e. what stage K hands back to stage K - 1 *before* dechunking
  (before it is cut to the outer width, smoothed over chunks and spread over positions). For
  K = 1 of a 2-stage model this is the stage-1 decoder output, which already holds what stage 2
  handed back; for the innermost stage it is the innermost network's output. A chunk's vector sits
  at the chunk's first base j and, the model being causal, has seen bases <= j only.

Chunks are those of :mod:`~dnahnet_core.scoring.boundaries` (``dnahnet boundaries``), with their
start coordinates (0-based, in the record's nucleotide coordinates): the stage-K starts written
here are exactly its ``s1_starts`` / ``s2_starts``. The model opens a chunk at BOS; when it puts
nucleotide 0 into that chunk (no chunk starts at 0), the chunk that covers base 0 is the BOS chunk
and its vector is reported at start 0, so every record's first base starts a chunk at every stage,
as in ``boundaries``.

Long records follow the window plan of ``score`` and ``boundaries``
(:func:`~dnahnet_core.scoring.windows.tile`): windows of ``context`` bases every ``stride``, each
run alone (BOS + its bases); every base's stage-0 vector comes from the one window that takes it
(where it has at least ``context - stride`` bases of left context), and every chunk's vector from
the window that takes the chunk's start position. Every base is covered exactly once.

The vectors are captured with forward hooks on the model's stage modules (the model itself is left
untouched); see :func:`capture_hidden`.

The recipe of ``dnahnet embed`` is :func:`embed_sequences` (a FASTA file and a scoring session in,
every window's taken part out, in input order; :meth:`EmbedRun.records` groups them per record);
:func:`iter_embeddings` and :func:`embed_record` do the same for records already in memory. The
HDF5 layout is written by :mod:`dnahnet_cli.writers.embeddings`.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
import torch

from ..data.fasta import FastaRecord, read_fasta
from ..diagnostics import chunking_stages
from ..errors import DnaHNetError
from ..model.dnahnet import DnaHNet
from .boundaries import WindowItem, window_items
from .engine import LikelihoodEngine
from ..distributed import Ranks, ordered_map
from .session import RecipeRun, ScoringSession

#: One line per stage kind, for help texts and HDF5 provenance.
STAGE0_DESCRIPTION = ("final hidden state per nucleotide: the outer decoder output that the LM head reads; "
                      "the vector of base j has seen bases <= j")
CHUNK_DESCRIPTION = ("per chunk: the output of the network run on this stage's chunks, what the stage hands back "
                     "before dechunking (full inner width); at the chunk's first base j, it has seen bases <= j")
RULE = ("records longer than context are cut into windows of context bases every stride bases (the plan of "
        "dnahnet score); each base's stage-0 vector comes from the one window that takes it (>= context-stride "
        "bases of left context), each chunk's vector from the window that takes the chunk's start; base 0 of a "
        "record starts a chunk at every stage")


def stage_description(stage: int) -> str:
    return STAGE0_DESCRIPTION if stage == 0 else f"stage-{stage} " + CHUNK_DESCRIPTION


def available_stages(model: DnaHNet) -> list[int]:
    """Stages that can be embedded: 0 (nucleotides) and each chunking stage, outer first."""
    return list(range(int(model.config.n_stages) + 1))


def check_stages(model: DnaHNet, stages: Iterable[int]) -> tuple[int, ...]:
    """Sorted, de-duplicated stages; an error naming the model's stages if one does not exist."""
    stages = tuple(sorted(set(int(s) for s in stages)))
    have = available_stages(model)
    bad = [s for s in stages if s not in have]
    if not stages or bad:
        raise DnaHNetError(f"stage {', '.join(map(str, bad)) or '(none)'}: this model has stages "
                           f"{','.join(map(str, have))} (0 = nucleotides, then its {len(have) - 1} chunking stage(s))")
    return stages


def stage_widths(model: DnaHNet, stages: Iterable[int]) -> dict[int, int]:
    return {s: int(model.config.d_model[s]) for s in stages}


# ---- capturing the hidden states -----------------------------------------------------------------


def stage_module(model: DnaHNet, stage: int) -> torch.nn.Module:
    """The module whose output is stage ``stage``'s hidden state: the backbone for stage 0, else the
    network that chunking stage ``stage`` runs on its chunks (an ``HNetStage``; output .hidden)."""
    return model.backbone if stage == 0 else chunking_stages(model)[stage - 1].main


@contextlib.contextmanager
def capture_hidden(model: DnaHNet, stages: Iterable[int]) -> Iterator[dict[int, torch.Tensor]]:
    """Inside the block, every forward pass of ``model`` leaves the hidden state of each stage in
    the yielded dict: stage 0 (B, L, D_0) per token, stage K (B, L_K, D_K) per stage-K chunk (right
    padded; row r holds its real chunks first, in order). Forward hooks only; removed on exit."""
    captured: dict[int, torch.Tensor] = {}
    handles = []

    def hook_for(stage: int):
        def hook(module: torch.nn.Module, args: Any, output: Any) -> None:
            captured[stage] = output.hidden

        return hook

    try:
        for s in stages:
            handles.append(stage_module(model, s).register_forward_hook(hook_for(s)))
        yield captured
    finally:
        for h in handles:
            h.remove()


# ---- one window -> its taken part ----------------------------------------------------------------


@dataclass
class WindowEmbedding:
    """What one window contributes to its record: the vectors of its taken region only."""

    record: int  # index of the record in the input
    name: str
    length: int  # record length
    index: int  # window index within the record
    n_windows: int
    score_from: int  # record positions [score_from, end) are taken from this window
    end: int
    vectors: dict[int, np.ndarray]  # stage -> float32: stage 0 (end - score_from, D_0); stage K (n, D_K)
    starts: dict[int, np.ndarray]  # stage K >= 1 -> int64 record positions of those chunks' first bases


def _taken(item: WindowItem, row: int, n: int, hidden: dict[int, np.ndarray], masks: list[np.ndarray],
           real: list[np.ndarray], stages: Sequence[int]) -> WindowEmbedding:
    t = item.tile
    vectors: dict[int, np.ndarray] = {}
    starts: dict[int, np.ndarray] = {}
    if 0 in stages:  # token j + 1 is nucleotide j of the window
        vectors[0] = hidden[0][row, 1 + t.offset : 1 + n]
    pos = np.arange(-1, n)  # window nucleotide index of every stage-1 position (-1 = BOS)
    for k in range(1, max(stages) + 1):
        pos = pos[masks[k - 1][row][real[k - 1][row]]]  # positions of the stage-k chunks, in order
        if k not in stages:
            continue
        rec = pos + t.start
        if t.score_from == 0 and not (len(rec) > 1 and rec[1] == 0):
            rec = rec.copy()
            rec[0] = 0  # base 0 is in the chunk the model opened at BOS: report that chunk at 0
        keep = rec >= t.score_from
        vectors[k] = hidden[k][row, : len(pos)][keep]
        starts[k] = rec[keep].astype(np.int64)
    return WindowEmbedding(record=item.record, name=item.name, length=item.length, index=item.index,
                           n_windows=item.n_windows, score_from=t.score_from, end=t.end, vectors=vectors, starts=starts)


def embed_windows(items: Sequence[WindowItem], engine: LikelihoodEngine, stages: Sequence[int]) -> list[WindowEmbedding]:
    """Run the model on a list of windows (batched as the engine batches) and keep each one's taken part."""
    if not items:
        return []
    results: list[WindowEmbedding | None] = [None] * len(items)
    windows = [it.ids for it in items]
    with capture_hidden(engine.model, stages) as captured:
        for idx in engine.batches([len(w) for w in windows]):
            fb = engine.forward_batch(windows, idx)
            lengths, out = fb.lengths, fb.out
            hidden = {s: captured[s].float().cpu().numpy() for s in stages}
            masks = [r.boundary_mask.cpu().numpy() for r in out.routing]
            real = [r.mask.cpu().numpy() for r in out.routing]
            for row, i in enumerate(idx):
                results[i] = _taken(items[i], row, int(lengths[row]) - 1, hidden, masks, real, stages)
    return results  # type: ignore[return-value]


def iter_window_embeddings(records: Iterable[FastaRecord], engine: LikelihoodEngine, stages: Iterable[int] = (0, 1, 2),
                           context: int = 8192, stride: int | None = None, ranks: Ranks | None = None,
                           chunk: int = 16) -> Iterator[WindowEmbedding]:
    """The taken part of every window of every record, in input order (windows in order).

    Memory stays at a few windows whatever the record length. Work is shared per window under
    torchrun as in :func:`~dnahnet_core.scoring.boundaries.iter_boundaries` (only rank 0 yields).
    """
    stride = stride or max(1, context // 2)
    if not 0 < stride <= context:
        raise ValueError(f"need 0 < stride <= context, got stride {stride}, context {context}")
    stages = check_stages(engine.model, stages)
    yield from ordered_map(window_items(records, context, stride), lambda items: embed_windows(items, engine, stages),
                           ranks or Ranks(), chunk=chunk)


# ---- windows -> records --------------------------------------------------------------------------


@dataclass
class RecordEmbedding:
    """The embedding of one record. ``vectors``/``starts`` are empty when only means were kept."""

    name: str
    length: int
    n_windows: int
    mean: dict[int, np.ndarray]  # stage -> float32 (D,): mean over bases (stage 0) or over chunks
    count: dict[int, int]  # stage -> bases (stage 0) or chunks averaged
    vectors: dict[int, np.ndarray] = field(default_factory=dict)  # stage -> float32 (n, D)
    starts: dict[int, np.ndarray] = field(default_factory=dict)  # stage K >= 1 -> int64 (n,)


class RecordAccumulator:
    """Gathers one record's windows: running sums for the means, and (unless ``mean_only``) the pieces."""

    def __init__(self, first: WindowEmbedding, mean_only: bool = False) -> None:
        self.first = first
        self.mean_only = mean_only
        self.sums: dict[int, np.ndarray] = {}
        self.count: dict[int, int] = {s: 0 for s in first.vectors}
        self.pieces: dict[int, list[np.ndarray]] = {s: [] for s in first.vectors}
        self.start_pieces: dict[int, list[np.ndarray]] = {s: [] for s in first.starts}
        self.next_index = 0
        self.covered = 0

    def add(self, w: WindowEmbedding) -> None:
        if w.index != self.next_index or w.record != self.first.record:
            raise RuntimeError(f"record {self.first.name!r}: windows missing or out of order")
        if w.score_from != self.covered:
            raise RuntimeError(f"record {self.first.name!r}: taken regions do not tile the record")
        self.next_index += 1
        self.covered = w.end
        for s, v in w.vectors.items():
            total = v.astype(np.float64).sum(0)
            self.sums[s] = self.sums[s] + total if s in self.sums else total
            self.count[s] += len(v)
            if not self.mean_only:
                self.pieces[s].append(v)
        if not self.mean_only:
            for s, st in w.starts.items():
                self.start_pieces[s].append(st)

    @property
    def complete(self) -> bool:
        return self.next_index == self.first.n_windows

    def means(self) -> dict[int, np.ndarray]:
        return {s: (self.sums[s] / max(self.count[s], 1)).astype(np.float32) for s in self.sums}

    def result(self) -> RecordEmbedding:
        if not self.complete or self.covered != self.first.length:
            raise RuntimeError(f"record {self.first.name!r}: windows cover {self.covered} of {self.first.length} bases")
        f = self.first
        rec = RecordEmbedding(name=f.name, length=f.length, n_windows=f.n_windows, mean=self.means(), count=dict(self.count))
        if not self.mean_only:
            rec.vectors = {s: np.concatenate(p) for s, p in self.pieces.items()}
            rec.starts = {s: np.concatenate(p) for s, p in self.start_pieces.items()}
        return rec


def group_windows(windows: Iterable[WindowEmbedding], mean_only: bool = False) -> Iterator[RecordEmbedding]:
    acc: RecordAccumulator | None = None
    for w in windows:
        if w.index == 0:
            acc = RecordAccumulator(w, mean_only)
        assert acc is not None
        acc.add(w)
        if acc.complete:
            yield acc.result()
            acc = None


def iter_embeddings(records: Iterable[FastaRecord], engine: LikelihoodEngine, stages: Iterable[int] = (0, 1, 2),
                    context: int = 8192, stride: int | None = None, mean_only: bool = False,
                    ranks: Ranks | None = None, chunk: int = 16) -> Iterator[RecordEmbedding]:
    """The embedding of every record, in input order, one record at a time.

    A full record embedding is held in memory (length x D_0 floats for stage 0); with ``mean_only``
    only running sums are, so whole genomes cost a few windows of memory. For long records written
    to a file use :func:`embed_sequences` and the HDF5 writer
    (:func:`dnahnet_cli.writers.embeddings.write_embeddings_h5`), which streams windows.
    """
    yield from group_windows(iter_window_embeddings(records, engine, stages, context, stride, ranks, chunk), mean_only)


def embed_record(record: FastaRecord, engine: LikelihoodEngine, stages: Iterable[int] = (0, 1, 2), context: int = 8192,
                 stride: int | None = None, mean_only: bool = False) -> RecordEmbedding:
    """The embedding of one record in this process."""
    return next(iter_embeddings([record], engine, stages, context, stride, mean_only))


# ---- the recipe ----------------------------------------------------------------------------------

#: What the stageK_start coordinates are (the ``coordinates`` of the output provenance).
COORDINATES = "0-based; stageK_start = first base of each chunk"


@dataclass
class EmbedRun(RecipeRun[WindowEmbedding]):
    """What :func:`embed_sequences` returns. ``results`` holds the taken part of every window of
    every record, in input order (windows in order; rank 0 only), so that a writer can stream whole
    genomes; :meth:`records` groups them into one :class:`RecordEmbedding` per record."""

    fasta: Path  # the input
    stages: tuple[int, ...]  # sorted: 0 = per nucleotide, K >= 1 = per stage-K chunk
    widths: dict[int, int]  # stage -> vector width D_K
    mean_only: bool  # only each record's mean vector per stage is kept (by records() and the writer)

    def records(self) -> Iterator[RecordEmbedding]:
        """``results`` grouped per record, in input order (full vectors unless ``mean_only``)."""
        return group_windows(self.results, self.mean_only)


def embed_sequences(session: ScoringSession, fasta: str | os.PathLike[str], stages: Iterable[int] | None = None,
                    context: int = 8192, stride: int | None = None, mean_only: bool = False, skip: int = 0) -> EmbedRun:
    """Hidden states of every record of ``fasta`` (plain, gzip or bgzip) at ``stages`` (None =
    every stage of the model: 0 and each chunking stage).

    Records longer than ``context`` are cut into windows of ``context`` bases every ``stride``
    (default context/2) under the long-record rule of this module. ``skip``: records already
    finished (read, neither computed nor yielded; window results keep their input record index).
    The stages and options are checked now (a stage the model lacks raises here); the FASTA is read
    while ``results`` is iterated. Windows are shared across the session's ranks,
    ``max(16, 2 * batch_size)`` per rank and round; results arrive on rank 0 only (see
    :func:`.session.drive`).
    """
    stride = stride or max(1, context // 2)
    if not 0 < stride <= context:
        raise ValueError(f"need 0 < stride <= context, got stride {stride}, context {context}")
    if skip < 0:
        raise ValueError(f"skip must be >= 0, got {skip}")
    model = session.loaded.model
    chosen = check_stages(model, stages if stages is not None else available_stages(model))
    widths = stage_widths(model, chosen)
    path = Path(fasta)
    chunk = max(16, 2 * session.batch_size)

    def results() -> Iterator[WindowEmbedding]:
        records = islice(read_fasta(path), skip, None)
        yield from session.map(window_items(records, context, stride, first=skip),
                               lambda items: embed_windows(items, session.engine, chosen), chunk=chunk)

    parameters: dict[str, object] = {
        "input": str(fasta), "context": context, "stride": stride, "stages": ",".join(map(str, chosen)),
        "mode": "mean" if mean_only else "full", "coordinates": COORDINATES,
        **{f"stage{s}_width": widths[s] for s in chosen},
        **{f"stage{s}_vectors": stage_description(s) for s in chosen},
        "long_record_rule": RULE,
    }
    return EmbedRun(parameters=parameters, results=results(), fasta=path, stages=chosen, widths=widths, mean_only=mean_only)
