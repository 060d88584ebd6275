"""``dnahnet score``: per-record likelihoods of FASTA sequences as TSV."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import Device
from .errors import friendly_errors


@friendly_errors
def score_command(
    seqs: Path = typer.Argument(..., help="FASTA file (plain, gzip or bgzip)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="TSV output (default: stdout)."),
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="Checkpoint (.safetensors); default: the embedded model."),
    context: int = typer.Option(8192, help="Window length; longer records are scored in overlapping windows."),
    stride: Optional[int] = typer.Option(None, help="Step between windows (default context-256, or context/2 below 512): every base is predicted once, with at least context-stride bases of left context; each base is computed about context/stride times."),
    per_base: Optional[Path] = typer.Option(None, "--per-base", help="Also write per-position log-likelihoods, format by extension: .h5 HDF5 (one float32 dataset per record, keyed 000000, 000001, ... in input order, with the record name as attribute 'name'; NaN at N); .bw/.bigwig bigWig or .bedgraph/.bg bedGraph track (0-based, chrom = record name, N positions left out; provenance in OUT.json beside it)."),
    both_strands: bool = typer.Option(False, "--both-strands", help="Average the forward and reverse-complement strands."),
    device: Device = typer.Option(Device.auto, envvar="DNAHNET_DEVICE", help="auto, cpu or cuda."),
    batch_size: int = typer.Option(8, help="Windows per forward pass (also capped by a token budget)."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run with the same inputs and options (needs -o): finished records are kept, not recomputed; the result is the same file an uninterrupted run writes."),
) -> None:
    """Score sequences: log-likelihood (natural log), bits per base and perplexity per record.

    Only A/C/G/T positions are scored (N and other ambiguity codes are counted in n_masked).
    Output TSV columns: name length n_scored n_masked log_likelihood bits_per_base perplexity,
    after '#' provenance lines.

    Example: dnahnet score genomes.fa -o scores.tsv
    """
    from dnahnet_core.scoring.sequences import resolve_stride, score_sequences
    from dnahnet_core.scoring.session import ScoringSession, drive

    from .common import check_output_path
    from .writers.sequences import SequenceWriter, check_per_base

    try:
        stride = resolve_stride(context, stride)
    except ValueError as err:
        raise typer.BadParameter(str(err)) from None
    check_output_path(output)
    check_output_path(per_base)
    check_per_base(per_base)
    with ScoringSession.open(model, Device(device).value, batch_size) as session:
        writer = SequenceWriter(session, seqs, output, per_base, resume, context, stride, both_strands)
        run = score_sequences(session, seqs, context=context, stride=stride, both_strands=both_strands,
                              per_base=per_base is not None, skip=writer.done)
        if not session.is_main:
            drive(run)  # this rank's share of the work; rank 0 writes
            return
        writer.write(run)
