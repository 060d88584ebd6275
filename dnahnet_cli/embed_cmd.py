"""``dnahnet embed``: hidden states per stage (per nucleotide, per chunk) to HDF5, for probes."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from .common import Device
from .errors import EXIT_USAGE, fail, friendly_errors


class Dtype(str, Enum):
    float32 = "float32"
    float16 = "float16"


def parse_stages(text: str) -> list[int]:
    """'0,1,2' -> [0, 1, 2]; a usage error (exit 2) for anything else."""
    try:
        stages = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        stages = []
    if not stages or any(s < 0 for s in stages):
        fail(f"--stages {text!r}: give stage numbers separated by commas, e.g. 0,1,2", EXIT_USAGE)
    return stages


@friendly_errors
def embed_command(
    seqs: Path = typer.Argument(..., help="FASTA file (plain, gzip or bgzip), one or more records."),
    output: Path = typer.Option(..., "--output", "-o", help="HDF5 output (written under a temporary name and renamed when complete)."),
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="Checkpoint (.safetensors); default: the embedded model."),
    stages: Optional[str] = typer.Option(None, "--stages", metavar="LIST", help="Stages to write, comma-separated: 0 = one vector per nucleotide (final hidden state before the LM head), 1 and 2 = one vector per stage-1 / stage-2 chunk (what that stage hands back before dechunking). Default: every stage of the model (0,1,2 for the embedded model)."),
    mean: bool = typer.Option(False, "--mean", help="Store only the mean vector of each record per stage (over its bases for stage 0, over its chunks for stages 1 and 2): /mean/stageK (n_records, D) and per record stageK_mean; memory and file size stay small for whole genomes."),
    dtype: Dtype = typer.Option(Dtype.float32, "--dtype", help="Floating-point type of the stored vectors (computed in float32 either way)."),
    context: int = typer.Option(8192, min=1, help="Window length; longer records are embedded in overlapping windows."),
    stride: Optional[int] = typer.Option(None, min=1, help="Step between windows (default context/2): every base's vector comes from the one window where it has at least context-stride bases of left context, as in dnahnet score."),
    device: Device = typer.Option(Device.auto, envvar="DNAHNET_DEVICE", help="auto, cpu or cuda."),
    batch_size: int = typer.Option(8, min=1, help="Windows per forward pass (also capped by a token budget)."),
) -> None:
    """Embed sequences: the model's hidden states per stage, to HDF5, for probes.

    Stage 0, one vector per nucleotide (width D0): the final hidden state, the outer decoder output
    that the LM head reads; the vector of base j has seen bases 0..j only (the model is causal) and
    is the one the model turns into its prediction of base j+1. Stages 1 and 2, one vector per chunk
    (widths D1, D2): the output of the network that runs on that stage's chunks, i.e. what the stage
    hands back before dechunking, at full inner width; the stage-1 vector already holds what stage 2
    handed back, the stage-2 vector is the innermost network's output. A chunk's vector sits at its
    first base j and has seen bases 0..j. These are the deepest representation at each resolution.

    Chunks are exactly those of dnahnet boundaries: stageK_start holds each chunk's first base,
    0-based in the record's coordinates; a chunk ends where the next one starts (the last at the
    record end); base 0 starts a chunk at every stage.

    Layout: one group per record in input order, /000000, /000001, ... (attributes name, length,
    n_windows), holding stage0 (length, D0), stage1 (n1, D1), stage1_start (n1,) int64, stage2 and
    stage2_start; /names and /lengths list the records. With --mean: per record stageK_mean (D,),
    and /mean/stageK (n_records, D) with /mean/stageK_count (bases or chunks averaged). Root
    attributes hold the provenance: command, dnahnet_version, model, model_path, model_sha256,
    context, stride, stages, dtype, mode and what each stage's vectors are. Datasets are chunked
    and gzip-compressed.

    Long records (longer than --context): windows of --context bases every --stride bases (the plan
    of dnahnet score); each base's vector comes from the one window that takes it, with at least
    context-stride bases of left context, each chunk's vector from the window that takes the
    chunk's first base. Every base is covered exactly once. Results do not depend on --batch-size.

    Example: dnahnet embed genome.fa -o genome.h5 --stages 0,1
    """
    from dnahnet_core.scoring.embed import embed_sequences
    from dnahnet_core.scoring.session import ScoringSession, drive

    from .common import check_output_path, command_line
    from .writers.embeddings import summary_line, write_embeddings

    requested = parse_stages(stages) if stages is not None else None
    stride = stride or max(1, context // 2)
    if stride > context:
        fail(f"--stride {stride}: need stride <= context ({context})", EXIT_USAGE)
    check_output_path(output)

    with ScoringSession.open(model, Device(device).value, batch_size) as session:
        run = embed_sequences(session, seqs, stages=requested, context=context, stride=stride, mean_only=mean)
        if not session.is_main:
            return drive(run)
        summary = write_embeddings(run, output, {"command": command_line(), **session.provenance()}, dtype=Dtype(dtype).value)
    sys.stderr.write(summary_line(summary, run, output))
