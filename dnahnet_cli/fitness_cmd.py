"""``dnahnet fitness``: zero-shot scores of a variant library of one target, against measured fitness."""

from __future__ import annotations

import json
import math
import re
import sys
from collections import Counter
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from .common import Device
from .errors import friendly_errors

COLUMNS = ["row", "variant", "assay", "measured", "mut_ll", "wt_ll", "delta", "status", "note"]


class TargetStrand(str, Enum):
    plus = "+"
    minus = "-"


def _parse_cds(text: Optional[str]) -> Optional[tuple[int, int]]:
    if text is None:
        return None
    m = re.fullmatch(r"\s*([1-9][0-9]*)\s*\.\.\s*([1-9][0-9]*)\s*", text)
    if m is None or int(m[1]) > int(m[2]):
        raise typer.BadParameter(f"expected START..END, 1-based with START <= END (e.g. 848..964), got {text!r}", param_hint="--cds")
    return int(m[1]), int(m[2])


def _cell(value: object) -> str:
    if value is None:
        return "NA"
    if isinstance(value, float):
        return "NA" if value != value else f"{value:.6f}"
    return str(value).replace("\t", " ").replace("\n", " ").replace("\r", " ")


def format_row(r) -> str:
    measured = r.row.score_text or None  # as written; NA when empty or no score column
    values = [r.row.number, r.row.variant, r.row.assay, measured, r.mut_ll, r.wt_ll, r.delta, r.status, r.note]
    return "\t".join(_cell(v) for v in values) + "\n"


def correlation_table(corrs) -> str:
    """The Spearman table for stderr: one line per assay."""
    width = max([5] + [len(c.assay or "all") for c in corrs])
    lines = [f"{'assay':<{width}}  {'n':>6}  spearman_rho"]
    for c in corrs:
        rho = "NA" if math.isnan(c.rho) else f"{c.rho:+.4f}"
        lines.append(f"{c.assay or 'all':<{width}}  {c.n:>6}  {rho}")
    return "\n".join(lines) + "\n"


