"""dnahnet score-vcf: statuses, windows, strand symmetry, output formats, bad inputs, torchrun."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest
from Bio import SeqIO, bgzf
from typer.testing import CliRunner

from dnahnet_cli.main import app
from dnahnet_core.errors import InputError
from dnahnet_core.data.vcf import VcfReader
from dnahnet_core.scoring.variants import ReferenceGenome, Variant, VariantScorer, variant_window
from dnahnet_core.vocab import N, reverse_complement

DATA = Path(__file__).parent / "data"
VCF = DATA / "phiX174_variants.vcf"
FASTA = DATA / "phiX174.fa"
MODEL = DATA / "tiny_lambda.safetensors"
WINDOW = "256"
REPO = Path(__file__).resolve().parent.parent

runner = CliRunner()

#: The status of every ALT of the hand-written VCF, by record ID.
EXPECTED = {
    "snv_start": ["ok"],
    "ins1": ["ok"],
    "mnv1": ["ok"],
    "del1": ["ok"],
    "multi1": ["ok", "ok", "ok"],
    "refmm1": ["ref_mismatch"],
    "sv_del": ["symbolic_allele"],
    "bnd1": ["symbolic_allele"],
    "star1": ["ok", "symbolic_allele"],
    "same1": ["ok"],
    "iupac1": ["non_acgt"],
    "snv_end": ["ok"],
    "unk1": ["unknown_contig"],
}


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """The tiny model gains nothing from intra-op threads, and on a busy 2-core machine they
    oversubscribe the CPU (~30x slower); subprocesses get OMP_NUM_THREADS=1 likewise."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _model() -> str:
    assert MODEL.is_file(), "tests/data/tiny_lambda.safetensors is missing (see tests/data/README.md)"
    return str(MODEL)


def _run(args: list[str]):
    return runner.invoke(app, ["score-vcf", *args])


def _one_line_error(result, *needles: str) -> None:
    assert result.exit_code == 1, result.output
    err = result.stderr.strip()
    assert err.count("\n") == 0, err
    assert err.startswith("dnahnet: error:") and "Traceback" not in err
    for needle in needles:
        assert needle in err, err


def _input_ids() -> list[str]:
    return [r.id for r in pysam.VariantFile(str(VCF))]


@pytest.fixture(scope="module")
def scored(tmp_path_factory) -> dict[str, Path]:
    """The hand-written VCF scored once per output format (window 256, both strands)."""
    model = _model()
    out = tmp_path_factory.mktemp("scored")
    paths = {"vcf": out / "scored.vcf", "tsv": out / "scored.tsv"}
    # The VCF run takes its reference from the VCF's ##reference= line (relative path).
    result = _run([str(VCF), "--model", model, "--window", WINDOW, "-o", str(paths["vcf"])])
    assert result.exit_code == 0, result.output
    assert "13 records" in result.stderr and "ok 10" in result.stderr and "ref_mismatch 1" in result.stderr
    result = _run([str(VCF), "--reference", str(FASTA), "--model", model, "--window", WINDOW, "-o", str(paths["tsv"])])
    assert result.exit_code == 0, result.output
    return paths


# ---------------------------------------------------------------------------------------------
# Output formats and statuses


def test_vcf_keeps_every_record_in_order_with_number_a_info(scored):
    vcf = pysam.VariantFile(str(scored["vcf"]))
    header = str(vcf.header)
    assert '##INFO=<ID=DNAHNET_LLR,Number=A,Type=Float' in header
    assert '##INFO=<ID=DNAHNET_STATUS,Number=A,Type=String' in header
    for key in ("command=dnahnet", "version=", "model=tiny_lambda", "model_sha256=", "window=256", "strand=both", "normalize=none"):
        assert f"##dnahnet_{key}" in header, key
    assert "##reference=phiX174.fa" in header  # input meta lines are kept
    records = list(vcf)
    assert [r.id for r in records] == _input_ids()
    for r in records:
        llr = r.info.get("DNAHNET_LLR")
        status = list(r.info.get("DNAHNET_STATUS"))
        assert len(llr) == len(r.alts) == len(status), r.id
        assert status == EXPECTED[r.id], r.id
        for value, s in zip(llr, status):
            if s == "ok":
                assert value is not None and math.isfinite(value)
            else:
                assert value is None  # '.' = not scored
    same = next(r for r in records if r.id == "same1")
    assert "DNAHNET_LLR=0;" in str(same)  # exactly zero, not a rounded float
    assert next(r for r in records if r.id == "snv_start").info["DNAHNET_LLR"][0] != 0


