"""``dnahnet boundaries`` output: BED6 chunks, a bedGraph track or bigWig tracks, and provenance.

The boundaries are computed by :func:`dnahnet_core.scoring.boundaries.chunk_boundaries`; this
module formats them. Provenance goes to a JSON sidecar OUT.json next to ``-o OUT`` (written with
``complete: false`` first, rewritten with the per-record summary at the end, removed when the run
fails), or, on stdout, to one line on stderr when the run ends. Tracks go through
:class:`dnahnet_core.tracks.TrackWriter` (bigWig files appear atomically).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import IO, Any

import numpy as np

from dnahnet_core.errors import DnaHNetError
from dnahnet_core.scoring.boundaries import BoundaryRun, ChunkTable, RecordBoundaries

from ..common import output_stream, sidecar_path, write_json_atomic

FORMATS = ("bed", "bedgraph", "bigwig")


def format_bed(name: str, table: ChunkTable) -> str:
    """BED6 lines of one record's chunk table (see dnahnet_core.scoring.boundaries.ChunkTable)."""
    labels = ("", "s1", "s2")
    return "".join(
        f"{name}\t{s}\t{e}\t{labels[k]}\t{c}\t.\n"
        for s, e, k, c in zip(table.starts.tolist(), table.ends.tolist(), table.stage.tolist(), table.scores.tolist())
    )


def format_bedgraph(name: str, starts, ends, values) -> str:
    """bedGraph lines: chrom start end value (0-based half-open), value with 6 decimals."""
    return "".join(f"{name}\t{s}\t{e}\t{v:.6f}\n" for s, e, v in zip(starts.tolist(), ends.tolist(), values.tolist()))


def record_text(rb: RecordBoundaries, stages: tuple[int, ...], fmt: str) -> str:
    """One record as BED6 lines (every stage in ``stages``) or bedGraph lines (its one stage)."""
    if fmt == "bed":
        return format_bed(rb.name, rb.table(stages))
    if stages == (1,):
        pos = np.arange(rb.length, dtype=np.int64)
        return format_bedgraph(rb.name, pos, pos + 1, rb.s1_prob)
    track = rb.chunks(1)  # stage 2: its probability over each stage-1 chunk's span
    return format_bedgraph(rb.name, track.starts, track.ends, rb.s2_prob)