@friendly_errors
def fitness_command(
    library: Path = typer.Argument(..., help="Variant library: TSV or CSV (plain or gzip; '#' lines are comments) with one variant per row."),
    target: Path = typer.Option(..., "--target", "-t", help="FASTA holding the wild-type target sequence the variants refer to (plain, gzip or bgzip)."),
    record: Optional[str] = typer.Option(None, "--record", help="The target's record name in --target (needed when the FASTA has several records)."),
    strand: TargetStrand = typer.Option(TargetStrand.plus, "--strand", help="+: the record is the coding strand; -: it is the reverse complement (it is reverse-complemented before numbering, editing and scoring)."),
    cds: Optional[str] = typer.Option(None, "--cds", metavar="START..END", help="Coding sequence on the record, 1-based inclusive in the record's own coordinates (START <= END; on --strand - the CDS starts at END): c.1 is its first base, c.-N and c.*N lie 5' and 3' of it. Default: c.1 is the target's first base."),
    variant_column: Optional[str] = typer.Option(None, "--variant-column", help="Column of variants: HGVS c./n. edits of the target (c.76A>T, c.76_78del, c.76_77insTTG, c.76_78delinsGG, c.76dup, c.[76A>T;80del], ...) or whole mutant sequences (A/C/G/T, coding orientation). Default: the first of hgvs_nt, hgvs, variant, sequence."),
    score_column: Optional[str] = typer.Option(None, "--score-column", help="Column of measured fitness scores: prints Spearman's rho of delta against them. Default: 'score' if the library has it."),
    assay_column: Optional[str] = typer.Option(None, "--assay-column", help="Column naming the assay of each row: one Spearman rho per assay. Default: 'assay' if the library has it."),
    genome: Optional[Path] = typer.Option(None, "--genome", "-g", help="Genome FASTA holding the target (exact copy, either strand) for --flank."),
    flank: int = typer.Option(0, "--flank", min=0, help="Score every sequence with this many genomic bases on each side (from --genome; clipped at contig ends); they are part of both LLs."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="TSV output (default: stdout)."),
    summary: Optional[Path] = typer.Option(None, "--summary", help="Also write the status counts and the Spearman correlations (with the provenance) as JSON."),
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="Checkpoint (.safetensors); default: the embedded model."),
    device: Device = typer.Option(Device.auto, "--device", envvar="DNAHNET_DEVICE", help="auto, cpu or cuda."),
    batch_size: int = typer.Option(8, "--batch-size", min=1, help="Windows per forward pass (also capped by a token budget)."),
) -> None:
    """Score a variant library of one target: delta = LL(mutant) - LL(wild type), natural log.

    Zero-shot fitness prediction (the dnaHNet publication's MaveDB task). Each row's variant is
    applied to the wild-type target; the mutant and the wild type are scored as whole sequences
    in coding orientation (--strand - reverse-complements the record first), with --flank genomic
    bases on each side when given. Negative delta = the mutant is less likely under the model =
    predicted less fit. Targets longer than 8,192 bases are scored in overlapping windows as
    dnahnet score does.

    Numbering: n.1 is the target's first base in coding orientation; c.1 is the first base of
    --cds, else the target's first base too. HGVS is read strictly: upper-case A/C/G/T bases,
    an optional accession prefix (NM_x:c.76A>T; ignored), REF bases checked against the target.

    Output TSV columns: row variant assay measured mut_ll wt_ll delta status note, after '#'
    provenance lines; row is the 1-based data row of the library. status is ok or why a row was
    not scored: ref_mismatch, out_of_range, overlapping_edits, bad_hgvs, unsupported (intronic
    offsets, g./p./r. variants, uncertain positions, repeats), non_acgt, no_variant; note says
    more in one line. With a score column, Spearman's rho (signed) of delta against the measured
    scores over ok rows with a numeric score is printed per assay on stderr (and to --summary).

    \b
    Example: dnahnet fitness library.tsv --target geneJ.fa --score-column score -o scored.tsv
    """
    from tqdm import tqdm

    from dnahnet_core.atomic import atomic_path
    from dnahnet_core.data.fasta import read_fasta
    from dnahnet_core.data.hgvs import HgvsError, parse_hgvs
    from dnahnet_core.data.library import read_library
    from dnahnet_core.errors import InputError
    from dnahnet_core.scoring.engine import LikelihoodEngine, resolve_device
    from dnahnet_core.scoring.fitness import (DEFAULT_CONTEXT, STATUSES, correlations, genomic_flanks, ids_to_text,
                                              make_target, score_library)
    from dnahnet_core.scoring.model_io import open_model

    from .common import check_output_path, command_line, output_stream, tsv_header

    cds_range = _parse_cds(cds)
    if flank > 0 and genome is None:
        raise typer.BadParameter("--flank needs --genome (the genome the flanks come from)", param_hint="--flank")
    if genome is not None and flank == 0:
        raise typer.BadParameter("--genome is only used for flanks: give --flank N", param_hint="--genome")
    check_output_path(output)
    check_output_path(summary)

    lib = read_library(library, variant_column, score_column, assay_column)
    if not target.exists():
        raise InputError("no such file", path=str(target))
    records = {r.name: r.ids for r in read_fasta(target)}
    if record is None:
        if len(records) > 1:
            names = list(records)
            raise InputError(f"{len(records)} records; name the target with --record ({', '.join(names[:5])}{', ...' if len(names) > 5 else ''})",
                             path=str(target))
        record = next(iter(records))
    elif record not in records:
        raise InputError(f"no record {record!r} (records: {', '.join(list(records)[:5])})", path=str(target))
    wt_text = ids_to_text(records[record])
    if cds_range is not None and cds_range[1] > len(wt_text):
        raise InputError(f"--cds {cds_range[0]}..{cds_range[1]} runs past the end of the target ({len(wt_text)} bases)",
                         path=str(target), record=record)
    flanks, source = ("", ""), None
    if genome is not None:
        if not genome.exists():
            raise InputError("no such file", path=str(genome))
        contigs = {r.name: ids_to_text(r.ids) for r in read_fasta(genome)}
        try:
            flanks, source = genomic_flanks(wt_text, contigs, flank)
        except InputError as err:
            raise InputError(err.detail, path=str(genome), record=record) from None
    tgt = make_target(record, wt_text, strand.value if isinstance(strand, TargetStrand) else strand, cds_range, flanks)

    accessions = set()
    for row in lib.rows:
        try:
            acc = parse_hgvs(row.variant).accession
        except HgvsError:
            continue
        if acc:
            accessions.add(acc)
    if len(accessions) > 1:
        sys.stderr.write(f"dnahnet fitness: warning: the variants name {len(accessions)} accessions ({', '.join(sorted(accessions)[:3])}); "
                         f"all are applied to record {record!r}\n")

    dev = resolve_device(Device(device).value)
    loaded = open_model(model, device=str(dev))
    engine = LikelihoodEngine(loaded.model, dev, batch_size=batch_size)

    n = tgt.numbering
    if cds_range is None:
        numbering = "c.1 = n.1 = the target's first base (coding orientation)"
    else:
        numbering = (f"c.1 = record position {cds_range[0] if tgt.strand == '+' else cds_range[1]} (CDS {cds_range[0]}..{cds_range[1]}, "
                     f"strand {tgt.strand}; n.{n.cds_start + 1}); n.1 = the target's first base (coding orientation)")
    window = f"the whole target ({len(tgt.sequence)} bases)"
    if source is not None:
        window += (f" + {len(tgt.left_flank)} / {len(tgt.right_flank)} flanking bases 5' / 3' from {genome} "
                   f"({source.contig}:{source.start + 1}-{source.end}, {'same' if source.orientation == '+' else 'opposite'} strand as the record)")
    provenance = {
        "command": command_line(),
        **loaded.provenance(),
        "library": str(library),
        "variant_column": lib.variant_column,
        "score_column": lib.score_column or "none",
        "assay_column": lib.assay_column or "none",
        "target": f"{target} record {record} ({len(wt_text)} bases)",
        "strand": "+ (record as written)" if tgt.strand == "+" else "- (record reverse-complemented)",
        "numbering": numbering,
        "window": window,
        "context": DEFAULT_CONTEXT,
        "delta": "LL(mutant) - LL(wild type), natural log, summed over the window's A/C/G/T bases",
        "log_base": "e (natural log)",
    }

    tally: Counter = Counter()
    results = []
    rows = tqdm(lib.rows, unit="variant", file=sys.stderr, disable=not sys.stderr.isatty())
    try:
        with output_stream(output) as out:
            out.write(tsv_header(provenance) + "\t".join(COLUMNS) + "\n")
            for res in score_library(rows, tgt, engine):
                tally[res.status] += 1
                results.append(res)
                out.write(format_row(res))
    finally:
        rows.close()

    parts = [f"{s} {tally[s]}" for s in STATUSES if tally[s]]
    sys.stderr.write(f"dnahnet fitness: {len(results)} variants: {', '.join(parts)}\n")
    corrs = correlations(results) if lib.score_column else []
    if corrs:
        sys.stderr.write(correlation_table(corrs))
    if summary is not None:
        doc = {
            "provenance": provenance,
            "variants": len(results),
            "statuses": {s: tally[s] for s in STATUSES if tally[s]},
            "wt_ll": next((r.wt_ll for r in results if r.wt_ll is not None), None),
            "spearman": [{"assay": c.assay or None, "n": c.n, "rho": None if math.isnan(c.rho) else c.rho} for c in corrs],
        }
        with atomic_path(summary) as tmp:
            tmp.write_text(json.dumps(doc, indent=2) + "\n")
