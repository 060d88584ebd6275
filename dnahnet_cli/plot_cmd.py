"""``dnahnet plot``: figures from dnahnet's output files (needs the optional matplotlib extra)."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from .errors import EXIT_USAGE, fail, friendly_errors


class Kind(str, Enum):
    boundaries = "boundaries"
    essentiality = "essentiality"
    score_vcf = "score-vcf"


@friendly_errors
def plot_command(
    kind: Kind = typer.Argument(..., help="What INPUT is: boundaries (BED from dnahnet boundaries), essentiality (TSV from dnahnet essentiality) or score-vcf (VCF/BCF or TSV from dnahnet score-vcf)."),
    input: Path = typer.Argument(..., help="The output file of that command."),
    output: Path = typer.Option(..., "--output", "-o", help="Figure file: .png, .pdf or .svg."),
    annotation: Optional[Path] = typer.Option(None, "--annotation", "-a", help="boundaries: GFF3/GenBank genes drawn under the chunk-start rates."),
    region: Optional[str] = typer.Option(None, "--region", "-r", help="boundaries: CHROM or CHROM:START-END (1-based, inclusive). Default: the first record, whole."),
    bin_size: Optional[int] = typer.Option(None, "--bin", min=1, help="boundaries: bin width in nt (default: about 200 bins over the region)."),
    labels: Optional[Path] = typer.Option(None, "--labels", help="essentiality: TSV/CSV with locus_tag and essential (0/1): histograms split by label, AUROC in the title."),
    by: Optional[str] = typer.Option(None, "--by", help="score-vcf: an INFO field of the scored VCF (e.g. a consequence) to group the LLRs by."),
) -> None:
    """Draw a figure from a dnahnet output file.

    \b
    boundaries    chunk starts per nt along a region, per stage, with genes (-a) as arrows
    essentiality  knockout score distribution (by label with --labels) and genes ranked by score
    score-vcf     ALT statuses, the LLR distribution, and (--by FIELD) LLRs grouped by an INFO field

    The numbers drawn are summarised on stderr. Needs matplotlib: pip install 'dnahnet[plots]'.

    \b
    Example: dnahnet plot boundaries chunks.bed -a genes.gff3 -r NC_000913.3:1-20000 -o chunks.png
    """
    from dnahnet_core import plots

    kind = Kind(kind).value
    used = {"--annotation": annotation, "--region": region, "--bin": bin_size, "--labels": labels, "--by": by}
    allowed = {"boundaries": ("--annotation", "--region", "--bin"), "essentiality": ("--labels",), "score-vcf": ("--by",)}[kind]
    wrong = [k for k, v in used.items() if v is not None and k not in allowed]
    if wrong:
        fail(f"{', '.join(wrong)}: not an option of 'plot {kind}' (it takes {', '.join(allowed)})", EXIT_USAGE)
    if kind == "boundaries":
        res = plots.plot_boundaries(input, output, annotation=annotation, region=region, bin_size=bin_size)
        rates = ", ".join(f"{k} {v:.4f}/nt" for k, v in res.mean_rates.items())
        bins = f"{len(res.bin_starts)} bin{'s' if len(res.bin_starts) != 1 else ''} of {res.bin_size} nt"
        msg = f"{res.region.chrom}:{res.region.start0 + 1}-{res.region.end0}, {bins}; mean chunk starts {rates}; {res.n_genes} genes"
        if annotation is not None and not res.n_genes:
            msg += f" (warning: the annotation has no gene in {res.region.chrom}:{res.region.start0 + 1}-{res.region.end0})"
    elif kind == "essentiality":
        res = plots.plot_essentiality(input, output, labels=labels)
        msg = f"{res.n_scored} scored genes" + (f", AUROC {res.auroc:.3f}" if res.auroc is not None else "")
    else:
        res = plots.plot_variants(input, output, by=by)
        msg = f"{res.n_scored} scored alleles; statuses " + ", ".join(f"{k} {v}" for k, v in res.status_counts.items())
    sys.stderr.write(f"dnahnet plot {kind}: {output}: {msg}\n")