def test_tsv_agrees_with_vcf(scored):
    plain = [(r.id, r.info.get("DNAHNET_LLR"), r.info.get("DNAHNET_STATUS")) for r in pysam.VariantFile(str(scored["vcf"]))]
    text = scored["tsv"].read_text()
    assert text.startswith("# command: dnahnet") and "# window: 256" in text
    df = pd.read_csv(scored["tsv"], sep="\t", comment="#")
    assert list(df.columns) == ["chrom", "pos", "id", "ref", "alt", "llr", "status"]
    assert len(df) == sum(len(v) for v in EXPECTED.values())  # one row per ALT
    assert list(dict.fromkeys(df["id"])) == _input_ids()
    assert df.loc[df.id == "snv_end", "pos"].item() == 5380  # 1-based, as in the VCF
    assert df.loc[df.id == "multi1", "alt"].tolist() == ["A", "C", "T"]
    assert df.groupby("id", sort=False)["status"].apply(list).to_dict() == EXPECTED
    assert df.llr.dtype == float and df.llr.isna().tolist() == (df.status != "ok").tolist()
    assert df.loc[df.id == "same1", "llr"].item() == 0.0
    # The same scores, whichever format (and whichever way the reference was found).
    tsv_llr = df.groupby("id", sort=False)["llr"].apply(list).to_dict()
    for rid, llr, _ in plain:
        llr = llr if isinstance(llr, tuple) else (llr,)
        for a, b in zip(llr, tsv_llr[rid]):
            assert (a is None and math.isnan(b)) or a == pytest.approx(b, abs=1e-5)


