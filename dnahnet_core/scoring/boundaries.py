"""Learned chunk boundaries (design §2, Boundaries): where dnaHNet cuts a genome, per stage.

Stage 1 decides, for every nucleotide i, whether i starts a stage-1 chunk (p1_i, b1_i = p1_i > 0.5).
Stage 2 runs on the stage-1 chunks and decides, for every stage-1 chunk, whether it starts a stage-2
chunk; a stage-2 decision is mapped to the nucleotide where its stage-1 chunk starts, so every
stage-2 chunk start is a stage-1 chunk start. A chunk is [its start, next start of the same stage),
0-based half-open; the chunks of each stage tile each record exactly.

The first nucleotide of every record always starts a chunk at both stages, with p = 1 (as p_1 = 1
inside the model): the model itself sees a BOS token first and may put nucleotide 0 into the BOS
chunk, which is not a nucleotide.

Long-record rule. A record longer than ``context`` is cut into overlapping windows with
:func:`~dnahnet_core.scoring.windows.tile` (``context`` bases every ``stride``); each window is run
alone (BOS + its bases) and every nucleotide is *taken* from exactly one window, the one whose taken
region ``[score_from, end)`` contains it, where it has at least ``context - stride`` bases of left
context (all there are near the record start).

* Stage 1: the decision and probability of nucleotide i are those of the window that takes i.
  The merged stage-1 track is the concatenation of the windows' taken regions (plus the forced
  start at 0).
* Stage 2: the stage-2 decision about the stage-1 chunk that starts at nucleotide j (j a start in
  the merged stage-1 track) is taken from the same window that supplies j's stage-1 decision, i.e.
  the window whose taken region contains j. Inside a taken region the window's own stage-1 starts
  are exactly the merged ones (they were copied from it), so that window always has a stage-2
  entry for every merged stage-1 start it takes; only those entries are used.
* Left edge of a taken region: in its left context ``[start, score_from)`` a window may decide
  stage 1 differently from the window that took those positions (less context). Such differences
  never reach the output: those positions' stage-1 decisions, and the stage-2 decisions about the
  stage-1 chunks starting there, come from the earlier window. They only shape the stage-2 context
  the later window sees, exactly as its shorter left context does. A merged stage-1 chunk may
  straddle ``score_from``; its stage-2 decision belongs to the window that took its start.
  Because stage-2 decisions are only ever looked up at merged stage-1 starts, the output is always
  consistent: every stage-2 start is a stage-1 start, and position 0 starts both.

With ``stride == context`` windows do not overlap and each window's first base is decided against
BOS alone (no left context), as asked for.

Only the first two chunking stages are reported; a model with a single stage has no stage-2 track
(``s2_prob``/``s2_mask`` are None).

The recipe of ``dnahnet boundaries`` is :func:`chunk_boundaries` (a FASTA file and a scoring
session in, one :class:`RecordBoundaries` per record out, in input order); :func:`iter_boundaries`
and :func:`record_boundaries` do the same for records already in memory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from ..data.fasta import FastaRecord, fasta_sizes, read_fasta
from ..errors import DnaHNetError
from .engine import LikelihoodEngine, WindowRouting
from ..distributed import Ranks, ordered_map
from .session import RecipeRun, ScoringSession
from .windows import Tile, tile

#: Score of a chunk in BED: round(1000 * p) of its start decision (round half to even, as Python).
SCORE_SCALE = 1000

#: The long-record rule in one paragraph (the ``long_record_rule`` of the output provenance).
RULE = (
    "records longer than --context are cut into windows of --context bases every --stride bases; "
    "each nucleotide's stage-1 decision comes from the one window that takes it (>= context-stride "
    "bases of left context); the stage-2 decision about the stage-1 chunk starting at j comes from "
    "the window that supplies j's stage-1 decision; position 0 of every record starts a chunk at both "
    "stages (p=1)"
)


def boundary_score(prob: np.ndarray) -> np.ndarray:
    """BED score of boundary probabilities: round(1000·p) as int64, clipped to [0, 1000]."""
    p = np.asarray(prob, dtype=np.float64)
    return np.clip(np.rint(SCORE_SCALE * p), 0, SCORE_SCALE).astype(np.int64)


@dataclass
class ChunkTrack:
    """The chunks of one stage of one record: [starts[k], ends[k]) with the start decision's p."""

    stage: int
    starts: np.ndarray  # int64, sorted, starts[0] == 0
    ends: np.ndarray  # int64, ends[k] == starts[k + 1], ends[-1] == record length
    prob: np.ndarray  # float32 boundary probability of each chunk's start

    @property
    def scores(self) -> np.ndarray:
        return boundary_score(self.prob)

    def __len__(self) -> int:
        return len(self.starts)


