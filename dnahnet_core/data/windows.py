"""Training windows: the train/validation file split, a resumable random sampler, eval tiling.

The sampler is stateless on purpose: the batch for ``(seed, step, rank)`` is a pure function of
those three numbers, so a run resumed from a checkpoint at step k sees exactly the data an
uninterrupted run would, with no sampler state to save, and ranks never draw the same windows.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..vocab import BOS, N, reverse_complement_ids
from .cache import TokenStore

#: Mixed into every sampler seed so these draws never coincide with another numpy stream that
#: happens to be seeded with the same (seed, step, rank).
_SAMPLER_STREAM = 0x0D5A


@dataclass(frozen=True)
class FileSplit:
    """Files for training and for validation; unpacks as ``train, val = split``."""

    train: list[Path]
    val: list[Path]

    def __iter__(self) -> Iterator[list[Path]]:
        return iter((self.train, self.val))


def split_files(files: Sequence[str | os.PathLike[str]], val_fraction: float, seed: int) -> FileSplit:
    """Split files (whole genomes) into train and validation sets, reproducibly.

    Splitting by file keeps a validation genome entirely unseen in training. Files are sorted by
    base name (then full path) before the seeded shuffle, so the split depends neither on the input
    order nor on where the corpus folder lives. With ``val_fraction > 0`` and at least two files,
    validation gets ``round(val_fraction * n)`` files but at least one, and training keeps at least
    one; with a single file everything is training data.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    unique = sorted({Path(f) for f in files}, key=lambda p: (p.name, str(p)))
    n = len(unique)
    if val_fraction == 0.0 or n < 2:
        return FileSplit(train=unique, val=[])
    n_val = min(max(1, round(val_fraction * n)), n - 1)
    order = np.random.default_rng([seed, _SAMPLER_STREAM, 1]).permutation(n)
    val_idx = set(order[:n_val].tolist())
    return FileSplit(
        train=[p for i, p in enumerate(unique) if i not in val_idx],
        val=[p for i, p in enumerate(unique) if i in val_idx],
    )


@dataclass
class Batch:
    """Model input: ``ids`` (B, seq_len + 1) with BOS in column 0, padded with N past ``lengths``.

    ``lengths`` counts valid columns including BOS, so targets exist for columns 1..lengths-1.
    """

    ids: torch.Tensor  # int64 (B, seq_len + 1)
    lengths: torch.Tensor  # int64 (B,)

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Batch:
        return Batch(
            self.ids.to(device, non_blocking=non_blocking),
            self.lengths.to(device, non_blocking=non_blocking),
        )

    def __len__(self) -> int:
        return int(self.ids.shape[0])


@dataclass(frozen=True)
class WindowPlan:
    """Where each row of a batch comes from (numpy int64/bool arrays of equal length)."""

    record: np.ndarray
    start: np.ndarray
    length: np.ndarray
    reverse: np.ndarray


def assemble_batch(store: TokenStore, plan: WindowPlan, seq_len: int) -> Batch:
    """Read the windows of ``plan`` and lay them out as a :class:`Batch`."""
    rows = plan.record.size
    ids = np.full((rows, seq_len + 1), N, dtype=np.int64)
    ids[:, 0] = BOS
    for i in range(rows):
        n = int(plan.length[i])
        window = store.read(int(plan.record[i]), int(plan.start[i]), n)
        if plan.reverse[i]:
            window = reverse_complement_ids(window)
        ids[i, 1 : 1 + n] = window
    return Batch(ids=torch.from_numpy(ids), lengths=torch.from_numpy(plan.length.astype(np.int64) + 1))


def species_key(path: str | os.PathLike[str]) -> str:
    """The species a genome file belongs to, from its name: ``Genus_species_strain.fa.gz`` ->
    ``genus_species`` (the first two ``_``/space/``.``-separated words; the whole stem if fewer)."""
    words = [w for w in re.split(r"[_\s.]+", Path(path).name) if w]
    return "_".join(words[:2]).lower() if len(words) > 2 else Path(path).name.lower()


