"""Genome tracks: per-base or per-interval values written as bigWig (pyBigWig) or bedGraph text.

IGV and the UCSC browser read both; bigWig is indexed and compressed, so whole genomes load
quickly. Coordinates are 0-based half-open. NaN values (unscored positions, e.g. N) are left out
of the track, as a genome browser shows a gap; they are never written as a number.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO

import numpy as np

from .atomic import atomic_path
from .errors import DnaHNetError, InputError

TRACK_FORMATS = ("bigwig", "bedgraph")


def track_format(path: Path) -> str | None:
    """'bigwig' for .bw/.bigwig, 'bedgraph' for .bedgraph/.bg (plain text), else None."""
    name = path.name.lower()
    if name.endswith((".bw", ".bigwig")):
        return "bigwig"
    if name.endswith((".bedgraph", ".bg")):
        return "bedgraph"
    return None


def finite_runs(values: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) runs of consecutive finite values (NaN/inf split them)."""
    ok = np.isfinite(values)
    if not ok.any():
        return []
    edges = np.flatnonzero(np.diff(np.concatenate([[False], ok, [False]]).astype(np.int8)))
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist()))


class TrackWriter:
    """Write one track, record by record, in the order of ``sizes`` (name, length).

    ``with TrackWriter(path, sizes, "bigwig") as w: w.add_per_base(name, values)`` or
    ``w.add_intervals(name, starts, ends, values)``. The file appears atomically when the block
    ends without error. A bedGraph may start with a UCSC ``track`` line (``track_line``).
    """

    def __init__(self, path: Path, sizes: list[tuple[str, int]], fmt: str, track_line: str | None = None) -> None:
        if fmt not in TRACK_FORMATS:
            raise ValueError(f"unknown track format {fmt!r}")
        names = [n for n, _ in sizes]
        if len(set(names)) != len(names):
            dup = next(n for i, n in enumerate(names) if n in names[:i])
            raise InputError(f"record name {dup!r} occurs more than once: a {fmt} track needs unique record names")
        self.path, self.sizes, self.fmt, self.track_line = Path(path), dict(sizes), fmt, track_line
        self._order = names
        self._next = 0
        self._atomic = atomic_path(self.path)
        self._bw = None
        self._text: IO[str] | None = None

    def __enter__(self) -> "TrackWriter":
        tmp = self._atomic.__enter__()
        if self.fmt == "bigwig":
            import pyBigWig

            self._bw = pyBigWig.open(str(tmp), "w")
            if self._bw is None:
                raise DnaHNetError(f"{self.path}: cannot create a bigWig file")
            # Zoom levels let browsers show a whole genome quickly.
            self._bw.addHeader([(n, int(length)) for n, length in self.sizes.items() if length > 0], maxZooms=10)
        else:
            self._text = open(tmp, "w")
            if self.track_line:
                self._text.write(self.track_line.rstrip("\n") + "\n")
        return self

    def _check(self, name: str) -> None:
        # bigWig entries must come in header order; a record out of order is a bug upstream.
        while self._next < len(self._order) and self._order[self._next] != name:
            self._next += 1
        if self._next == len(self._order):
            raise ValueError(f"track record {name!r} is not in the declared sizes, or out of order")
        self._next += 1

    def add_per_base(self, name: str, values: np.ndarray) -> None:
        """One value per base of record ``name`` (length = its size)."""
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (self.sizes.get(name, -1),):
            raise ValueError(f"track record {name!r}: {values.shape[0]} values for {self.sizes.get(name)} bases")
        self._check(name)
        for s, e in finite_runs(values):
            if self._bw is not None:
                self._bw.addEntries(name, s, values=values[s:e].tolist(), span=1, step=1)
            else:
                for lo in range(s, e, 1 << 16):  # bounded memory on long records
                    hi = min(e, lo + (1 << 16))
                    self._text.write("".join(f"{name}\t{i}\t{i + 1}\t{v:.6g}\n" for i, v in zip(range(lo, hi), values[lo:hi].tolist())))

    def add_intervals(self, name: str, starts: np.ndarray, ends: np.ndarray, values: np.ndarray) -> None:
        """Sorted, non-overlapping [start, end) intervals of record ``name`` with one value each."""
        self._check(name)
        keep = np.isfinite(np.asarray(values, dtype=np.float64))
        s, e, v = (np.asarray(a)[keep] for a in (starts, ends, values))
        if not len(s):
            return
        if self._bw is not None:
            self._bw.addEntries([name] * len(s), s.astype(np.int64).tolist(), ends=e.astype(np.int64).tolist(),
                                values=np.asarray(v, dtype=np.float64).tolist())
        else:
            self._text.write("".join(f"{name}\t{a}\t{b}\t{x:.6g}\n" for a, b, x in zip(s.tolist(), e.tolist(), v.tolist())))

    def __exit__(self, exc_type, exc, tb) -> bool:
        try:
            if self._bw is not None:
                self._bw.close()
            if self._text is not None:
                self._text.close()
        except BaseException as err:  # the file is incomplete: the temporary file goes
            self._atomic.__exit__(type(err), err, err.__traceback__)
            raise
        return bool(self._atomic.__exit__(exc_type, exc, tb))


def per_base_h5_to_track(h5_path: Path, path: Path, fmt: str, track_line: str | None = None) -> None:
    """Convert ``score --per-base``'s HDF5 (one dataset per record in input order, the record name
    as attribute 'name') into a per-base track, record by record."""
    import h5py

    with h5py.File(h5_path, "r") as h5:
        keys = sorted(h5, key=int)
        sizes = [(str(h5[k].attrs["name"]), int(h5[k].shape[0])) for k in keys]
        with TrackWriter(path, sizes, fmt, track_line) as writer:
            for key, (name, _) in zip(keys, sizes):
                writer.add_per_base(name, h5[key][()])