@dataclass
class ChunkTable:
    """Chunks of several stages of one record, sorted by start then stage (BED order)."""

    starts: np.ndarray
    ends: np.ndarray
    stage: np.ndarray  # 1 or 2
    scores: np.ndarray  # int64 in [0, 1000]


@dataclass
class RecordBoundaries:
    """Merged boundary decisions of one record, in nucleotide coordinates (0-based)."""

    name: str
    length: int
    s1_prob: np.ndarray  # float32 (length,): stage-1 boundary probability of every nucleotide; [0] = 1
    s1_mask: np.ndarray  # bool (length,): nucleotide starts a stage-1 chunk; [0] = True
    s2_prob: np.ndarray | None  # float32, one per stage-1 chunk (aligned with s1_starts); [0] = 1
    s2_mask: np.ndarray | None  # bool, one per stage-1 chunk: it starts a stage-2 chunk; [0] = True
    n_windows: int = 1

    @property
    def n_stages(self) -> int:
        return 1 if self.s2_mask is None else 2

    @property
    def s1_starts(self) -> np.ndarray:
        return np.flatnonzero(self.s1_mask).astype(np.int64)

    @property
    def s2_starts(self) -> np.ndarray:
        self._need_stage2()
        return self.s1_starts[self.s2_mask]

    def _need_stage2(self) -> None:
        if self.s2_mask is None:
            raise DnaHNetError("this model has a single chunking stage: there is no stage-2 track")

    def chunks(self, stage: int) -> ChunkTrack:
        """The chunks of ``stage`` (1 or 2), tiling [0, length)."""
        if stage == 1:
            starts, prob = self.s1_starts, self.s1_prob[self.s1_mask]
        elif stage == 2:
            self._need_stage2()
            starts, prob = self.s2_starts, self.s2_prob[self.s2_mask]  # type: ignore[index]
        else:
            raise ValueError(f"stage must be 1 or 2, got {stage}")
        ends = np.append(starts[1:], self.length).astype(np.int64)
        return ChunkTrack(stage=stage, starts=starts, ends=ends, prob=prob.astype(np.float32))

    def selected_fraction(self, stage: int) -> float:
        """Stage 1: stage-1 chunks per nucleotide; stage 2: stage-2 chunks per stage-1 chunk."""
        if stage == 1:
            return float(self.s1_mask.mean())
        self._need_stage2()
        return float(self.s2_mask.mean())  # type: ignore[union-attr]

    def table(self, stages: Sequence[int]) -> ChunkTable:
        """Chunks of the given stages, sorted by start, then stage (BED output order)."""
        tracks = [self.chunks(s) for s in stages]
        starts = np.concatenate([t.starts for t in tracks])
        ends = np.concatenate([t.ends for t in tracks])
        stage = np.concatenate([np.full(len(t), t.stage, dtype=np.int64) for t in tracks])
        scores = np.concatenate([t.scores for t in tracks])
        order = np.lexsort((stage, starts))
        return ChunkTable(starts=starts[order], ends=ends[order], stage=stage[order], scores=scores[order])


@dataclass
class WindowItem:
    """One window of one record, the unit of work (and of sharing across torchrun ranks)."""

    record: int  # index of the record in the input
    name: str
    length: int  # record length
    index: int  # window index within the record
    n_windows: int
    tile: Tile
    ids: np.ndarray  # the window's token ids


@dataclass
class TakenRouting:
    """What one window contributes: its decisions on its taken region only, in record coordinates."""

    record: int
    name: str
    length: int
    index: int
    n_windows: int
    tile: Tile
    s1_prob: np.ndarray  # float32, positions [tile.score_from, tile.end)
    s1_mask: np.ndarray  # bool, same positions
    s2_pos: np.ndarray | None  # int64 record positions of the window's stage-1 starts in the taken region
    s2_prob: np.ndarray | None  # float32 stage-2 probability of those stage-1 chunks
    s2_mask: np.ndarray | None  # bool stage-2 decision of those stage-1 chunks


