"""``dnahnet score-vcf``: log-likelihood ratios of VCF variants against a reference genome."""

from __future__ import annotations

import sys
from collections import Counter, deque
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from .common import Device
from .errors import EXIT_USAGE, fail, friendly_errors

TSV_COLUMNS = ["chrom", "pos", "id", "ref", "alt", "llr", "status"]
#: The bgzipped, tabix-indexed table (.tsv.gz): the layout `bcftools annotate -a` and VEP plugins read.
INDEXED_TSV_COLUMNS = ["#chrom", "pos", "ref", "alt", "id", "llr", "status"]


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



def _output_format(output: Optional[Path], fmt: Optional[str]) -> tuple[str, bool]:
    """(vcf|bcf|tsv, bgzip?) from --format, else from the output file name; stdout defaults to VCF.
    A .gz/.bgz name means BGZF with an index beside it (VCF: .tbi; TSV: .tbi); BCF is always
    compressed and indexed (.csi)."""
    name = output.name.lower() if output is not None else ""
    compressed = name.endswith((".gz", ".bgz"))
    if fmt is None:
        stem = name[: name.rindex(".")] if compressed else name
        if output is None or stem.endswith(".vcf"):
            fmt = "vcf"
        elif stem.endswith(".bcf"):
            fmt = "bcf"
        elif stem.endswith((".tsv", ".txt")):
            fmt = "tsv"
        else:
            fail(f"cannot tell the output format from {output.name!r}: use .vcf, .vcf.gz, .bcf, .tsv or .tsv.gz, or pass --format vcf|bcf|tsv", EXIT_USAGE)
    if fmt == "bcf":
        if output is None:
            fail("BCF output needs a file: pass -o OUT.bcf", EXIT_USAGE)
        return fmt, True
    return fmt, compressed


