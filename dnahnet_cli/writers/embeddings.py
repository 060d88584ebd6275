"""``dnahnet embed`` output: hidden states per stage in one HDF5 file, with its provenance.

The vectors are computed by :func:`dnahnet_core.scoring.embed.embed_sequences`; this module only
lays them out (one group per record, or only the means), compresses them and writes the file
atomically.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from dnahnet_core.scoring.embed import EmbedRun, RecordAccumulator, WindowEmbedding

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

    from dnahnet_core.atomic import atomic_path

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


def write_embeddings(run: EmbedRun, output: Path, head: dict[str, Any], dtype: str = "float32") -> EmbedSummary:
    """Write ``run`` to ``output`` with :func:`write_embeddings_h5`. Root attributes: ``head``
    (command, then the model's provenance), the run's parameters and ``dtype``. A progress bar
    (records) on stderr when it is a terminal."""
    from tqdm import tqdm

    params = dict(run.parameters)
    attrs = {**head, **{k: params.pop(k) for k in ("input", "context", "stride", "stages")}, "dtype": dtype, **params}
    with tqdm(unit="rec", file=sys.stderr, disable=not sys.stderr.isatty()) as bar:
        return write_embeddings_h5(output, run.results, run.stages, run.widths, mean_only=run.mean_only, dtype=dtype,
                                   attrs=attrs, progress=lambda name: bar.update(1))


def summary_line(summary: EmbedSummary, run: EmbedRun, output: Path) -> str:
    """The one line ``dnahnet embed`` writes on stderr when the file is complete."""
    chunks = "".join(f", {summary.chunks[s]} stage-{s} chunks" for s in run.stages if s > 0)
    return (f"dnahnet embed: {summary.records} records, {summary.bases} bases{chunks}"
            f" ({'means' if run.mean_only else 'vectors'} of stages {','.join(map(str, run.stages))}) -> {output}\n")
