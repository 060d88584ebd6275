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
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
import torch

from ..data.fasta import FastaRecord
from ..diagnostics import chunking_stages
from ..errors import DnaHNetError
from ..model.dnahnet import DnaHNet
from .boundaries import WindowItem, window_items
from .engine import LikelihoodEngine
from ..distributed import Ranks, ordered_map

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
    to a file use :func:`write_embeddings_h5`, which streams.
    """
    yield from group_windows(iter_window_embeddings(records, engine, stages, context, stride, ranks, chunk), mean_only)


def embed_record(record: FastaRecord, engine: LikelihoodEngine, stages: Iterable[int] = (0, 1, 2), context: int = 8192,
                 stride: int | None = None, mean_only: bool = False) -> RecordEmbedding:
    """The embedding of one record in this process."""
    return next(iter_embeddings([record], engine, stages, context, stride, mean_only))


# ---- HDF5 ----------------------------------------------------------------------------------------

#: Target bytes per HDF5 chunk of a vector dataset (rows x D); small enough for random row access.
_CHUNK_BYTES = 1 << 18


def record_key(i: int) -> str:
    """Group of record ``i`` (input order): record numbers, as ``score --per-base`` keys its datasets
    (names may hold '/' or repeat); the name is the group's attribute 'name' and in /names."""
    return f"{i:06d}"


@dataclass
class EmbedSummary:
    records: int = 0
    bases: int = 0
    chunks: dict[int, int] = field(default_factory=dict)  # stage K >= 1 -> chunks over all records


def _rows(d: int, itemsize: int) -> int:
    return max(1, _CHUNK_BYTES // max(1, d * itemsize))


def write_embeddings_h5(path: str | Path, windows: Iterable[WindowEmbedding], stages: Sequence[int], widths: dict[int, int],
                        mean_only: bool = False, dtype: str = "float32", attrs: dict[str, Any] | None = None,
                        progress: Any = None) -> EmbedSummary:
    """Stream window embeddings (in input order) into an HDF5 file written atomically (a temporary
    sibling, renamed when complete; removed on any failure). Layout:

    * root attributes: ``attrs`` (provenance) as strings; ``/names`` (n_records,) UTF-8 and
      ``/lengths`` (n_records,) int64, in input order;
    * full mode: group ``/000000`` ... per record (attributes name, length, n_windows) with
      ``stage0`` (length, D_0) and for K >= 1 ``stageK`` (n_K, D_K) and ``stageK_start`` (n_K,) int64;
    * ``mean_only``: per record ``stageK_mean`` (D_K,) and ``stageK_count`` (attribute), plus the
      matrices ``/mean/stageK`` (n_records, D_K) and ``/mean/stageK_count`` (n_records,) int64.

    Vectors are ``dtype`` (float32 or float16), gzip-compressed (with shuffle) in chunked datasets.
    ``progress`` (optional) is called with each finished record's name.
    """
    import h5py

    from ..atomic import atomic_path

    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float16)):
        raise ValueError(f"dtype must be float32 or float16, got {dtype}")
    comp = {"compression": "gzip", "compression_opts": 4, "shuffle": True}
    summary = EmbedSummary(chunks={s: 0 for s in stages if s > 0})
    names: list[str] = []
    lengths: list[int] = []
    means: dict[int, list[np.ndarray]] = {s: [] for s in stages}
    counts: dict[int, list[int]] = {s: [] for s in stages}
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as h5:
        for k, v in (attrs or {}).items():
            h5.attrs[k] = str(v)
        acc: RecordAccumulator | None = None
        group = None
        for w in windows:
            if w.index == 0:
                acc = RecordAccumulator(w, mean_only=True)  # sums only: the vectors go straight to disk
                group = h5.create_group(record_key(w.record))
                group.attrs.update({"name": w.name, "length": w.length, "n_windows": w.n_windows})
                if not mean_only:
                    for s in stages:
                        d = widths[s]
                        if s == 0:
                            group.create_dataset("stage0", shape=(w.length, d), dtype=dt,
                                                 chunks=(min(w.length, _rows(d, dt.itemsize)), d), **comp)
                        else:
                            group.create_dataset(f"stage{s}", shape=(0, d), maxshape=(None, d), dtype=dt,
                                                 chunks=(_rows(d, dt.itemsize), d), **comp)
                            group.create_dataset(f"stage{s}_start", shape=(0,), maxshape=(None,), dtype=np.int64,
                                                 chunks=(1 << 15,), **comp)
            assert acc is not None and group is not None
            acc.add(w)
            if not mean_only:
                for s, v in w.vectors.items():
                    if s == 0:
                        group["stage0"][w.score_from : w.end] = v.astype(dt)
                    else:
                        ds, st = group[f"stage{s}"], group[f"stage{s}_start"]
                        n0 = ds.shape[0]
                        ds.resize((n0 + len(v), ds.shape[1]))
                        ds[n0:] = v.astype(dt)
                        st.resize((n0 + len(v),))
                        st[n0:] = w.starts[s]
            if acc.complete:
                if acc.covered != w.length:
                    raise RuntimeError(f"record {w.name!r}: windows cover {acc.covered} of {w.length} bases")
                rec_means = acc.means()
                for s in stages:
                    means[s].append(rec_means[s])
                    counts[s].append(acc.count[s])
                    if s > 0:
                        summary.chunks[s] += acc.count[s]
                    if mean_only:
                        group.create_dataset(f"stage{s}_mean", data=rec_means[s].astype(dt))
                        group.attrs[f"stage{s}_count"] = acc.count[s]
                names.append(w.name)
                lengths.append(w.length)
                summary.records += 1
                summary.bases += w.length
                if progress is not None:
                    progress(w.name)
                acc = group = None
        if acc is not None:
            raise RuntimeError(f"record {acc.first.name!r}: windows missing at the end of the input")
        h5.create_dataset("names", data=np.array(names, dtype=object), dtype=h5py.string_dtype())
        h5.create_dataset("lengths", data=np.asarray(lengths, dtype=np.int64))
        if mean_only:
            mean_group = h5.create_group("mean")
            for s in stages:
                d = widths[s]
                matrix = np.stack(means[s]).astype(dt) if means[s] else np.zeros((0, d), dtype=dt)
                mean_group.create_dataset(f"stage{s}", data=matrix, maxshape=(None, d),
                                          chunks=(max(1, min(len(matrix), _rows(d, dt.itemsize))), d), **comp)
                mean_group.create_dataset(f"stage{s}_count", data=np.asarray(counts[s], dtype=np.int64))
    return summary
