"""``dnahnet essentiality``: zero-shot gene essentiality by in-silico knockout, as TSV."""

from __future__ import annotations

import sys
from collections import Counter
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence

import typer

from dnahnet_core.scoring.knockout_defaults import DEFAULT_CASSETTE, DEFAULT_OFFSET, DEFAULT_WINDOW

from .common import Device
from .errors import friendly_errors

if TYPE_CHECKING:
    from dnahnet_core.scoring.essentiality import GeneScore


class Protocol(str, Enum):
    local = "local"
    centred = "centred"


class Circular(str, Enum):
    auto = "auto"
    yes = "yes"
    no = "no"


def _summary(rows: Sequence[GeneScore], truth: Optional[dict[str, int]]) -> str:
    """The stderr line: genes, scored, skipped by status and, with --labels, the AUROC."""
    from dnahnet_core.scoring.essentiality import evaluate_labels

    counts = Counter(s.status for s in rows)
    skipped = ", ".join(f"{n} {st}" for st, n in sorted(counts.items()) if st != "ok")
    summary = f"dnahnet essentiality: {len(rows)} CDS, {counts.get('ok', 0)} scored" + (f" (skipped: {skipped})" if skipped else "")
    if truth is not None:
        ev = evaluate_labels(rows, truth)
        summary += (f"; AUROC {ev.auroc:.4f} on {ev.n_labelled} labelled genes ({ev.n_essential} essential, "
                    f"{ev.n_labelled - ev.n_essential} non-essential)")
        if ev.n_unmatched:
            summary += f"; {ev.n_unmatched} labels matched no scored gene"
    return summary


@friendly_errors
def essentiality_command(
    genome: Optional[str] = typer.Argument(
        None, metavar="GENOME",
        help="Genome FASTA (plain, gzip or bgzip); record names must match the annotation's sequence names. "
             "Omit it (or give '-') when --annotation is a GenBank file that carries the sequence."),
    annotation: Path = typer.Option(..., "--annotation", "-a", help="Genes: GFF3 or GenBank, plain or gzip (format read from the content). Every CDS is one output row."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="TSV output (default: stdout)."),
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="Checkpoint (.safetensors); default: the embedded model."),
    protocol: Protocol = typer.Option(Protocol.local, "--protocol", help="local: the wild type run once per 1,024-nt block as a carried state; each knockout costs only its suffix (cassette, rest of the gene, --downstream bases) forked from it. centred: the publication's whole windows (WINDOW bp centred on the gene, both scored in full)."),
    left_context: int = typer.Option(2048, "--left-context", "-C", min=0, help="local: at least this many bases before the cassette (C to C+1023)."),
    downstream: int = typer.Option(256, "--downstream", "-D", min=0, help="local: bases after the gene's end included in both suffixes."),
    window: int = typer.Option(DEFAULT_WINDOW, help="centred: window length (bp) centred on each gene. Both protocols: genes longer than this are skipped (too_long)."),
    offset: int = typer.Option(DEFAULT_OFFSET, help="The cassette starts this many nt after the first base of the start codon."),
    cassette: str = typer.Option(DEFAULT_CASSETTE, help="Bases written over the gene (length preserved); the default holds five in-frame stop codons."),
    circular: Circular = typer.Option(Circular.auto, help="Wrap windows at the origin: auto = the GenBank/GFF3 topology where it is given, else circular; yes; no (linear: windows shift inward at the ends)."),
    essential_fraction: float = typer.Option(0.2, min=0.0, max=1.0, help="Rule for the essential column: the top FRACTION of scored genes by score get 1, the rest 0 (skipped genes: empty)."),
    essential_threshold: Optional[float] = typer.Option(None, help="Instead of --essential-fraction: essential = 1 where score >= THRESHOLD (rows are then final as they are written, also on stdout)."),
    labels: Optional[Path] = typer.Option(None, help="TSV/CSV with columns locus_tag and essential (0/1): print the AUROC of the scores on stderr."),
    device: Device = typer.Option(Device.auto, envvar="DNAHNET_DEVICE", help="auto, cpu or cuda."),
    batch_size: int = typer.Option(8, min=1, help="Windows per forward pass (also capped by a token budget)."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run with the same inputs and options (needs -o): finished genes are kept, not recomputed; the result is the same file an uninterrupted run writes."),
) -> None:
    """Gene essentiality by in-silico knockout (dnaHNet publication protocol, or its local form).

    Each single-interval CDS is read 5'->3' along it (reverse complement for minus-strand genes)
    as wild type and with CASSETTE written OFFSET nt after the start codon's first base.
    Protocol local (default): wt_ll and ko_ll sum the log-probabilities of the suffix from the
    cassette to --downstream bases past the gene's end, both conditioned on the same wild-type left
    context (at least --left-context bases); the wild type is computed once per 1,024-nt block and
    each knockout forks from its state at the cassette. A gene that crosses the origin is
    out_of_range. Protocol centred: a WINDOW-bp window centred on the gene (circular replicons wrap
    at the origin, linear ones shift the window inward; a replicon shorter than the window is used
    whole), summed over the window. score = wt_ll - ko_ll (natural log); larger = more likely
    essential.

    Coordinates: GFF3 and GenBank input are 1-based; the output start/end are 1-based with an
    inclusive end, as in the annotation.
    Output TSV columns: gene_id locus_tag gene_name chrom start end strand wt_ll ko_ll score
    essential status, after '#' provenance lines. status is ok, or why a gene was skipped:
    multi_interval, unknown_contig, no_strand, out_of_range, too_long, too_short, non_acgt.
    With the default fraction rule the essential column needs every score: with -o the file fills
    as genes are scored and gets its essential column when the run ends; stdout gets the rows at
    the end.

    Example: dnahnet essentiality genome.fa --annotation genes.gff3 -o essentiality.tsv
    """
    from dnahnet_core.data.labels import read_labels
    from dnahnet_core.scoring.essentiality import KnockoutConfig, knock_out_genes
    from dnahnet_core.scoring.session import ScoringSession, drive

    from .common import check_output_path, command_line
    from .resumable import committed_items
    from .writers.knockouts import KnockoutWriter

    cfg = KnockoutConfig(window=window, offset=offset, cassette=cassette.upper(), circular=circular.value,
                         protocol=Protocol(protocol).value, left_context=left_context, downstream=downstream)
    check_output_path(output)
    truth = read_labels(labels) if labels is not None else None
    with ScoringSession.open(model, Device(device).value, batch_size) as session:
        run = knock_out_genes(session, annotation, genome if genome != "-" else None, cfg)
        if not session.is_main:
            run.skip = committed_items(output, resume)
            return drive(run)
        writer = KnockoutWriter(output, essential_fraction, essential_threshold, resume)
        writer.open(run, session.loaded.sha256)
        rows = writer.write(run, {"command": command_line(), **session.provenance()})
    sys.stderr.write(_summary(rows, truth) + "\n")