def _llr_text(llr: Optional[float], missing: str) -> str:
    if llr is None or llr != llr:  # unscored, or NaN
        return missing
    return "0" if llr == 0 else f"{llr:.8g}"


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
    from tqdm import tqdm

    from dnahnet_core.data.vcf import add_info, annotated_header, bgzip_file, index_tsv, index_vcf, vcf_text_to_bcf
    from dnahnet_core.errors import InputError
    from dnahnet_core.scoring.engine import LikelihoodEngine, resolve_device
    from dnahnet_core.scoring.model_io import open_model
    from dnahnet_core.distributed import drain, finish, init_ranks, ordered_map
    from dnahnet_core.scoring.local_variants import LocalVariantScorer
    from dnahnet_core.scoring.variants import NO_ALT, STATUSES, ReferenceGenome, VariantScorer, VcfReader, ref_mismatch_error

    from .common import check_output_path, command_line, tsv_header
    from .resumable import ResumableOutput, committed_items, file_identity, keep_committed_on_interrupt

    fmt_name = fmt.value if fmt is not None else None
    strand, ref_mismatch, device = Strand(strand).value, RefMismatch(ref_mismatch).value, Device(device).value
    protocol = Protocol(protocol).value
    out_format, bgzip = _output_format(output, fmt_name)
    check_output_path(output)
    reader = VcfReader(variants)
    ref_path = reference
    if ref_path is None:
        ref_path = reader.reference_path()
        if ref_path is None:
            raise InputError("no reference genome: pass --reference FASTA (the VCF has no ##reference= line)", path=str(variants))
        if not ref_path.is_file():
            raise InputError(
                f"##reference={reader.header_reference()} does not name a readable FASTA file ({ref_path}: no such file); pass --reference FASTA",
                path=str(variants),
            )
    genome = ReferenceGenome.from_fasta(ref_path)

    dev = resolve_device(device)
    loaded = open_model(model, device=str(dev))
    engine = LikelihoodEngine(loaded.model, dev, batch_size=batch_size)
    if protocol == "local":
        scorer = LocalVariantScorer(engine, genome, window=window, strands=strand, normalize=normalize,
                                    left_context=left_context, downstream=downstream)
    else:
        scorer = VariantScorer(engine, genome, window=window, strands=strand, normalize=normalize)
    ranks = init_ranks(dev)

    key = {"command": "score-vcf", "vcf": file_identity(variants), "reference": file_identity(ref_path), "model": loaded.sha256,
           "protocol": protocol, "left_context": left_context, "downstream": downstream,
           "window": window, "strand": strand, "normalize": normalize, "ref_mismatch": ref_mismatch, "format": out_format, "bgzip": bgzip}
    out = ResumableOutput(output, key, resume) if ranks.is_main else None
    done = out.done if out is not None else committed_items(output, resume)
    tally = Counter(out.extra.get("tally", {})) if out is not None else Counter()
    pending: deque = deque()  # VCF lines waiting for their scores (rank 0 only)

    def items():
        for variant, line in reader.records():
            if variant.number <= done:  # finished before an interruption: neither scored nor written again
                continue
            expected = scorer.expected_ref(variant)
            if expected is not None and ref_mismatch != "flag":
                if ref_mismatch == "error":
                    raise ref_mismatch_error(variant, expected, variants, genome)
                tally["skipped_ref_mismatch"] += 1
                continue
            if ranks.is_main:
                pending.append(line)
            yield variant

    chunk = scorer.chunk  # records per scorer call and rank, and per commit of the output
    results = ordered_map(items(), scorer.score, ranks, chunk=chunk)
    if not ranks.is_main:
        drain(results, ranks)
        return

    provenance = {
        "command": command_line(),
        **loaded.provenance(),
        "reference": str(ref_path),
        "protocol": (f"local (left context >= {left_context} nt in 1,024-nt blocks, allele + {downstream} downstream nt)"
                     if protocol == "local" else f"centred (window {window} nt)"),
        "window": window,
        "strand": "both (forward and reverse-complement averaged)" if strand == "both" else "forward",
        "normalize": "per-base (LL/n per window)" if normalize else "none (summed LLR)",
        "ref_mismatch": ref_mismatch,
        "log_base": "e (natural log)",
    }
    info_lines = [
        '##INFO=<ID=DNAHNET_LLR,Number=A,Type=Float,Description="dnahnet log-likelihood ratio LL(alt)-LL(ref) per ALT (natural log; \'.\' = not scored, see DNAHNET_STATUS)">',
        '##INFO=<ID=DNAHNET_STATUS,Number=A,Type=String,Description="dnahnet status per ALT: ok, ref_mismatch, unknown_contig, symbolic_allele, non_acgt, too_long">',
    ]

    def tsv_row(v, alt: str, llr: str, status: str) -> str:
        if bgzip:  # the indexed layout; '.' for a missing value, as bcftools annotate reads it
            return f"{v.chrom}\t{v.pos}\t{v.ref}\t{alt}\t{v.id or '.'}\t{'.' if llr == 'NA' else llr}\t{status}\n"
        return f"{v.chrom}\t{v.pos}\t{v.id or '.'}\t{v.ref}\t{alt}\t{llr}\t{status}\n"

    def rows(res, line: str) -> str:
        """The output text of one record, counting its statuses."""
        v = res.variant
        tally["records"] += 1
        if not res.alleles:  # ALT '.': nothing to score, but the record shows up
            tally["no_alt"] += 1
            return tsv_row(v, ".", "NA", NO_ALT) if out_format == "tsv" else line + "\n"
        tally.update(f"status_{a.status}" for a in res.alleles)
        if out_format == "tsv":
            return "".join(tsv_row(v, a.alt, _llr_text(a.llr, "NA"), a.status) for a in res.alleles)
        return add_info(line, {"DNAHNET_LLR": ",".join(_llr_text(a.llr, ".") for a in res.alleles),
                               "DNAHNET_STATUS": ",".join(a.status for a in res.alleles)}) + "\n"

    progress = tqdm(results, unit="rec", file=sys.stderr, disable=not sys.stderr.isatty())
    try:
        with keep_committed_on_interrupt(out):
            if not done:
                if out_format == "tsv":
                    out.write(tsv_header(provenance) + "\t".join(INDEXED_TSV_COLUMNS if bgzip else TSV_COLUMNS) + "\n")
                else:
                    contigs = dict(genome.lengths)
                    out.write(annotated_header(reader.raw_header, info_lines, provenance, contigs))
                out.commit(0, {"tally": tally})
            for n, res in enumerate(progress, start=1):
                out.write(rows(res, pending.popleft()))
                if n % chunk == 0:
                    # Only at chunk boundaries: a resumed run then batches its windows exactly as an
                    # uninterrupted one does, so its floats (and bytes) are the same.
                    out.commit(res.variant.number, {"tally": tally})
            if out_format == "bcf":
                out.finish(vcf_text_to_bcf)
                index_vcf(output)
            elif bgzip:
                out.finish(bgzip_file)
                (index_tsv if out_format == "tsv" else index_vcf)(output)
            else:
                out.finish()
    finally:
        progress.close()
        reader.close()
        finish(ranks)

    counts = Counter({k[len("status_"):]: v for k, v in tally.items() if k.startswith("status_")})
    skipped = {"ref_mismatch": tally["skipped_ref_mismatch"]} if tally["skipped_ref_mismatch"] else {}
    n_records, no_alt = tally["records"], tally["no_alt"]
    parts = [f"{k} {counts[k]}" for k in STATUSES if counts[k]]
    n_alleles = sum(counts.values())
    summary = f"dnahnet score-vcf: {n_records} records, {n_alleles} ALT alleles: " + (", ".join(parts) if parts else "none")
    if no_alt:
        summary += f"; {no_alt} records with ALT '.' ({NO_ALT}, nothing to score)"
    if skipped:
        summary += f"; {skipped['ref_mismatch']} records skipped (ref_mismatch)"
    sys.stderr.write(summary + "\n")
