"""``dnahnet boundaries``: the model's learned chunks of a genome as BED (or bedGraph)."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Optional

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
    from dnahnet_core.scoring.boundaries import chunk_boundaries
    from dnahnet_core.scoring.session import ScoringSession, drive

    from .common import check_output_path, command_line
    from .writers.boundaries import write_boundaries

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

    with ScoringSession.open(model, Device(device).value, batch_size) as session:
        run = chunk_boundaries(session, genome, stages=None if stage == "all" else (int(stage),), context=context, stride=stride)
        if stage == "all" and run.model_stages < 2:
            sys.stderr.write("dnahnet: warning: this model has a single chunking stage; writing stage 1 only\n")
        if not session.is_main:
            return drive(run)
        write_boundaries(run, output, {"command": command_line(), **session.provenance()}, fmt=fmt, stage=stage, track=track)
