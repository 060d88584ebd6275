"""Sequence scoring (design §2): log-likelihood, bits per base and perplexity per record.

The recipe is :func:`score_sequences` (``dnahnet score``): every record of a FASTA file, tiled in
windows of ``context`` bases every ``stride`` bases, each base predicted once::

    with ScoringSession.open(device="cpu") as session:
        run = score_sequences(session, "genomes.fa", context=8192)
        for score in run.results:
            print(score.name, score.bits_per_base)
"""

from __future__ import annotations

import itertools
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.fasta import FastaRecord, read_fasta
from ..vocab import N, reverse_complement_ids
from .engine import LikelihoodEngine
from .session import RecipeRun, ScoringSession
from .windows import tile

#: Default window length (bases).
DEFAULT_CONTEXT = 8192
#: Left context each window gives the bases it scores by default (the overlap of consecutive windows).
WARMUP = 256
#: Records per rank and chunk of work; also the unit of ``--resume`` commits.
CHUNK = 4


@dataclass
class SequenceScore:
    name: str
    length: int
    n_scored: int  # A/C/G/T positions
    n_masked: int  # N positions (not scored)
    log_likelihood: float  # natural log, summed over scored positions (float64)
    per_base: np.ndarray | None = None  # float32 log-likelihood per position, NaN at N

    @property
    def bits_per_base(self) -> float:
        return -self.log_likelihood / (self.n_scored * math.log(2)) if self.n_scored else float("nan")

    @property
    def perplexity(self) -> float:
        return 2.0**self.bits_per_base if self.n_scored else float("nan")


def per_base_log_probs(ids: np.ndarray, engine: LikelihoodEngine, context: int, stride: int) -> np.ndarray:
    """log p(x_i | left context) for every position of one strand, each from exactly one window."""
    tiles = tile(len(ids), context, stride)
    windows = [ids[t.start : t.end] for t in tiles]
    out = np.empty(len(ids), dtype=np.float32)
    for t, lp in zip(tiles, engine.log_probs(windows)):
        out[t.score_from : t.end] = lp[t.offset :]
    return out


def score_record(record: FastaRecord, engine: LikelihoodEngine, context: int, stride: int, both_strands: bool, keep_per_base: bool) -> SequenceScore:
    lp = per_base_log_probs(record.ids, engine, context, stride).astype(np.float64)
    if both_strands:
        # The reverse strand's prediction of base i, aligned back to forward coordinates.
        rc = per_base_log_probs(reverse_complement_ids(record.ids), engine, context, stride)[::-1]
        lp = (lp + rc.astype(np.float64)) / 2
    scored = record.ids != N
    return SequenceScore(
        name=record.name,
        length=len(record.ids),
        n_scored=int(scored.sum()),
        n_masked=int((~scored).sum()),
        log_likelihood=float(np.sum(lp[scored], dtype=np.float64)),
        per_base=lp.astype(np.float32) if keep_per_base else None,
    )


def default_stride(context: int) -> int:
    """The step between windows when none is given: context-256, or context/2 below 512."""
    # 256 bases of warm-up left context per window: bits per base as with context/2 (measured
    # difference 3e-4), each base computed ~1.03x instead of 2x (benchmarks/README.md, Scoring v2).
    return max(1, context - min(WARMUP, context // 2))


def resolve_stride(context: int, stride: int | None = None) -> int:
    """``stride``, or :func:`default_stride` when None; ValueError unless 0 < stride <= context."""
    stride = stride if stride is not None else default_stride(context)
    if not 0 < stride <= context:
        raise ValueError(f"need 0 < stride <= context, got stride {stride}, context {context}")
    return stride


@dataclass
class SequenceRun(RecipeRun[SequenceScore]):
    """What :func:`score_sequences` returns: one :class:`SequenceScore` per record after the first
    ``skip``, in input order. ``parameters``: context, stride, strands, log_base."""

    fasta: Path
    context: int
    stride: int  # resolved: never None
    both_strands: bool
    per_base: bool  # results carry per_base arrays
    skip: int  # records left out at the start (finished before an interruption)


def score_sequences(session: ScoringSession, fasta: str | os.PathLike[str], context: int = DEFAULT_CONTEXT,
                    stride: int | None = None, both_strands: bool = False, per_base: bool = False,
                    skip: int = 0) -> SequenceRun:
    """Score every record of ``fasta`` (plain, gzip or bgzip) in windows of ``context`` bases every
    ``stride`` (None: :func:`default_stride`); ``both_strands`` averages the forward and reverse-
    complement predictions of each base; ``per_base`` keeps the per-position log-likelihoods.

    The file is read lazily: input errors (:class:`~dnahnet_core.errors.InputError`) arise while
    ``results`` is iterated. Records are split across the session's ranks in chunks of
    :data:`CHUNK` per rank; ``skip`` leaves out the first records (a resumed run).
    """
    stride = resolve_stride(context, stride)
    engine = session.engine
    records = itertools.islice(read_fasta(fasta), skip, None)
    results = session.map(
        records,
        lambda recs: [score_record(r, engine, context, stride, both_strands, per_base) for r in recs],
        chunk=CHUNK,
    )
    parameters = {"context": context, "stride": stride, "strands": "both (averaged)" if both_strands else "forward",
                  "log_base": "e (natural log)"}
    return SequenceRun(parameters=parameters, results=results, fasta=Path(fasta), context=context, stride=stride,
                       both_strands=both_strands, per_base=per_base, skip=skip)