class WindowSampler:
    """Random training windows, drawn across records in proportion to record length.

    A position is drawn uniformly over the concatenated corpus and mapped to its record, so every
    base is equally likely to be picked whatever the record sizes. The window start within the record
    is that position rescaled onto the valid starts ``[0, length - seq_len]``, so windows never cross
    a record end and, unlike clipping, the record's last window is not over-drawn. A record shorter
    than ``seq_len`` is taken whole and padded with N.
    """

    def __init__(
        self,
        store: TokenStore,
        seq_len: int,
        *,
        seed: int,
        rc_augment: bool = True,
        rank: int = 0,
        world_size: int = 1,
        species_power: float = 1.0,
    ) -> None:
        if seq_len < 1:
            raise ValueError(f"seq_len must be >= 1, got {seq_len}")
        if not 0.0 <= species_power <= 1.0:
            raise ValueError(f"species_power must be in [0, 1], got {species_power}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, world_size), got rank={rank}, world_size={world_size}")
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        if store.total_length == 0:
            raise ValueError("cannot sample windows from an empty store")
        self.store = store
        self.seq_len = seq_len
        self.seed = seed
        self.rc_augment = rc_augment
        self.rank = rank
        self.world_size = world_size
        self._lengths = store.lengths
        self._ends = np.cumsum(self._lengths)
        self.species_power = species_power
        # Species-balanced sampling: a record's share of the draws is its share of its species
        # times the species' weight (its total length ** power, normalised). power 1 is the plain
        # length-proportional draw, kept on its own code path so its batches never change.
        self._record_cdf: np.ndarray | None = None
        if species_power < 1.0:
            groups = np.array([species_key(store.source_of(r)) for r in range(len(store))])
            _, group = np.unique(groups, return_inverse=True)
            group_len = np.bincount(group, weights=self._lengths.astype(np.float64))
            weight = group_len**species_power
            share = weight[group] / weight.sum() * self._lengths / group_len[group]
            self._record_cdf = np.cumsum(share) / share.sum()

    def plan(self, step: int, batch_size: int) -> WindowPlan:
        """The windows of batch ``step`` for this rank, without reading any tokens."""
        if step < 0 or batch_size < 1:
            raise ValueError(f"need step >= 0 and batch_size >= 1, got step={step}, batch_size={batch_size}")
        rng = np.random.default_rng([self.seed, step, self.rank, _SAMPLER_STREAM])
        pos = rng.integers(0, self.store.total_length, size=batch_size, dtype=np.int64)
        # Strand is drawn even without augmentation so the windows are the same either way.
        reverse = rng.random(batch_size) < 0.5
        if self._record_cdf is None:
            record = np.searchsorted(self._ends, pos, side="right")
            rec_len = self._lengths[record]
            in_record = pos - (self._ends[record] - rec_len)
        else:
            u = rng.random(batch_size)
            record = np.minimum(np.searchsorted(self._record_cdf, u, side="right"), len(self._lengths) - 1)
            rec_len = self._lengths[record]
            in_record = np.minimum((rng.random(batch_size) * rec_len).astype(np.int64), rec_len - 1)
        length = np.minimum(rec_len, self.seq_len)
        n_starts = rec_len - length + 1
        # Float rescale: an exact integer product could overflow int64 for multi-gigabase records.
        start = np.minimum((in_record * (n_starts / rec_len)).astype(np.int64), n_starts - 1)
        if not self.rc_augment:
            reverse = np.zeros(batch_size, dtype=bool)
        return WindowPlan(record=record.astype(np.int64), start=start, length=length, reverse=reverse)

    def batch(self, step: int, batch_size: int) -> Batch:
        """Batch ``step`` of this rank: a pure function of (seed, step, rank, batch_size)."""
        return assemble_batch(self.store, self.plan(step, batch_size), self.seq_len)


class EvalWindows:
    """Deterministic, non-overlapping tiling of a store into windows, for validation loss.

    Each record is cut into consecutive windows of ``seq_len`` (the last one shorter and padded).
    With ``max_windows``, that many windows are kept, evenly spaced across the whole corpus, so a
    capped evaluation still samples every part of it and is identical from run to run. With
    ``world_size > 1`` each rank takes every ``world_size``-th window.
    """

    def __init__(
        self,
        store: TokenStore,
        seq_len: int,
        *,
        batch_size: int,
        max_windows: int | None = None,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if seq_len < 1 or batch_size < 1:
            raise ValueError(f"need seq_len >= 1 and batch_size >= 1, got {seq_len}, {batch_size}")
        if max_windows is not None and max_windows < 1:
            raise ValueError(f"max_windows must be >= 1 or None, got {max_windows}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, world_size), got rank={rank}, world_size={world_size}")
        self.store = store
        self.seq_len = seq_len
        self.batch_size = batch_size
        lengths = store.lengths
        per_record = -(-lengths // seq_len)  # ceil
        record = np.repeat(np.arange(lengths.size, dtype=np.int64), per_record)
        first = np.cumsum(per_record) - per_record
        start = (np.arange(record.size, dtype=np.int64) - first[record]) * seq_len
        total = record.size
        if max_windows is not None and max_windows < total:
            keep = (np.arange(max_windows, dtype=np.int64) * total) // max_windows
            record, start = record[keep], start[keep]
        record, start = record[rank::world_size], start[rank::world_size]
        length = np.minimum(lengths[record] - start, seq_len)
        no_rc = np.zeros(record.size, dtype=bool)
        #: The windows, in corpus order (record, then start).
        self.plan = WindowPlan(record=record, start=start, length=length, reverse=no_rc)

    @property
    def num_windows(self) -> int:
        return int(self.plan.record.size)

    @property
    def num_tokens(self) -> int:
        """Nucleotides covered (excluding BOS and padding)."""
        return int(self.plan.length.sum())

    def __len__(self) -> int:
        return math.ceil(self.num_windows / self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        p = self.plan
        for lo in range(0, self.num_windows, self.batch_size):
            sl = slice(lo, lo + self.batch_size)
            part = WindowPlan(p.record[sl], p.start[sl], p.length[sl], p.reverse[sl])
            yield assemble_batch(self.store, part, self.seq_len)
