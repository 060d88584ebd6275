"""Sequence scoring (design §2): log-likelihood, bits per base and perplexity per record."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from ..data.fasta import FastaRecord
from ..vocab import N, reverse_complement_ids
from .engine import LikelihoodEngine
from .windows import tile


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


def score_sequences(records: Iterator[FastaRecord], engine: LikelihoodEngine, context: int = 8192, stride: int = 4096,
                    both_strands: bool = False, keep_per_base: bool = False) -> Iterator[SequenceScore]:
    for record in records:
        yield score_record(record, engine, context, stride, both_strands, keep_per_base)
