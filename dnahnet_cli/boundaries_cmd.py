"""``dnahnet boundaries``: the model's learned chunks of a genome as BED (or bedGraph)."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from enum import Enum
from pathlib import Path
from typing import IO, Optional

import typer


from .common import Device
from .errors import EXIT_USAGE, fail, friendly_errors


class Stage(str, Enum):
    one = "1"
    two = "2"
    all = "all"


class Format(str, Enum):
    bed = "bed"
    bedgraph = "bedgraph"
    bigwig = "bigwig"



RULE = (
    "records longer than --context are cut into windows of --context bases every --stride bases; "
    "each nucleotide's stage-1 decision comes from the one window that takes it (>= context-stride "
    "bases of left context); the stage-2 decision about the stage-1 chunk starting at j comes from "
    "the window that supplies j's stage-1 decision; position 0 of every record starts a chunk at both "
    "stages (p=1)"
)


def format_bed(name: str, table) -> str:
    """BED6 lines of one record's chunk table (see dnahnet_core.scoring.boundaries.ChunkTable)."""
    labels = ("", "s1", "s2")
    return "".join(
        f"{name}\t{s}\t{e}\t{labels[k]}\t{c}\t.\n"
        for s, e, k, c in zip(table.starts.tolist(), table.ends.tolist(), table.stage.tolist(), table.scores.tolist())
    )


def format_bedgraph(name: str, starts, ends, values) -> str:
    """bedGraph lines: chrom start end value (0-based half-open), value with 6 decimals."""
    return "".join(f"{name}\t{s}\t{e}\t{v:.6f}\n" for s, e, v in zip(starts.tolist(), ends.tolist(), values.tolist()))


def record_text(rb, stages: tuple[int, ...], fmt: str) -> str:
    import numpy as np

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


def add_tracks(writers: dict, rb) -> None:
    """One record's boundary probabilities into each stage's track: stage 1 per base, stage 2 over
    each stage-1 chunk's span (as the bedGraph)."""
    if 1 in writers:
        writers[1].add_per_base(rb.name, rb.s1_prob)
    if 2 in writers:
        chunks = rb.chunks(1)
        writers[2].add_intervals(rb.name, chunks.starts, chunks.ends, rb.s2_prob)


def track_line(fmt: str, stages: tuple[int, ...], model_name: str) -> str:
    which = "+".join(f"s{s}" for s in stages)
    if fmt == "bed":
        return (f'track name="dnahnet_chunks_{which.replace("+", "_")}" '
                f'description="dnaHNet learned chunks ({which}), model {model_name}; score = 1000*p" useScore=1\n')
    return (f'track type=bedGraph name="dnahnet_p_s{stages[0]}" '
            f'description="dnaHNet stage-{stages[0]} boundary probability, model {model_name}" viewLimits=0:1\n')