def window_items(records: Iterable[FastaRecord], context: int, stride: int, first: int = 0) -> Iterator[WindowItem]:
    """The windows of every record, in input order (records are read lazily, one at a time).
    ``first``: the input index of the first record (records before it were skipped)."""
    for r, record in enumerate(records, start=first):
        tiles = tile(len(record.ids), context, stride)
        for k, t in enumerate(tiles):
            yield WindowItem(record=r, name=record.name, length=len(record.ids), index=k, n_windows=len(tiles),
                             tile=t, ids=record.ids[t.start : t.end])


def taken_routing(item: WindowItem, routing: WindowRouting) -> TakenRouting:
    """Cut one window's routing down to its taken region and map it to record coordinates."""
    t, off = item.tile, item.tile.offset
    s1_prob = np.asarray(routing.stage_prob[0][off:], dtype=np.float32)
    s1_mask = np.asarray(routing.stage_mask[0][off:], dtype=bool)
    s2_pos = s2_prob = s2_mask = None
    if len(routing.stage_prob) > 1:
        pos = np.asarray(routing.stage_pos[1], dtype=np.int64)
        keep = pos >= off
        s2_pos = pos[keep] + t.start
        s2_prob = np.asarray(routing.stage_prob[1][keep], dtype=np.float32)
        s2_mask = np.asarray(routing.stage_mask[1][keep], dtype=bool)
    return TakenRouting(record=item.record, name=item.name, length=item.length, index=item.index,
                        n_windows=item.n_windows, tile=t, s1_prob=s1_prob, s1_mask=s1_mask,
                        s2_pos=s2_pos, s2_prob=s2_prob, s2_mask=s2_mask)


def route_windows(items: Sequence[WindowItem], engine: LikelihoodEngine) -> list[TakenRouting]:
    """Run the model on a list of windows (batched) and keep each window's taken region."""
    if not items:
        return []
    routings = engine.routing([it.ids for it in items])
    return [taken_routing(it, r) for it, r in zip(items, routings)]


def merge_windows(parts: Sequence[TakenRouting]) -> RecordBoundaries:
    """Assemble one record from all its windows' taken regions (in window order)."""
    first = parts[0]
    if [p.index for p in parts] != list(range(first.n_windows)):
        raise RuntimeError(f"record {first.name!r}: windows missing or out of order")
    length = first.length
    s1_prob = np.concatenate([p.s1_prob for p in parts]).astype(np.float32)
    s1_mask = np.concatenate([p.s1_mask for p in parts]).astype(bool)
    if len(s1_prob) != length:
        raise RuntimeError(f"record {first.name!r}: taken regions cover {len(s1_prob)} of {length} bases")
    s1_prob[0], s1_mask[0] = 1.0, True  # the record's first nucleotide always starts a chunk
    s2_prob = s2_mask = None
    if first.s2_pos is not None:
        starts = np.flatnonzero(s1_mask)
        pos = np.concatenate([p.s2_pos for p in parts])  # type: ignore[misc]
        prob = np.concatenate([p.s2_prob for p in parts])  # type: ignore[misc]
        mask = np.concatenate([p.s2_mask for p in parts])  # type: ignore[misc]
        at = np.searchsorted(pos, starts)
        found = at < len(pos)
        found[found] = pos[at[found]] == starts[found]
        # Every merged stage-1 start has an entry in the window that took it; only position 0 may
        # lack one (the model put it into the BOS chunk; it is forced to start a chunk here).
        if not found[1:].all():
            raise RuntimeError(f"record {first.name!r}: a stage-1 start has no stage-2 decision")
        s2_prob = np.ones(len(starts), dtype=np.float32)
        s2_mask = np.ones(len(starts), dtype=bool)
        s2_prob[1:] = prob[at[1:]]
        s2_mask[1:] = mask[at[1:]]
    return RecordBoundaries(name=first.name, length=length, s1_prob=s1_prob, s1_mask=s1_mask,
                            s2_prob=s2_prob, s2_mask=s2_mask, n_windows=first.n_windows)


def check_model_stages(engine: LikelihoodEngine) -> int:
    """Number of chunking stages of the engine's model; an isotropic model has no boundaries."""
    n = int(engine.model.config.n_stages)
    if n < 1:
        raise DnaHNetError("this model has no chunking stage (isotropic layout): it has no boundaries")
    return n