def bigwig_paths(output: Path, stages: tuple[int, ...], every_stage: bool) -> dict[int, Path]:
    """The bigWig file of each stage: OUT itself for one chosen stage; OUT.s1.bw, OUT.s2.bw (OUT
    without its .bw/.bigwig suffix) when every stage is written."""
    if not every_stage:
        return {stages[0]: output}
    name = output.name
    for suffix in (".bw", ".bigwig", ".bigWig"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return {s: output.with_name(f"{name}.s{s}.bw") for s in stages}


def add_tracks(writers: dict, rb: RecordBoundaries) -> None:
    """One record's boundary probabilities into each stage's track: stage 1 per base, stage 2 over
    each stage-1 chunk's span (as the bedGraph)."""
    if 1 in writers:
        writers[1].add_per_base(rb.name, rb.s1_prob)
    if 2 in writers:
        chunks = rb.chunks(1)
        writers[2].add_intervals(rb.name, chunks.starts, chunks.ends, rb.s2_prob)


def track_line(fmt: str, stages: tuple[int, ...], model_name: str) -> str:
    """The UCSC 'track' line of a BED or bedGraph output (``--track-line``)."""
    which = "+".join(f"s{s}" for s in stages)
    if fmt == "bed":
        return (f'track name="dnahnet_chunks_{which.replace("+", "_")}" '
                f'description="dnaHNet learned chunks ({which}), model {model_name}; score = 1000*p" useScore=1\n')
    return (f'track type=bedGraph name="dnahnet_p_s{stages[0]}" '
            f'description="dnaHNet stage-{stages[0]} boundary probability, model {model_name}" viewLimits=0:1\n')


def record_summary(rb: RecordBoundaries) -> dict[str, Any]:
    """One record's line in the sidecar's ``records``."""
    row = {"name": rb.name, "length": rb.length, "windows": rb.n_windows,
           "s1_chunks": int(rb.s1_mask.sum()), "s1_selected_fraction": round(rb.selected_fraction(1), 6)}
    if rb.n_stages > 1:
        row.update({"s2_chunks": int(rb.s2_mask.sum()), "s2_selected_fraction": round(rb.selected_fraction(2), 6)})
    return row


def provenance(run: BoundaryRun, head: dict[str, Any], fmt: str, stage: str, output: Path | None) -> dict[str, Any]:
    """The run's provenance: ``head`` (command, then the model's), the run's parameters and the format."""
    p = run.parameters
    prov = {
        **head, "input": p["input"], "context": p["context"], "stride": p["stride"],
        "stage": stage, "stages_written": p["stages_written"], "format": fmt,
        "coordinates": "0-based half-open",
        "score": "round(1000*p) of the chunk's start decision" if fmt == "bed" else "bedGraph value = boundary probability p",
        "long_record_rule": p["long_record_rule"],
    }
    if fmt == "bigwig":
        prov["files"] = {f"s{s}": str(path) for s, path in bigwig_paths(output, run.stages, stage == "all").items()}
        prov["score"] = "bigWig value = boundary probability p (s1: per base; s2: over each stage-1 chunk's span)"
    return prov


def write_boundaries(run: BoundaryRun, output: Path | None, head: dict[str, Any], fmt: str = "bed", stage: str = "all",
                     track: bool = False) -> list[dict[str, Any]]:
    """Write ``run`` as ``fmt`` (bed, bedgraph or bigwig; bigwig needs ``output``) to ``output``
    (None: stdout), with a UCSC track line first if ``track`` (BED and bedGraph only).

    ``stage`` is the --stage option as given (1, 2 or all; provenance, and with bigwig whether one
    file per stage is written). Provenance: ``head`` (command, model) and the run's parameters, in
    the sidecar OUT.json, or on stderr in one line when writing to stdout. Returns one summary row
    per record. A progress bar (records) on stderr when it is a terminal.
    """
    from tqdm import tqdm

    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    prov = provenance(run, head, fmt, stage, output)
    files = bigwig_paths(output, run.stages, stage == "all") if fmt == "bigwig" else {}
    summary: list[dict[str, Any]] = []
    sidecar = sidecar_path(output) if output is not None else None
    with contextlib.ExitStack() as stack:
        if files:
            from dnahnet_core.tracks import TrackWriter

            sizes = run.sizes()
            writers = {s: stack.enter_context(TrackWriter(path, sizes, "bigwig")) for s, path in files.items()}
        else:
            out = stack.enter_context(output_stream(output))
        try:
            if sidecar is not None:
                write_json_atomic(sidecar, {**prov, "complete": False})
            if track and not files:
                out.write(track_line(fmt, run.stages, str(head["model"])))
            for rb in tqdm(run.results, unit="rec", file=sys.stderr, disable=not sys.stderr.isatty()):
                if files:
                    add_tracks(writers, rb)
                else:
                    out.write(record_text(rb, run.stages, fmt))
                    out.flush()
                summary.append(record_summary(rb))
        except (DnaHNetError, OSError):
            if sidecar is not None:
                with contextlib.suppress(OSError):
                    os.remove(sidecar)
            raise
    if sidecar is not None:
        write_json_atomic(sidecar, {**prov, "complete": True, "records": summary})
    else:
        totals = {"records": len(summary), "bases": sum(r["length"] for r in summary),
                  "s1_chunks": sum(r["s1_chunks"] for r in summary)}
        if run.model_stages > 1:
            totals["s2_chunks"] = sum(r.get("s2_chunks", 0) for r in summary)
        keep = ("command", "dnahnet_version", "model", "model_sha256", "context", "stride", "format", "coordinates")
        _note(sys.stderr, {**{k: prov[k] for k in keep}, **totals})
    return summary


def _note(stream: IO[str], data: dict) -> None:
    stream.write("dnahnet: provenance: " + json.dumps(data, separators=(",", ":")) + "\n")
