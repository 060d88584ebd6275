"""``dnahnet score-vcf``: log-likelihood ratios of VCF variants against a reference genome."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from .common import Device
from .errors import friendly_errors

class OutFormat(str, Enum):
    vcf = "vcf"
    bcf = "bcf"
    tsv = "tsv"


class Strand(str, Enum):
    both = "both"
    forward = "forward"


class Protocol(str, Enum):
    local = "local"
    centred = "centred"


class RefMismatch(str, Enum):
    flag = "flag"
    skip = "skip"
    error = "error"



@friendly_errors
def score_vcf_command(
    variants: Path = typer.Argument(..., help="VCF file (plain, gzip or bgzip; 1-based POS)."),
    reference: Optional[Path] = typer.Option(None, "--reference", "-r", help="Reference FASTA (plain, gzip or bgzip). Default: the VCF's ##reference= line (a path or file:// URL; relative to the VCF's folder)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Output: .vcf, .vcf.gz (bgzip + .tbi index), .bcf (+ .csi index), .tsv, or .tsv.gz (bgzip + .tbi index; header #chrom pos ref alt id llr status, '.' where not scored). Default: VCF on stdout."),
    fmt: Optional[OutFormat] = typer.Option(None, "--format", help="Output format, overriding the output file's extension."),
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="Checkpoint (.safetensors); default: the embedded model."),
    protocol: Protocol = typer.Option(Protocol.local, "--protocol", help="local: left context, the allele and --downstream bases after it, from the cached reference (fast). centred: the whole --window centred on the variant, ref and alt windows scored in full (the protocol of dnahnet <= 0.1)."),
    left_context: int = typer.Option(2048, "--left-context", "-C", min=0, help="local: at least this many reference bases before the variant (C to C+1023: blocks of 1,024 nt share one left context)."),
    downstream: int = typer.Option(32, "--downstream", "-D", min=0, help="local: reference bases after REF included in each allele's log-likelihood (32: chosen by measurement, benchmarks/README.md)."),
    window: int = typer.Option(8192, "--window", "-w", min=1, help="centred: reference window length W in bases, centred on the variant. Both protocols: alleles longer than W are too_long."),
    strand: Strand = typer.Option(Strand.both, "--strand", help="both: average the forward and reverse-complement LLRs; forward: forward strand only."),
    normalize: bool = typer.Option(False, "--normalize", help="Report LL(alt)/n_alt - LL(ref)/n_ref: each window's log-likelihood divided by its length (its A/C/G/T bases), so indels of different lengths compare."),
    ref_mismatch: RefMismatch = typer.Option(RefMismatch.flag, "--ref-mismatch", help="REF differs from the reference: flag (status ref_mismatch, not scored), skip (leave the record out), error (stop, exit 1)."),
    device: Device = typer.Option(Device.auto, "--device", envvar="DNAHNET_DEVICE", help="auto, cpu or cuda."),
    batch_size: int = typer.Option(8, "--batch-size", min=1, help="Windows per forward pass (also capped by a token budget)."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run with the same inputs and options (needs -o): finished records are kept, not recomputed; the result is the same file an uninterrupted run writes."),
) -> None:
    """Score variants: log-likelihood ratio LLR = LL(alt) - LL(ref), natural log.

    VCF POS is 1-based; REF is checked against the reference. Protocol local (default): each
    allele's LL sums the model's log-probabilities over the allele's bases and the next D
    (--downstream, 32) reference bases, all conditioned on the same left context of at least C
    (--left-context, 2048) reference bases; the reference is run once per 1,024-nt block and
    shared by every variant in it, so each ALT costs only its own D+1 bases. Protocol centred:
    the reference window holds W bases (--window, 8192) centred on REF, shifted inward at contig
    ends (never padded; a contig shorter than W is used whole); the alt window is the same flanks
    with REF replaced by ALT, so indels change its length (the VCF anchor base is kept as is), and
    LL sums over the whole window. Forward and reverse-complement strands are averaged by default.
    Negative LLR = ALT less likely under the model. Multi-allelic records are scored per ALT.

    Each ALT gets a status: ok, ref_mismatch, unknown_contig (CHROM not in the reference),
    symbolic_allele (<...>, breakends, *), non_acgt (letters other than ACGT), too_long (an allele
    longer than W). Only ok alleles have an LLR; it is exactly 0 when ALT equals REF. A record
    whose ALT is '.' has nothing to score: status no_alt (one TSV row, alt '.'; no INFO in VCF).

    Output VCF keeps every record (except with --ref-mismatch skip) and adds INFO DNAHNET_LLR and
    DNAHNET_STATUS (Number=A: one value per ALT; '.' where not scored) and ##dnahnet_* provenance
    lines. TSV columns: chrom pos id ref alt llr status (one row per ALT, pos 1-based, llr NA
    where not scored), after '#' provenance lines. A summary of statuses goes to stderr.

    Compressed outputs are indexed for region queries (bcftools view -r, tabix): .vcf.gz gets a
    .tbi index and ##contig lines from the reference; .bcf a .csi index; .tsv.gz is a bgzipped
    table with the header line '#chrom pos ref alt id llr status', indexed on chrom/pos, e.g.
    bcftools annotate -a scored.tsv.gz -c CHROM,POS,REF,ALT,-,INFO/DNAHNET_LLR,- -h hdr.txt.
    Unsorted input is written but not indexed (a warning says so).

    \b
    Example: dnahnet score-vcf variants.vcf --reference genome.fa -o scored.vcf.gz
    """
    from dnahnet_core.scoring.session import ScoringSession, drive
    from dnahnet_core.scoring.variant_recipe import VariantOptions, score_variants

    from .common import check_output_path, command_line
    from .resumable import ResumableOutput, committed_items, file_identity
    from .writers.variants import VariantWriter, output_format

    out_format = output_format(output, fmt.value if fmt is not None else None)
    check_output_path(output)
    options = VariantOptions(protocol=Protocol(protocol).value, left_context=left_context, downstream=downstream, window=window,
                             strand=Strand(strand).value, normalize=normalize, ref_mismatch=RefMismatch(ref_mismatch).value)
    with ScoringSession.open(model, Device(device).value, batch_size) as session:
        run = score_variants(session, variants, reference, options)
        try:
            key = {"command": "score-vcf", "vcf": file_identity(variants), "reference": file_identity(run.reference_path),
                   "model": session.loaded.sha256, **vars(options), "format": out_format.kind, "bgzip": out_format.bgzip}
            out = ResumableOutput(output, key, resume) if session.is_main else None
            run.skip = out.done if out else committed_items(output, resume)
            if not session.is_main:
                return drive(run)
            writer = VariantWriter(out, out_format)
            writer.write(run, {"command": command_line(), **session.provenance(), **run.parameters}, output)
        finally:
            run.close()
    sys.stderr.write(writer.summary() + "\n")