def iter_boundaries(records: Iterable[FastaRecord], engine: LikelihoodEngine, context: int = 8192,
                    stride: int | None = None, ranks: Ranks | None = None, chunk: int = 16) -> Iterator[RecordBoundaries]:
    """Boundaries of every record, in input order, one record at a time.

    Work is shared per window (``chunk`` windows per rank per round) through
    :func:`~dnahnet_core.scoring.parallel.ordered_map`; under torchrun only rank 0 yields records,
    the other ranks yield nothing but must exhaust the iterator.
    """
    stride = stride or max(1, context // 2)
    if not 0 < stride <= context:
        raise ValueError(f"need 0 < stride <= context, got stride {stride}, context {context}")
    check_model_stages(engine)
    yield from merge_records(ordered_map(window_items(records, context, stride), lambda items: route_windows(items, engine),
                                         ranks or Ranks(), chunk=chunk))


def merge_records(parts: Iterable[TakenRouting]) -> Iterator[RecordBoundaries]:
    """Windows' taken regions (in input order, windows in order) -> one RecordBoundaries per record."""
    pending: list[TakenRouting] = []
    for part in parts:
        pending.append(part)
        if part.index == part.n_windows - 1:
            yield merge_windows(pending)
            pending = []


def record_boundaries(record: FastaRecord, engine: LikelihoodEngine, context: int = 8192,
                      stride: int | None = None) -> RecordBoundaries:
    """Boundaries of one record in this process."""
    return next(iter_boundaries([record], engine, context, stride))


# ---- the recipe ----------------------------------------------------------------------------------


@dataclass
class BoundaryRun(RecipeRun[RecordBoundaries]):
    """What :func:`chunk_boundaries` returns: ``results`` holds one :class:`RecordBoundaries` per
    record, in input order (rank 0 only)."""

    fasta: Path  # the input
    stages: tuple[int, ...]  # the stages reported: (1,), (2,) or (1, 2)
    model_stages: int  # chunking stages of the model (1 or more; only the first two are reported)

    def sizes(self) -> list[tuple[str, int]]:
        """(name, length) of every record of the input, in file order (a bigWig header lists them
        before its first value); one streaming pass over the FASTA."""
        return fasta_sizes(self.fasta)


def chunk_boundaries(session: ScoringSession, fasta: str | os.PathLike[str], stages: Sequence[int] | None = None,
                     context: int = 8192, stride: int | None = None, skip: int = 0) -> BoundaryRun:
    """Learned chunk boundaries of every record of ``fasta`` (plain, gzip or bgzip), stages 1 and 2.

    ``stages``: the stages to report, a subset of (1, 2); None = every stage the model has (stage 1
    alone for a single-stage model). Records longer than ``context`` are cut into windows of
    ``context`` bases every ``stride`` (default context/2) under the long-record rule of this
    module. ``skip``: records already finished (read, neither computed nor yielded).

    The model and the options are checked now (an isotropic model, stage 2 of a single-stage
    model, a bad stride raise here); the FASTA is read while ``results`` is iterated. The windows
    are shared across the session's ranks, ``max(16, 2 * batch_size)`` windows per rank and round;
    results arrive on rank 0 only (see :func:`.session.drive`).
    """
    stride = stride or max(1, context // 2)
    if not 0 < stride <= context:
        raise ValueError(f"need 0 < stride <= context, got stride {stride}, context {context}")
    if skip < 0:
        raise ValueError(f"skip must be >= 0, got {skip}")
    n_stages = check_model_stages(session.engine)
    if stages is None:
        chosen: tuple[int, ...] = (1, 2) if n_stages >= 2 else (1,)
    else:
        chosen = tuple(sorted(set(int(s) for s in stages)))
        if not chosen or not set(chosen) <= {1, 2}:
            raise ValueError(f"stages must be a non-empty subset of (1, 2), got {tuple(stages)}")
        if n_stages < 2 and 2 in chosen:
            raise DnaHNetError(f"{session.loaded.path}: this model has a single chunking stage: there is no stage 2")
    path = Path(fasta)
    chunk = max(16, 2 * session.batch_size)

    def results() -> Iterator[RecordBoundaries]:
        records = islice(read_fasta(path), skip, None)
        yield from merge_records(session.map(window_items(records, context, stride, first=skip),
                                             lambda items: route_windows(items, session.engine), chunk=chunk))

    parameters: dict[str, object] = {"input": str(fasta), "context": context, "stride": stride,
                                     "stages_written": [f"s{s}" for s in chosen], "long_record_rule": RULE}
    return BoundaryRun(parameters=parameters, results=results(), fasta=path, stages=chosen, model_stages=n_stages)
