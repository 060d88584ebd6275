"""``dnahnet essentiality``: zero-shot gene essentiality by in-silico knockout, as TSV."""

from __future__ import annotations

import sys
from collections import Counter
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from dnahnet_core.scoring.knockout_defaults import DEFAULT_CASSETTE, DEFAULT_OFFSET, DEFAULT_WINDOW

from dnahnet_core.atomic import atomic_path

from .common import Device
from .errors import friendly_errors

COLUMNS = ["gene_id", "locus_tag", "gene_name", "chrom", "start", "end", "strand",
           "wt_ll", "ko_ll", "score", "essential", "status"]


class Protocol(str, Enum):
    local = "local"
    centred = "centred"


class Circular(str, Enum):
    auto = "auto"
    yes = "yes"
    no = "no"


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6f}"
    return str(value).replace("\t", " ").replace("\n", " ")


def format_row(s) -> str:
    g = s.gene
    # Output coordinates are GFF-style: 1-based, inclusive end (start0 + 1 .. end0).
    values = [g.gene_id, g.locus_tag, g.gene_name, g.chrom, g.start0 + 1, g.end0, g.strand,
              s.wt_ll, s.ko_ll, s.score, s.essential, s.status]
    return "\t".join(_cell(v) for v in values) + "\n"


def _names(names: list[str], limit: int = 10) -> str:
    if not names:
        return "none"
    return ", ".join(names[:limit]) + (f", ... ({len(names)} in all)" if len(names) > limit else "")


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
    from tqdm import tqdm

    from dnahnet_core.data.annotation import read_annotation
    from dnahnet_core.data.fasta import read_fasta
    from dnahnet_core.errors import InputError
    from dnahnet_core.scoring.engine import LikelihoodEngine, resolve_device
    from dnahnet_core.scoring.essentiality import (
        KnockoutConfig, assign_essential, evaluate_labels, is_circular, score_genes)
    from dnahnet_core.data.labels import read_labels
    from dnahnet_core.scoring.model_io import open_model
    from dnahnet_core.distributed import drain, finish, init_ranks, ordered_map

    from dnahnet_core.scoring.essentiality import GeneScore

    from .common import check_output_path, command_line, tsv_header
    from .resumable import ResumableOutput, committed_items, file_identity, keep_committed_on_interrupt

    cfg = KnockoutConfig(window=window, offset=offset, cassette=cassette.upper(), circular=circular.value,
                         protocol=Protocol(protocol).value, left_context=left_context, downstream=downstream)
    check_output_path(output)
    ann = read_annotation(annotation)
    truth = read_labels(labels) if labels is not None else None
    if genome is not None and genome != "-":
        if not Path(genome).exists():
            raise InputError("no such file", path=genome)
        genomes = {rec.name: rec.ids for rec in read_fasta(genome)}
        genome_source = genome
    elif ann.sequences:
        genomes = ann.sequences
        genome_source = f"sequence in {annotation}"
    else:
        raise InputError("no GENOME given and the annotation carries no sequence; give a genome FASTA", path=str(annotation))
    if not any(g.chrom in genomes for g in ann.genes):
        sys.stderr.write(
            f"dnahnet essentiality: warning: no annotation sequence name ({_names(sorted({g.chrom for g in ann.genes}), 3)}) "
            f"matches a genome record ({_names(sorted(genomes), 3)}); every gene will be unknown_contig\n")

    dev = resolve_device(Device(device).value)
    loaded = open_model(model, device=str(dev))
    engine = LikelihoodEngine(loaded.model, dev, batch_size=batch_size)
    ranks = init_ranks(dev)
    genes = ann.genes
    key = {"command": "essentiality", "genome": file_identity(genome if genome not in (None, "-") else None),
           "annotation": file_identity(annotation), "model": loaded.sha256, "window": cfg.window, "offset": cfg.offset,
           "cassette": cfg.cassette, "circular": cfg.circular,
           "protocol": cfg.protocol, "left_context": cfg.left_context, "downstream": cfg.downstream, "fraction": essential_fraction, "threshold": essential_threshold}
    out = ResumableOutput(output, key, resume) if ranks.is_main and output is not None else None
    done = out.done if out is not None else committed_items(output, resume)
    chunk = max(2, batch_size)
    results = ordered_map(genes[done:], lambda part: score_genes(part, genomes, ann.topology, engine, cfg),
                          ranks, chunk=chunk)
    if not ranks.is_main:
        drain(results, ranks)
        return

    chroms = sorted({g.chrom for g in genes if g.chrom in genomes})
    circ = [c for c in chroms if is_circular(c, cfg.circular, ann.topology)]
    lin = [c for c in chroms if c not in circ]
    if essential_threshold is not None:
        rule = f"1 where score >= {essential_threshold}, else 0; skipped genes empty"
    else:
        rule = (f"top {essential_fraction * 100:g}% of scored genes by score (k = round(fraction * n_scored); ties at the cut "
                f"included) get 1, the rest 0; skipped genes empty; filled in when the run completes")
    provenance = {
        "command": command_line(), **loaded.provenance(),
        "genome": genome_source, "annotation": f"{annotation} ({ann.format})",
        "protocol": (f"local (left context >= {cfg.left_context} nt in 1,024-nt blocks; suffix = cassette to {cfg.downstream} nt past the gene)"
                     if cfg.protocol == "local" else f"centred (window {cfg.window} nt)"),
        "window": cfg.window, "offset": cfg.offset, "cassette": cfg.cassette,
        "circular": f"{cfg.circular}; circular: {_names(circ)}; linear: {_names(lin)}",
        "coordinates": "start/end 1-based, inclusive end (as in GFF3/GenBank); windows read 5'->3' along each gene",
        "score": "wt_ll - ko_ll (natural log, summed over the " + ("suffix" if cfg.protocol == "local" else "window") + "); larger = more likely essential",
        "essential_rule": rule,
    }
    header = tsv_header(provenance) + "\t".join(COLUMNS) + "\n"
    streaming_final = essential_threshold is not None  # rows are final when written
    # Genes finished before an interruption, with full-precision values from the progress record.
    rows = [GeneScore(gene, *values) for gene, values in zip(genes, out.extra.get("rows", []) if out else [])]
    bar = tqdm(results, total=len(genes), initial=done, unit="gene", file=sys.stderr, disable=not sys.stderr.isatty())
    try:
        with keep_committed_on_interrupt(out):
            if out is not None:
                if not done:
                    out.write(header)
                    out.commit(0, {"rows": []})
                for s in bar:
                    if streaming_final:
                        assign_essential([s], threshold=essential_threshold)
                    rows.append(s)
                    out.write(format_row(s))
                    if (len(rows) - done) % chunk == 0:  # chunk boundaries: a resumed run batches alike
                        out.commit(len(rows), {"rows": [[r.status, r.wt_ll, r.ko_ll, r.score, r.essential] for r in rows]})
                if streaming_final:
                    out.finish()
                else:
                    assign_essential(rows, fraction=essential_fraction)

                    def with_essential(partial: Path, final: Path) -> None:
                        with atomic_path(final) as tmp:  # the streamed rows, now with their essential column
                            tmp.write_text(header + "".join(format_row(s) for s in rows))

                    out.finish(with_essential)
            elif streaming_final:
                sys.stdout.write(header)
                for s in bar:
                    assign_essential([s], threshold=essential_threshold)
                    rows.append(s)
                    sys.stdout.write(format_row(s))
                    sys.stdout.flush()
            else:
                rows = list(bar)
                assign_essential(rows, fraction=essential_fraction)
                sys.stdout.write(header + "".join(format_row(s) for s in rows))
                sys.stdout.flush()
    finally:
        bar.close()
        finish(ranks)

    counts = Counter(s.status for s in rows)
    skipped = ", ".join(f"{n} {st}" for st, n in sorted(counts.items()) if st != "ok")
    summary = f"dnahnet essentiality: {len(rows)} CDS, {counts.get('ok', 0)} scored" + (f" (skipped: {skipped})" if skipped else "")
    if truth is not None:
        ev = evaluate_labels(rows, truth)
        summary += (f"; AUROC {ev.auroc:.4f} on {ev.n_labelled} labelled genes ({ev.n_essential} essential, "
                    f"{ev.n_labelled - ev.n_essential} non-essential)")
        if ev.n_unmatched:
            summary += f"; {ev.n_unmatched} labels matched no scored gene"
    sys.stderr.write(summary + "\n")