def test_stdout_is_vcf_by_default():
    result = _run([str(VCF), "--model", _model(), "--window", "64", "--strand", "forward"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "##fileformat=VCFv4.2" and "##dnahnet_strand=forward" in lines
    assert [line.split("\t")[2] for line in lines if not line.startswith("#")] == _input_ids()
    assert "DNAHNET_LLR=.;DNAHNET_STATUS=ref_mismatch" in result.stdout


def test_bgzip_output_with_ref_mismatch_skip_and_normalize(tmp_path):
    out = tmp_path / "scored.vcf.gz"
    args = [str(VCF), "--model", _model(), "--window", "64", "--strand", "forward", "--ref-mismatch", "skip", "--normalize"]
    result = _run([*args, "-o", str(out)])
    assert result.exit_code == 0, result.output
    raw = out.read_bytes()
    assert raw[:4] == b"\x1f\x8b\x08\x04" and raw[12:14] == b"BC"  # BGZF, not plain gzip
    vcf = pysam.VariantFile(str(out))
    assert "##dnahnet_normalize=per-base" in str(vcf.header) and "##dnahnet_ref_mismatch=skip" in str(vcf.header)
    records = list(vcf)
    assert [r.id for r in records] == [i for i in _input_ids() if i != "refmm1"]
    assert "1 records skipped (ref_mismatch)" in result.stderr and "ref_mismatch 1" not in result.stderr
    llr = {r.id: r.info.get("DNAHNET_LLR")[0] for r in records}
    # Normalised: per-base differences, far smaller than summed LLRs; still exactly 0 for ALT = REF.
    assert llr["same1"] == 0 and 0 < abs(llr["snv_start"]) < 0.1
    # --format overrides the extension.
    assert _run([*args, "--format", "tsv", "-o", str(tmp_path / "x.vcf")]).exit_code == 0
    assert (tmp_path / "x.vcf").read_text().startswith("# command:")


def test_ref_mismatch_error_names_file_record_and_expected_bases(tmp_path):
    out = tmp_path / "out.tsv"
    result = _run([str(VCF), "--model", _model(), "--window", "64", "--ref-mismatch", "error", "-o", str(out)])
    _one_line_error(result, str(VCF), "NC_001422.1:2500", "REF 'C'", "expected 'A'")
    assert not out.exists()


def test_help_mentions_coordinates_defaults_and_example():
    result = runner.invoke(app, ["score-vcf", "--help"], terminal_width=200)
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert "1-based" in text and "8192" in text and "--ref-mismatch" in text and "--normalize" in text
    assert "Example: dnahnet score-vcf variants.vcf --reference genome.fa -o scored.vcf.gz" in text


# ---------------------------------------------------------------------------------------------
# Strand symmetry: a variant and its reverse-complement twin on the reverse-complemented genome


def test_reverse_complement_twin_scores_the_same(scored, tmp_path):
    genome = str(SeqIO.read(FASTA, "fasta").seq)
    L = len(genome)
    rc_fasta = tmp_path / "phiX174_rc.fa"
    rc_fasta.write_text(">phiX_rc reverse complement of NC_001422.1\n" + reverse_complement(genome) + "\n")
    lines = ["##fileformat=VCFv4.2", f"##reference=file://{rc_fasta}", f"##contig=<ID=phiX_rc,length={L}>",
             "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
    twins = {}
    for r in pysam.VariantFile(str(VCF)):
        if r.chrom != "NC_001422.1" or EXPECTED[r.id][0] != "ok" or len(set(EXPECTED[r.id])) > 1:
            continue
        start = L - (r.pos - 1) - len(r.ref)  # 0-based start of the same REF span on the other strand
        alts = [reverse_complement(a) for a in r.alts]
        twins[r.id] = alts
        lines.append(f"phiX_rc\t{start + 1}\t{r.id}\t{reverse_complement(r.ref)}\t{','.join(alts)}\t.\t.\t.")
    assert {"snv_start", "snv_end", "mnv1", "multi1", "ins1", "del1"} <= set(twins)
    twin_vcf = tmp_path / "twins.vcf"
    twin_vcf.write_text("\n".join(lines) + "\n")
    out = tmp_path / "twins.tsv"
    result = _run([str(twin_vcf), "--model", _model(), "--window", WINDOW, "-o", str(out)])  # reference via file:// URL
    assert result.exit_code == 0, result.output
    twin = pd.read_csv(out, sep="\t", comment="#")
    orig = pd.read_csv(scored["tsv"], sep="\t", comment="#")
    assert (twin.status == "ok").all()
    for rid in twins:
        a = orig.loc[orig.id == rid, "llr"].to_numpy()
        b = twin.loc[twin.id == rid, "llr"].to_numpy()
        assert len(a) == len(b) and np.all(np.abs(a - b) < 1e-4), (rid, a, b)
        if rid != "same1":
            assert np.all(a != 0)


# ---------------------------------------------------------------------------------------------
# Core: windows, sharing of reference windows, statuses, normalisation (fake engine, no model)


class FakeEngine:
    """Deterministic stand-in: log p = -(1 + token)/10 at each position, NaN at N; logs calls."""

    def __init__(self) -> None:
        self.calls: list[list[bytes]] = []

    def log_probs(self, windows):
        self.calls.append([w.tobytes() for w in windows])
        out = []
        for w in windows:
            lp = -(1.0 + w.astype(np.float32)) / 10
            lp[w == N] = np.nan
            out.append(lp.astype(np.float32))
        return out


def test_variant_window_centred_shifted_inward_and_mirrored():
    assert variant_window(5386, 1000, 1, 512) == (745, 1257)  # 255 left, 256 right of the base
    assert variant_window(5386, 1000, 1, 512, reverse=True) == (744, 1256)  # mirror image
    assert variant_window(5386, 1000, 2, 512) == variant_window(5386, 1000, 2, 512, reverse=True) == (745, 1257)
    assert variant_window(5386, 4, 1, 512) == (0, 512)  # near the start: shifted right, not padded
    assert variant_window(5386, 5379, 1, 512) == (5386 - 512, 5386)  # near the end: shifted left
    assert variant_window(300, 150, 1, 512) == (0, 300)  # contig shorter than W: used whole


def test_reference_windows_are_computed_once_and_cached():
    genome = ReferenceGenome({"c": np.random.default_rng(1).integers(0, 4, 4000).astype(np.uint8)})
    ref = genome.bases("c", 2000, 2001)
    alts = tuple(b for b in "ACGT" if b != ref)
    engine = FakeEngine()
    scorer = VariantScorer(engine, genome, window=256, strands="both")
    multi = Variant("c", 2001, "m", ref, alts)
    twin = Variant("c", 2001, "t", ref, alts[:1])
    res = scorer.score([multi, twin])
    assert len(engine.calls) == 1  # one engine call per chunk
    # 2 reference windows (one per strand), shared by 4 ALTs x 2 strands; then 8 alt windows.
    assert scorer.n_ref_windows_computed == 2 and len(engine.calls[0]) == 2 + 8
    assert res[0].alleles[0].llr == pytest.approx(res[1].alleles[0].llr)
    scorer.score([Variant("c", 2001, "again", ref, alts[1:2])])  # a later chunk: cached
    assert scorer.n_ref_windows_computed == 2 and len(engine.calls[1]) == 2


def test_default_window_uses_a_short_contig_whole_once():
    """phiX174 (5,386 bp) is shorter than the default W = 8192: every variant shares its windows."""
    genome = ReferenceGenome.from_fasta(FASTA)
    engine = FakeEngine()
    scorer = VariantScorer(engine, genome)  # defaults: W = 8192, both strands
    res = scorer.score([Variant("NC_001422.1", 5, "a", "T", ("C",)), Variant("NC_001422.1", 5380, "b", "A", ("G", "T"))])
    assert [r.window for r in res] == [(0, 5386), (0, 5386)]
    assert scorer.n_ref_windows_computed == 2  # the whole genome, forward and reverse
    lengths = sorted(len(w) for w in engine.calls[0])
    assert lengths == [5386] * 8
    # Fake log p = -(1 + token)/10 depends on the base only: T->C is +0.2 on the forward strand and
    # A->G, -0.2, on the reverse strand; their average is 0.
    assert res[0].alleles[0].llr == pytest.approx(0.0, abs=1e-6)
    forward = VariantScorer(FakeEngine(), genome, strands="forward")
    assert forward.score([Variant("NC_001422.1", 5, "a", "T", ("C",))])[0].alleles[0].llr == pytest.approx(0.2)


def test_statuses_too_long_zero_llr_and_normalisation():
    genome = ReferenceGenome.from_fasta(FASTA)
    engine = FakeEngine()
    scorer = VariantScorer(engine, genome, window=4, strands="forward")
    res = scorer.score([
        Variant("NC_001422.1", 1500, "del", "AAAACA", ("A",)),  # REF longer than W
        Variant("NC_001422.1", 100, "ins", "A", ("ACGTA",)),  # ALT longer than W
        Variant("NC_001422.1", 1000, "mnv", "TAT", ("GCA", "TAT", "N")),
        Variant("NC_001422.1", 0, "pos0", "T", ("C",)),  # outside the contig
        Variant("NC_001422.1", 5, "lower", "t", ("c",)),  # VCF letters are case-insensitive
    ])
    assert [r.statuses for r in res] == [["too_long"], ["too_long"], ["ok", "ok", "non_acgt"], ["ref_mismatch"], ["ok"]]
    assert res[2].alleles[1].llr == 0.0 and res[2].window == (999, 1003)
    # Fake log p = -(1 + token)/10: LL(GCA) - LL(TAT) = -(3+2+1)/10 + (4+1+4)/10 = 0.3.
    assert res[2].alleles[0].llr == pytest.approx(0.3)
    norm = VariantScorer(FakeEngine(), genome, window=4, strands="forward", normalize=True)
    (ins,) = norm.score([Variant("NC_001422.1", 100, "ins", "A", ("AC",))])
    win = genome.contigs["NC_001422.1"][slice(*ins.window)]
    ll_ref = float(np.sum(-(1.0 + win) / 10))
    assert ins.window == (98, 102)  # REF 'A' (0-based 99) at index 1 -> 'AC'
    alt = np.concatenate([win[:1], [0, 1], win[2:]])
    assert ins.alleles[0].llr == pytest.approx(float(np.sum(-(1.0 + alt) / 10)) / 5 - ll_ref / 4)


def test_vcf_reader_reference_from_header(tmp_path):
    reader = VcfReader(VCF)
    assert reader.header_reference() == "phiX174.fa" and reader.reference_path() == DATA / "phiX174.fa"
    url = tmp_path / "u.vcf"
    url.write_text(f"##fileformat=VCFv4.2\n##reference=file://{FASTA}\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
    assert VcfReader(url).reference_path() == FASTA
    with pytest.raises(InputError, match="truncated bgzip"):
        cut = tmp_path / "cut.vcf.gz"
        cut.write_bytes(_bgzipped_vcf(tmp_path, 3000).read_bytes()[:-28])  # whole blocks, no EOF block
        VcfReader(cut)


# ---------------------------------------------------------------------------------------------
# Bad inputs: exit 1, one line on stderr, no traceback, no output file


def _bgzipped_vcf(tmp_path: Path, n: int) -> Path:
    """A VCF of many cheap records (unknown contig: no model calls), bgzipped, several blocks."""
    path = tmp_path / f"many{n}.vcf.gz"
    with bgzf.BgzfWriter(str(path), "wb") as w:
        w.write(f"##fileformat=VCFv4.2\n##reference={FASTA}\n##contig=<ID=other,length=100000>\n".encode())
        w.write(b"#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        for i in range(1, n + 1):
            w.write(f"other\t{i}\tv{i}\tA\tG\t.\t.\t.\n".encode())
    return path


@pytest.mark.parametrize("case", ["missing_vcf", "empty_vcf", "not_vcf", "missing_reference", "empty_reference",
                                  "no_reference", "header_reference_missing", "output_dir_missing", "truncated_bgzip"])
def test_bad_inputs_one_line_and_no_output(tmp_path, case):
    out = tmp_path / "out.vcf"
    vcf, extra, needles = str(VCF), [], []
    if case == "missing_vcf":
        vcf, needles = str(tmp_path / "nope.vcf"), ["nope.vcf", "no such file"]
    elif case == "empty_vcf":
        (tmp_path / "empty.vcf").write_text("")
        vcf, needles = str(tmp_path / "empty.vcf"), ["empty.vcf", "empty file"]
    elif case == "not_vcf":
        (tmp_path / "x.vcf").write_text("hello\nworld\n")
        vcf, needles = str(tmp_path / "x.vcf"), ["x.vcf", "not a VCF"]
    elif case == "missing_reference":
        extra, needles = ["--reference", str(tmp_path / "gone.fa")], ["gone.fa", "no such file"]
    elif case == "empty_reference":
        (tmp_path / "empty.fa").write_text("")
        extra, needles = ["--reference", str(tmp_path / "empty.fa")], ["empty.fa", "empty file"]
    elif case == "no_reference":
        text = VCF.read_text().replace("##reference=phiX174.fa\n", "")
        (tmp_path / "noref.vcf").write_text(text)
        vcf, needles = str(tmp_path / "noref.vcf"), ["noref.vcf", "no reference genome", "--reference"]
    elif case == "header_reference_missing":
        (tmp_path / "badref.vcf").write_text(VCF.read_text())  # ##reference=phiX174.fa, relative to tmp_path
        vcf, needles = str(tmp_path / "badref.vcf"), ["##reference=phiX174.fa", "--reference"]
    elif case == "output_dir_missing":
        out, needles = tmp_path / "no" / "such" / "out.vcf", ["folder does not exist"]
    elif case == "truncated_bgzip":
        data = _bgzipped_vcf(tmp_path, 3000).read_bytes()
        (tmp_path / "cut.vcf.gz").write_bytes(data[: len(data) // 2])
        vcf, needles = str(tmp_path / "cut.vcf.gz"), ["cut.vcf.gz", "truncated"]
    result = _run([vcf, *extra, "--model", str(MODEL), "--window", "64", "-o", str(out)])
    _one_line_error(result, *needles)
    assert not out.exists()


@pytest.mark.parametrize("suffix", [".vcf", ".vcf.gz"])
def test_error_midstream_removes_partial_output(tmp_path, suffix):
    """A malformed record after thousands of good ones: output was being written, then removed."""
    lines = ["##fileformat=VCFv4.2\n##contig=<ID=other,length=100000>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"]
    lines += [f"other\t{i}\tv{i}\tA\tG\t.\t.\t.\n" for i in range(1, 3001)]
    lines.append("other\tnot_a_number\tbad\tA\n")
    vcf = tmp_path / "bad.vcf"
    vcf.write_text("".join(lines))
    out = tmp_path / f"out{suffix}"
    result = _run([str(vcf), "--reference", str(FASTA), "--model", _model(), "--window", "64", "-o", str(out)])
    _one_line_error(result, "bad.vcf", "cannot parse VCF record 3001", "other:3000")
    assert not out.exists()


def test_truncated_vcf_subprocess_no_traceback(tmp_path):
    """Real process: htslib's own [E::...] lines must not reach stderr either."""
    data = _bgzipped_vcf(tmp_path, 3000).read_bytes()
    cut = tmp_path / "half.vcf.gz"
    cut.write_bytes(data[: len(data) // 2])
    out = tmp_path / "out.tsv"
    proc = subprocess.run([sys.executable, "-m", "dnahnet_cli.main", "score-vcf", str(cut), "--model", str(MODEL), "-o", str(out)],
                          capture_output=True, text=True, cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr and "half.vcf.gz" in proc.stderr
    assert not out.exists()


# ---------------------------------------------------------------------------------------------
# torchrun: 2 processes give the same TSV as 1


def test_torchrun_two_ranks_match_one(tmp_path, scored):
    _model()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out2 = tmp_path / "two.tsv"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "dnahnet_cli.main", "score-vcf", str(VCF), "--model", str(MODEL), "--window", WINDOW, "-o", str(out2)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr.count("dnahnet score-vcf: 13 records") == 1  # rank 0 alone reports
    one = pd.read_csv(scored["tsv"], sep="\t", comment="#")
    two = pd.read_csv(out2, sep="\t", comment="#")
    cols = ["chrom", "pos", "id", "ref", "alt", "status"]
    pd.testing.assert_frame_equal(one[cols], two[cols])
    np.testing.assert_allclose(one.llr.to_numpy(), two.llr.to_numpy(), atol=1e-5, equal_nan=True)


def test_alt_dot_record_gets_a_no_alt_row_and_stays_in_the_vcf(tmp_path):
    """ALT '.' (a reference-only call) has nothing to score, but no record silently disappears."""
    vcf = tmp_path / "refcall.vcf"
    header = [line for line in VCF.read_text().splitlines() if line.startswith("#")]
    vcf.write_text("\n".join(header) + "\nNC_001422.1\t1000\trefcall\tT\t.\t.\t.\t.\nNC_001422.1\t1200\tsnv\tT\tG\t.\t.\t.\n")
    tsv = tmp_path / "out.tsv"
    args = [str(vcf), "--reference", str(FASTA), "--model", _model(), "--window", "64", "--strand", "forward"]
    result = _run([*args, "-o", str(tsv)])
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(tsv, sep="\t", comment="#", keep_default_na=False)
    assert rows[["id", "alt", "llr", "status"]].values.tolist()[0] == ["refcall", ".", "NA", "no_alt"]
    assert rows["status"].tolist() == ["no_alt", "ok"]
    assert "1 records with ALT '.' (no_alt" in result.stderr
    out = tmp_path / "out.vcf"
    assert _run([*args, "-o", str(out)]).exit_code == 0
    body = [line.split("\t") for line in out.read_text().splitlines() if not line.startswith("#")]
    assert [b[2] for b in body] == ["refcall", "snv"]
    assert "DNAHNET" not in body[0][7] and "DNAHNET_STATUS=ok" in body[1][7]


@pytest.mark.parametrize("body, field", [
    ("chr1\tabc\t.\tA\tG\t.\tPASS\t.", "POS 'abc' is not a number"),  # undeclared contig: cyvcf2 segfaulted here
    ("NC_001422.1\t12x\t.\tA\tG\t.\tPASS\t.", "POS '12x' is not a number"),
    ("NC_001422.1\t100\t.\tA", "4 tab-separated columns"),
])
def test_malformed_record_names_file_line_and_field_in_a_subprocess(tmp_path, body, field):
    """A real process (a segmentation fault would take pytest down with it): one line, exit 1."""
    vcf = tmp_path / "bad.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                   f"NC_001422.1\t5\tok1\tT\tC\t.\t.\t.\n{body}\n")
    out = tmp_path / "out.tsv"
    proc = subprocess.run([sys.executable, "-m", "dnahnet_cli.main", "score-vcf", str(vcf), "--reference", str(FASTA),
                           "--model", str(MODEL), "--window", "64", "-o", str(out)],
                          capture_output=True, text=True, cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "bad.vcf" in proc.stderr and "record 2" in proc.stderr and "line 4" in proc.stderr and field in proc.stderr
    assert not out.exists()


def test_plain_gzip_vcf_is_read_and_a_cut_one_refused(tmp_path):
    """htslib cannot seek in plain (non-BGZF) gzip; such a VCF is streamed and read all the same."""
    import gzip

    plain = tmp_path / "plain.vcf.gz"
    plain.write_bytes(gzip.compress(VCF.read_bytes()))
    out = tmp_path / "out.tsv"
    result = _run([str(plain), "--reference", str(FASTA), "--model", _model(), "--window", "64", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "13 records" in result.stderr
    cut = tmp_path / "cut.vcf.gz"
    cut.write_bytes(plain.read_bytes()[:-40])
    result = _run([str(cut), "--reference", str(FASTA), "--model", _model(), "--window", "64", "-o", str(out)])
    _one_line_error(result, "cut.vcf.gz", "truncated gzip")