@friendly_errors
def boundaries_command(
    genome: Path = typer.Argument(..., help="FASTA file (plain, gzip or bgzip), one or more records."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Output file (default: stdout). With -o, provenance goes to OUT.json next to it (e.g. chunks.bed.json)."),
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="Checkpoint (.safetensors); default: the embedded model."),
    stage: Optional[Stage] = typer.Option(None, "--stage", help="1, 2 or all. Default: all for bed and bigwig, 1 for bedgraph (a bedGraph holds one track)."),
    fmt: Format = typer.Option(Format.bed, "--format", case_sensitive=False, help="bed: BED6 chunks. bedgraph: stage-1 boundary probability per base, or (--stage 2) the stage-2 probability over each stage-1 chunk's span. bigwig: the same tracks as bigWig files (needs -o; with --stage all, the default, one file per stage: OUT.s1.bw and OUT.s2.bw)."),
    track: bool = typer.Option(False, "--track-line", help="Start the output with one UCSC 'track' line (genome browsers); without it the output has no header line at all (bedtools)."),
    context: int = typer.Option(8192, min=1, help="Window length; longer records are processed in overlapping windows."),
    stride: Optional[int] = typer.Option(None, min=1, help="Step between windows (default context/2): every decision is taken from a window where the position has at least context-stride bases of left context."),
    device: Device = typer.Option(Device.auto, envvar="DNAHNET_DEVICE", help="auto, cpu or cuda."),
    batch_size: int = typer.Option(8, min=1, help="Windows per forward pass (also capped by a token budget)."),
) -> None:
    """Learned chunk boundaries: where dnaHNet cuts each record, at chunking stages 1 and 2.

    BED6 output, 0-based half-open: chrom start end name score strand, one line per chunk;
    name s1 or s2 = stage; score = round(1000*p) of the chunk's start decision (0-1000); strand '.'.
    A chunk is [its start, next start of the same stage); each stage's chunks tile every record,
    and every s2 start is an s1 start. The first base of each record starts a chunk at both stages
    (score 1000). Lines are sorted by record (FASTA order), start, then stage; chrom = the FASTA
    record name (first word). No header lines unless --track-line.

    Long records (longer than --context, default 8192): overlapping windows every --stride bases
    (default context/2). The stage-1 decision of each base comes from the one window that takes it,
    where it has at least context-stride bases of left context. The stage-2 decision about the
    stage-1 chunk starting at base j comes from the same window that supplies j's stage-1 decision;
    a window's own stage-1 calls in its left context are never output.

    Provenance (model, checksum, settings): with -o, a JSON sidecar OUT.json; on stdout, one line on
    stderr when the run ends. Progress on stderr only on a terminal.

    Example: dnahnet boundaries genome.fa > chunks.bed
    """
    from tqdm import tqdm

    from dnahnet_core.data.fasta import fasta_sizes, read_fasta
    from dnahnet_core.tracks import TrackWriter
    from dnahnet_core.errors import DnaHNetError
    from dnahnet_core.scoring.boundaries import check_model_stages, iter_boundaries
    from dnahnet_core.scoring.engine import LikelihoodEngine, resolve_device
    from dnahnet_core.scoring.model_io import open_model
    from dnahnet_core.distributed import drain, finish, init_ranks

    from .common import check_output_path, command_line, output_stream, sidecar_path, write_json_atomic

    # Usage errors (exit 2, like Click's own): choices and ranges are checked by Click while parsing.
    fmt = Format(fmt).value
    stage = Stage(stage).value if stage is not None else ("1" if fmt == "bedgraph" else "all")
    if fmt == "bedgraph" and stage == "all":
        fail("--stage all: a bedGraph holds one track; use --stage 1 or --stage 2", EXIT_USAGE)
    if fmt == "bigwig" and output is None:
        fail("--format bigwig writes binary files: pass -o OUT.bw", EXIT_USAGE)
    stride = stride or max(1, context // 2)
    if stride > context:
        fail(f"--stride {stride}: need stride <= context ({context})", EXIT_USAGE)
    check_output_path(output)

    dev = resolve_device(Device(device).value)
    loaded = open_model(model, device=str(dev))
    engine = LikelihoodEngine(loaded.model, dev, batch_size=batch_size)
    n_stages = check_model_stages(engine)
    stages: tuple[int, ...] = (1, 2) if stage == "all" else (int(stage),)
    if n_stages < 2 and 2 in stages:
        if stage == "2":
            raise DnaHNetError(f"{loaded.path}: this model has a single chunking stage: there is no stage 2")
        stages = (1,)
        sys.stderr.write("dnahnet: warning: this model has a single chunking stage; writing stage 1 only\n")

    ranks = init_ranks(dev)
    results = iter_boundaries(read_fasta(genome), engine, context, stride, ranks, chunk=max(16, 2 * batch_size))
    if not ranks.is_main:
        drain(results, ranks)
        return

    provenance = {
        "command": command_line(), **loaded.provenance(), "input": str(genome), "context": context, "stride": stride,
        "stage": stage, "stages_written": [f"s{s}" for s in stages], "format": fmt,
        "coordinates": "0-based half-open",
        "score": "round(1000*p) of the chunk's start decision" if fmt == "bed" else "bedGraph value = boundary probability p",
        "long_record_rule": RULE,
    }
    files = bigwig_paths(output, stages, stage == "all") if fmt == "bigwig" else {}
    if files:
        provenance["files"] = {f"s{s}": str(path) for s, path in files.items()}
        provenance["score"] = "bigWig value = boundary probability p (s1: per base; s2: over each stage-1 chunk's span)"
    summary: list[dict] = []
    sidecar = sidecar_path(output) if output is not None else None
    try:
        with contextlib.ExitStack() as stack:
            if files:
                sizes = fasta_sizes(genome)
                writers = {s: stack.enter_context(TrackWriter(path, sizes, "bigwig")) for s, path in files.items()}
            else:
                out = stack.enter_context(output_stream(output))
            try:
                if sidecar is not None:
                    write_json_atomic(sidecar, {**provenance, "complete": False})
                if track and not files:
                    out.write(track_line(fmt, stages, loaded.name))
                for rb in tqdm(results, unit="rec", file=sys.stderr, disable=not sys.stderr.isatty()):
                    if files:
                        add_tracks(writers, rb)
                    else:
                        out.write(record_text(rb, stages, fmt))
                        out.flush()
                    row = {"name": rb.name, "length": rb.length, "windows": rb.n_windows,
                           "s1_chunks": int(rb.s1_mask.sum()), "s1_selected_fraction": round(rb.selected_fraction(1), 6)}
                    if rb.n_stages > 1:
                        row.update({"s2_chunks": int(rb.s2_mask.sum()), "s2_selected_fraction": round(rb.selected_fraction(2), 6)})
                    summary.append(row)
            except (DnaHNetError, OSError):
                if sidecar is not None:
                    with contextlib.suppress(OSError):
                        os.remove(sidecar)
                raise
        if sidecar is not None:
            write_json_atomic(sidecar, {**provenance, "complete": True, "records": summary})
        else:
            totals = {"records": len(summary), "bases": sum(r["length"] for r in summary),
                      "s1_chunks": sum(r["s1_chunks"] for r in summary)}
            if n_stages > 1:
                totals["s2_chunks"] = sum(r.get("s2_chunks", 0) for r in summary)
            keep = ("command", "dnahnet_version", "model", "model_sha256", "context", "stride", "format", "coordinates")
            _note(sys.stderr, {**{k: provenance[k] for k in keep}, **totals})
    finally:
        finish(ranks)


def _note(stream: IO[str], data: dict) -> None:
    stream.write("dnahnet: provenance: " + json.dumps(data, separators=(",", ":")) + "\n")
