"""``dnahnet fitness``: zero-shot scores of a variant library of one target, against measured fitness."""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from .common import Device
from .errors import friendly_errors


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
    from dnahnet_core.scoring.fitness import score_library
    from dnahnet_core.scoring.session import ScoringSession, drive

    from .common import check_output_path
    from .writers.fitness import write_fitness

    cds_range = _parse_cds(cds)
    if flank > 0 and genome is None:
        raise typer.BadParameter("--flank needs --genome (the genome the flanks come from)", param_hint="--flank")
    if genome is not None and flank == 0:
        raise typer.BadParameter("--genome is only used for flanks: give --flank N", param_hint="--genome")
    check_output_path(output)
    check_output_path(summary)
    with ScoringSession.open(model, Device(device).value, batch_size) as session:
        run = score_library(session, library, target, record=record,
                            strand=strand.value if isinstance(strand, TargetStrand) else strand, cds=cds_range,
                            variant_column=variant_column, score_column=score_column, assay_column=assay_column,
                            genome=genome, flank=flank)
        if not session.is_main:
            drive(run)  # this rank's share of the work; rank 0 writes
            return
        write_fitness(run, session, output, summary)
