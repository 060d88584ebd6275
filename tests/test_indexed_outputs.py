"""score-vcf's indexed outputs: BGZF VCF + .tbi, BCF + .csi, bgzipped TSV + .tbi, read back with
pysam (and with bcftools where it is installed)."""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import pysam
import pytest
from typer.testing import CliRunner

from dnahnet_cli.main import app

DATA = Path(__file__).parent / "data"
VCF = DATA / "phiX174_variants.vcf"
FASTA = DATA / "phiX174.fa"
MODEL = DATA / "tiny_lambda.safetensors"
CONTIG = "NC_001422.1"

runner = CliRunner()
needs_bcftools = pytest.mark.skipif(shutil.which("bcftools") is None, reason="bcftools is not installed")


def _score(out: Path, vcf: Path = VCF, *extra: str):
    args = ["score-vcf", str(vcf), "-r", str(FASTA), "-m", str(MODEL), "--window", "128", "--strand", "forward", "-o", str(out), *extra]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result


def _llrs(vcf_path: Path) -> dict[tuple[int, str], float | None]:
    """(pos, alt) -> LLR from a scored VCF/BCF."""
    out = {}
    for r in pysam.VariantFile(str(vcf_path)):
        for alt, llr in zip(r.alts or (), r.info.get("DNAHNET_LLR") or ()):
            out[(r.pos, alt)] = llr
    return out


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("indexed")
    paths = {name: d / f"scored.{name}" for name in ("vcf", "vcf.gz", "bcf", "tsv.gz")}
    for path in paths.values():
        _score(path)
    return paths


def test_compressed_vcf_bcf_and_tsv_get_an_index_beside_them(outputs):
    assert Path(str(outputs["vcf.gz"]) + ".tbi").is_file()
    assert Path(str(outputs["bcf"]) + ".csi").is_file()
    assert Path(str(outputs["tsv.gz"]) + ".tbi").is_file()
    assert not Path(str(outputs["vcf"]) + ".tbi").exists()  # plain text is not indexed
    for name in ("vcf.gz", "tsv.gz"):
        raw = outputs[name].read_bytes()
        assert raw[:4] == b"\x1f\x8b\x08\x04" and raw[12:14] == b"BC", name  # BGZF, not plain gzip
    assert outputs["bcf"].read_bytes()[:2] == b"\x1f\x8b"  # BCF is BGZF-compressed binary
    with pysam.BGZFile(str(outputs["bcf"]), "rb") as f:
        assert f.read(3) == b"BCF"


def test_bcf_holds_the_vcf_records_contigs_and_scores(outputs):
    vcf, bcf = pysam.VariantFile(str(outputs["vcf"])), pysam.VariantFile(str(outputs["bcf"]))
    assert bcf.is_bcf
    assert [r.id for r in bcf] == [r.id for r in vcf]
    header = str(pysam.VariantFile(str(outputs["bcf"])).header)
    assert f"##contig=<ID={CONTIG},length=5386>" in header and "##dnahnet_model=tiny_lambda" in header
    assert _llrs(outputs["bcf"]) == pytest.approx(_llrs(outputs["vcf"]))


def test_region_queries_return_exactly_the_records_in_the_region(outputs):
    expected = [r.id for r in pysam.VariantFile(str(outputs["vcf"])) if r.chrom == CONTIG and 1000 <= r.pos <= 2500]
    assert expected == ["mnv1", "del1", "multi1", "refmm1"]
    for name in ("vcf.gz", "bcf"):
        with pysam.VariantFile(str(outputs[name])) as f:
            assert [r.id for r in f.fetch(CONTIG, 999, 2500)] == expected, name
    with pysam.TabixFile(str(outputs["tsv.gz"])) as f:
        rows = [line.split("\t") for line in f.fetch(CONTIG, 999, 2500)]
    assert list(dict.fromkeys(r[4] for r in rows)) == expected


def test_indexed_tsv_has_the_annotation_layout_and_the_vcf_scores(outputs):
    with pysam.BGZFile(str(outputs["tsv.gz"]), "rb") as f:
        lines = f.read().decode().splitlines()
    assert lines[0].startswith("# command: dnahnet") and "# model: tiny_lambda" in lines
    header = next(line for line in lines if line.startswith("#chrom"))
    assert header.split("\t") == ["#chrom", "pos", "ref", "alt", "id", "llr", "status"]
    rows = [line.split("\t") for line in lines if not line.startswith("#")]
    llrs = _llrs(outputs["vcf"])
    for chrom, pos, ref, alt, rid, llr, status in rows:
        if status == "ok":
            assert float(llr) == pytest.approx(llrs[(int(pos), alt)], abs=1e-5), rid
        else:
            assert llr == ".", rid  # missing as bcftools reads it (not NA)
    assert {r[6] for r in rows} >= {"ok", "ref_mismatch", "unknown_contig", "symbolic_allele", "non_acgt"}


