"""A reference genome read through its FASTA index (htslib faidx via pysam): contigs are decoded
when a variant needs them, two at a time, instead of all held in memory.

Used for references larger than ``INDEX_ABOVE`` bytes, or that already have an index: plain and
bgzip FASTA are indexed (``.fai``, and ``.gzi`` for bgzip, written beside the file the first time,
as samtools faidx does). A small genome, a plain-gzip file or one in a read-only folder without an
index is read whole instead, with :func:`~.fasta.read_fasta`'s checks (:func:`open_reference`).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..vocab import tokenize
from .fasta import read_fasta

#: References above this size (bytes on disk) are read through their index.
INDEX_ABOVE = 32 << 20


class IndexedContigs(Mapping):
    """name -> uint8 token ids, fetched through the FASTA index; the last ``keep`` contigs are
    cached (VCFs are sorted by contig, so each contig is decoded about once)."""

    def __init__(self, path: Path, keep: int = 2) -> None:
        import pysam

        self.path = path
        self._fa = pysam.FastaFile(str(path))
        self.lengths = dict(zip(self._fa.references, (int(n) for n in self._fa.lengths)))
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._keep = keep

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self.lengths:
            raise KeyError(name)
        if name not in self._cache:
            ids = tokenize(self._fa.fetch(name), record=name, path=str(self.path))
            self._cache[name] = ids
            while len(self._cache) > self._keep:
                self._cache.popitem(last=False)
        self._cache.move_to_end(name)
        return self._cache[name]

    def __contains__(self, name: object) -> bool:
        return name in self.lengths

    def __iter__(self) -> Iterator[str]:
        return iter(self.lengths)

    def __len__(self) -> int:
        return len(self.lengths)


def _is_plain_gzip(path: Path) -> bool:
    """gzip but not BGZF: htslib cannot index it."""
    with open(path, "rb") as f:
        head = f.read(16)
    return head[:2] == b"\x1f\x8b" and not (len(head) >= 14 and head[3] & 4 and head[12:14] == b"BC")


def open_reference(path: str | os.PathLike[str]) -> tuple[Mapping[str, np.ndarray], dict[str, int]]:
    """(contigs, lengths) of a reference FASTA: through its index when it can have one, else read
    whole (plain gzip, unwritable folder, a pipe). Either way errors are one InputError line."""
    path = Path(path)
    if not path.exists():
        raise InputError("reference FASTA: no such file", path=str(path))
    indexed = Path(f"{path}.fai").is_file()
    if path.is_file() and (indexed or path.stat().st_size > INDEX_ABOVE) and not _is_plain_gzip(path):
        import pysam

        pysam.set_verbosity(0)
        try:
            contigs = IndexedContigs(path)
            if contigs.lengths:
                return contigs, dict(contigs.lengths)
        except (OSError, ValueError):
            pass  # not indexable here: read it whole below (which also names any format error)
    whole = {rec.name: rec.ids for rec in read_fasta(path)}
    return whole, {name: int(ids.size) for name, ids in whole.items()}
