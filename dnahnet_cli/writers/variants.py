"""score-vcf outputs: the input VCF with DNAHNET INFO fields (VCF, VCF.gz + .tbi, BCF + .csi), or a
table (TSV, TSV.gz + .tbi); committed as records finish, so ``--resume`` continues a killed run."""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from dnahnet_core.data.vcf import add_info, annotated_header, bgzip_file, index_tsv, index_vcf, vcf_text_to_bcf
from dnahnet_core.scoring.variant_recipe import ScoredRecord, VariantRun
from dnahnet_core.scoring.variants import NO_ALT, STATUSES

from ..errors import EXIT_USAGE, fail
from ..resumable import ResumableOutput, keep_committed_on_interrupt
from ..common import tsv_header

TSV_COLUMNS = ["chrom", "pos", "id", "ref", "alt", "llr", "status"]
#: The bgzipped, tabix-indexed table (.tsv.gz): the layout `bcftools annotate -a` and VEP plugins read.
INDEXED_TSV_COLUMNS = ["#chrom", "pos", "ref", "alt", "id", "llr", "status"]
INFO_LINES = [
    '##INFO=<ID=DNAHNET_LLR,Number=A,Type=Float,Description="dnahnet log-likelihood ratio LL(alt)-LL(ref) per ALT (natural log; \'.\' = not scored, see DNAHNET_STATUS)">',
    '##INFO=<ID=DNAHNET_STATUS,Number=A,Type=String,Description="dnahnet status per ALT: ok, ref_mismatch, unknown_contig, symbolic_allele, non_acgt, too_long">',
]


@dataclass(frozen=True)
class VariantFormat:
    kind: str  # vcf, bcf or tsv
    bgzip: bool  # BGZF-compressed with an index beside it (always for BCF)


def output_format(output: Optional[Path], fmt: Optional[str]) -> VariantFormat:
    """--format, else the output file name; stdout defaults to VCF. A .gz/.bgz name means BGZF
    with an index beside it (VCF and TSV: .tbi); BCF is always compressed and indexed (.csi)."""
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
        return VariantFormat("bcf", True)
    return VariantFormat(fmt, compressed)


def llr_text(llr: Optional[float], missing: str) -> str:
    if llr is None or llr != llr:  # unscored, or NaN
        return missing
    return "0" if llr == 0 else f"{llr:.8g}"


class VariantWriter:
    """Writes a :class:`VariantRun` to ``out``; ``tally`` counts records and statuses (carried
    across a resumed run in the progress record)."""

    def __init__(self, out: ResumableOutput, fmt: VariantFormat) -> None:
        self.out, self.fmt = out, fmt
        self.tally = Counter(out.extra.get("tally", {}))
        self._skipped_before = self.tally["skipped_ref_mismatch"]

    def header(self, run: VariantRun, provenance: dict[str, object]) -> str:
        if self.fmt.kind == "tsv":
            return tsv_header(provenance) + "\t".join(INDEXED_TSV_COLUMNS if self.fmt.bgzip else TSV_COLUMNS) + "\n"
        return annotated_header(run.reader.raw_header, INFO_LINES, provenance, dict(run.reference.lengths))

    def _tsv_row(self, rec: ScoredRecord, alt: str, llr: Optional[float], status: str) -> str:
        v = rec.variant
        if self.fmt.bgzip:  # the indexed layout; '.' for a missing value, as bcftools annotate reads it
            return f"{v.chrom}\t{v.pos}\t{v.ref}\t{alt}\t{v.id or '.'}\t{llr_text(llr, '.')}\t{status}\n"
        return f"{v.chrom}\t{v.pos}\t{v.id or '.'}\t{v.ref}\t{alt}\t{llr_text(llr, 'NA')}\t{status}\n"

    def text(self, rec: ScoredRecord) -> str:
        """The output of one record, counting its statuses."""
        self.tally["records"] += 1
        if rec.no_alt:  # ALT '.': nothing to score, but the record shows up
            self.tally["no_alt"] += 1
            return self._tsv_row(rec, ".", None, NO_ALT) if self.fmt.kind == "tsv" else rec.line + "\n"
        self.tally.update(f"status_{a.status}" for a in rec.alleles)
        if self.fmt.kind == "tsv":
            return "".join(self._tsv_row(rec, a.alt, a.llr, a.status) for a in rec.alleles)
        return add_info(rec.line, {"DNAHNET_LLR": ",".join(llr_text(a.llr, ".") for a in rec.alleles),
                                   "DNAHNET_STATUS": ",".join(a.status for a in rec.alleles)}) + "\n"

    def _count_skipped(self, run: VariantRun) -> None:
        self.tally["skipped_ref_mismatch"] = self._skipped_before + run.skipped["ref_mismatch"]

    def _commit(self, run: VariantRun, done: int) -> None:
        self._count_skipped(run)
        self.out.commit(done, {"tally": self.tally})

    def write(self, run: VariantRun, provenance: dict[str, object], output: Optional[Path]) -> None:
        """Header (unless resumed), every record, commits at the run's chunk boundaries (a resumed
        run then batches its windows exactly as an uninterrupted one: same floats, same bytes),
        then the final file: compressed and indexed where the format asks for it."""
        from tqdm import tqdm

        progress = tqdm(run.results, unit="rec", file=sys.stderr, disable=not sys.stderr.isatty())
        try:
            with keep_committed_on_interrupt(self.out):
                if not self.out.done:
                    self.out.write(self.header(run, provenance))
                    self._commit(run, 0)
                for n, rec in enumerate(progress, start=1):
                    self.out.write(self.text(rec))
                    if n % run.chunk == 0:
                        self._commit(run, rec.variant.number)
                self._count_skipped(run)
                if self.fmt.kind == "bcf":
                    self.out.finish(vcf_text_to_bcf)
                    index_vcf(output)
                elif self.fmt.bgzip:
                    self.out.finish(bgzip_file)
                    (index_tsv if self.fmt.kind == "tsv" else index_vcf)(output)
                else:
                    self.out.finish()
        finally:
            progress.close()

    def summary(self) -> str:
        t = self.tally
        counts = Counter({k[len("status_"):]: v for k, v in t.items() if k.startswith("status_")})
        parts = [f"{k} {counts[k]}" for k in STATUSES if counts[k]]
        text = (f"dnahnet score-vcf: {t['records']} records, {sum(counts.values())} ALT alleles: "
                + (", ".join(parts) if parts else "none"))
        if t["no_alt"]:
            text += f"; {t['no_alt']} records with ALT '.' ({NO_ALT}, nothing to score)"
        if t["skipped_ref_mismatch"]:
            text += f"; {t['skipped_ref_mismatch']} records skipped (ref_mismatch)"
        return text