def test_unsorted_input_is_written_whole_but_not_indexed(tmp_path):
    lines = VCF.read_text().splitlines(keepends=True)
    head = [line for line in lines if line.startswith("#")]
    body = [line for line in lines if not line.startswith("#") and line.startswith(CONTIG)]
    unsorted = tmp_path / "unsorted.vcf"
    unsorted.write_text("".join(head + body[::-1]))
    out = tmp_path / "u.vcf.gz"
    result = _score(out, unsorted)
    assert "not indexed" in result.stderr and "bcftools sort" in result.stderr
    assert not Path(str(out) + ".tbi").exists()
    assert [r.id for r in pysam.VariantFile(str(out))] == [line.split("\t")[2] for line in body[::-1]]


def test_bcf_to_stdout_is_a_usage_error():
    result = runner.invoke(app, ["score-vcf", str(VCF), "-r", str(FASTA), "-m", str(MODEL), "--format", "bcf"])
    assert result.exit_code == 2 and "BCF output needs a file" in result.stderr


@needs_bcftools
def test_bcftools_views_a_region_of_the_vcf_gz_and_the_bcf(outputs):
    for name in ("vcf.gz", "bcf"):
        proc = subprocess.run(["bcftools", "view", "-H", "-r", f"{CONTIG}:1000-2500", str(outputs[name])],
                              capture_output=True, text=True, check=True)
        assert [line.split("\t")[2] for line in proc.stdout.splitlines()] == ["mnv1", "del1", "multi1", "refmm1"], name


@needs_bcftools
def test_bcftools_annotate_takes_the_scores_from_the_indexed_tsv(outputs, tmp_path):
    hdr = tmp_path / "hdr.txt"
    hdr.write_text('##INFO=<ID=DNAHNET_LLR,Number=A,Type=Float,Description="dnahnet LLR">\n')
    annotated = tmp_path / "annotated.vcf"
    subprocess.run(["bcftools", "annotate", "-a", str(outputs["tsv.gz"]), "-c", "CHROM,POS,REF,ALT,-,INFO/DNAHNET_LLR,-",
                    "-h", str(hdr), "-o", str(annotated), str(VCF)], capture_output=True, text=True, check=True)
    ours = _llrs(outputs["vcf"])
    got = 0
    for r in pysam.VariantFile(str(annotated)):
        if r.alts and len(r.alts) == 1 and ours.get((r.pos, r.alts[0])) is not None:
            value = r.info["DNAHNET_LLR"][0]
            assert math.isclose(value, ours[(r.pos, r.alts[0])], abs_tol=1e-4), r.id
            got += 1
    assert got >= 6


def test_bcf_declares_what_a_text_vcf_left_undeclared(tmp_path):
    """BCF needs every CHROM, INFO and FILTER declared (htslib would stop the process)."""
    text = VCF.read_text()
    text = "\n".join(x for x in text.splitlines() if not x.startswith(("##contig=<ID=plasmid", "##INFO=<ID=NOTE"))) + "\n"
    text = text.replace("\tPASS\tNOTE=mnv", "\tlowq\tNOTE=mnv")
    src = tmp_path / "undeclared.vcf"
    src.write_text(text)
    out = tmp_path / "u.bcf"
    _score(out, src)
    header = str(pysam.VariantFile(str(out)).header)
    for line in ("##contig=<ID=plasmid_not_in_fasta>", "##INFO=<ID=NOTE", "##FILTER=<ID=lowq"):
        assert line in header, line
    recs = {r.id: r for r in pysam.VariantFile(str(out))}
    assert len(recs) == 13 and list(recs["mnv1"].filter) == ["lowq"] and recs["mnv1"].info["NOTE"] == ("mnv",)
    assert not list(tmp_path.glob("*.partial*")) and Path(str(out) + ".csi").is_file()


def test_a_new_output_never_keeps_the_index_of_an_older_file(tmp_path):
    out = tmp_path / "x.vcf.gz"
    _score(out)
    tbi = Path(str(out) + ".tbi")
    assert tbi.is_file()
    lines = VCF.read_text().splitlines(keepends=True)
    unsorted = tmp_path / "unsorted.vcf"
    body = [x for x in lines if not x.startswith("#") and x.startswith(CONTIG)]
    unsorted.write_text("".join([x for x in lines if x.startswith("#")] + body[::-1]))
    _score(out, unsorted)  # written, not indexable: the old index must go
    assert not tbi.exists()


def test_scoring_a_scored_vcf_again_replaces_its_scores(outputs, tmp_path):
    again = tmp_path / "again.vcf"
    _score(again, outputs["vcf.gz"], "--normalize")
    text = again.read_text()
    assert text.count("##INFO=<ID=DNAHNET_LLR") == 1 and text.count("##dnahnet_command") == 1
    assert "##dnahnet_normalize=per-base" in text
    first = {r.id: r.info.get("DNAHNET_LLR") for r in pysam.VariantFile(str(outputs["vcf"]))}
    for r in pysam.VariantFile(str(again)):
        line = str(r)
        assert line.count("DNAHNET_LLR=") <= 1 and line.count("DNAHNET_STATUS=") <= 1, r.id
        if r.id == "snv_start":
            assert r.info["DNAHNET_LLR"][0] != first["snv_start"][0]  # the new (normalised) value
