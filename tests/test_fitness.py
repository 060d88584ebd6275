"""dnahnet fitness: variant libraries of one target (phiX174 gene J), scored against the WT."""

from __future__ import annotations

import gzip
import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from Bio import SeqIO
from typer.testing import CliRunner

from dnahnet_cli.main import app
from dnahnet_core.data.annotation import read_annotation
from dnahnet_core.data.fasta import FastaRecord
from dnahnet_core.data.hgvs import Numbering
from dnahnet_core.data.library import LibraryRow, read_library
from dnahnet_core.errors import InputError
from dnahnet_core.scoring.engine import LikelihoodEngine
from dnahnet_core.scoring.fitness import (FitnessScorer, correlations, genomic_flanks, make_target, mutant_sequence,
                                          reverse_complement, score_library, score_rows, spearman)
from dnahnet_core.scoring.model_io import open_model
from dnahnet_core.scoring.sequences import score_record
from dnahnet_core.vocab import tokenize

DATA = Path(__file__).parent / "data"
MODEL = DATA / "tiny_lambda.safetensors"
LIBRARY = DATA / "phiX174_geneJ_library.tsv"
COLUMNS = ["row", "variant", "assay", "measured", "mut_ll", "wt_ll", "delta", "status", "note"]
# The statuses of the example library, row by row.
EXPECTED_STATUSES = ["ok"] * 19 + ["ref_mismatch", "out_of_range", "unsupported", "bad_hgvs", "overlapping_edits"]
runner = CliRunner()


@pytest.fixture(scope="module")
def engine() -> LikelihoodEngine:
    return LikelihoodEngine(open_model(MODEL).model, "cpu", batch_size=8)


@pytest.fixture(scope="module")
def phix() -> str:
    return str(SeqIO.read(DATA / "phiX174.fa", "fasta").seq).upper()


@pytest.fixture(scope="module")
def gene_j(phix) -> str:
    """phiX174 gene J (cds5, 848..964, + strand), cut out of the genome with the GFF3."""
    cds = next(g for g in read_annotation(DATA / "phiX174.gff3").genes if g.locus_tag == "cds5")
    return phix[cds.start0 : cds.end0]


@pytest.fixture()
def gene_fasta(tmp_path, gene_j) -> Path:
    path = tmp_path / "geneJ.fa"
    path.write_text(f">geneJ\n{gene_j}\n")
    return path


def ll(seq: str, engine) -> float:
    """LL of a whole sequence with the existing sequence scorer (dnahnet score's function)."""
    return score_record(FastaRecord("x", "", tokenize(seq)), engine, 8192, 4096, False, False).log_likelihood


def rows_of(variants, scores=None, assays=None) -> list[LibraryRow]:
    scores = scores or [None] * len(variants)
    assays = assays or [""] * len(variants)
    return [LibraryRow(i + 1, v, s, "" if s is None else repr(s), a) for i, (v, s, a) in enumerate(zip(variants, scores, assays))]


def run(args: list[str]):
    return runner.invoke(app, ["fitness", *args, "--model", str(MODEL)])


def read_tsv(text_or_path) -> pd.DataFrame:
    src = io.StringIO(text_or_path) if isinstance(text_or_path, str) else text_or_path
    return pd.read_csv(src, sep="\t", comment="#", dtype={"variant": str, "assay": str, "note": str}, keep_default_na=False, na_values=["NA"])


# ----------------------------------------------------------------------------------- the recipe


def test_example_target_is_gene_j(gene_j):
    assert len(gene_j) == 117 and gene_j.startswith("ATG") and gene_j.endswith("TAA")
    assert str(SeqIO.read(DATA / "phiX174_geneJ.fa", "fasta").seq) == gene_j


def test_statuses_and_delta_against_independent_scores(engine, gene_j):
    lib = read_library(LIBRARY)
    assert lib.variant_column == "hgvs_nt" and lib.score_column == "score" and lib.assay_column is None
    target = make_target("geneJ", gene_j)
    results = list(score_rows(lib.rows, target, engine, chunk=7))  # several chunks
    assert [r.status for r in results] == EXPECTED_STATUSES
    assert [r.row.number for r in results] == list(range(1, 25))
    wt_ll = ll(gene_j, engine)
    # The mutants written out by hand, not by the HGVS code under test.
    g = gene_j
    expected = {
        "c.6T>C": g[:5] + "C" + g[6:],
        "c.[6T>C;9A>G]": g[:5] + "C" + g[6:8] + "G" + g[9:],
        "c.115_117delinsTAG": g[:114] + "TAG",
        "c.=": g,
        "c.76_78del": g[:75] + g[78:],
        "c.58_60delinsTAA": g[:57] + "TAA" + g[60:],
        "c.50del": g[:49] + g[50:],
        "c.30_31insT": g[:30] + "T" + g[30:],
        "c.76dup": g[:76] + g[75] + g[76:],
    }
    seen = 0
    for r in results:
        if r.status != "ok":
            assert r.mut_ll is None and r.delta is None and r.note
            continue
        assert r.wt_ll == pytest.approx(wt_ll, abs=1e-5)
        assert r.delta == pytest.approx(r.mut_ll - r.wt_ll, abs=1e-9)
        if r.row.variant in expected:
            seen += 1
            mut_ll = ll(expected[r.row.variant], engine)
            assert r.mut_ll == pytest.approx(mut_ll, abs=1e-5), r.row.variant
            assert r.delta == pytest.approx(mut_ll - wt_ll, abs=1e-5), r.row.variant
    assert seen == len(expected)
    assert next(r for r in results if r.row.variant == "c.=").delta == 0.0  # exactly


def test_notes_name_the_problem(engine, gene_j):
    results = list(score_rows(read_library(LIBRARY).rows, make_target("geneJ", gene_j), engine))
    notes = {r.row.variant: r.note for r in results if r.status != "ok"}
    assert notes["c.10A>G"] == "c.10A>G: states A, the target has G at c.10"
    assert notes["c.120A>T"] == "c.120 lies outside the target (c.1 to c.117, 117 bases)"
    assert "intronic" in notes["c.76+1G>A"] and "overlap" in notes["c.[7A>T;7_8insG]"]


def test_sequence_cells_and_empty_cells(engine, gene_j):
    target = make_target("geneJ", gene_j)
    snv = gene_j[:6] + "T" + gene_j[7:]  # c.7A>T
    rows = rows_of(["c.7A>T", snv, snv.lower(), gene_j[:50] + "N" + gene_j[51:], "hello", "", "c.7A>T", "NA"])
    results = FitnessScorer(target, engine).score(rows)
    # MaveDB's NA (a protein-only row) is no variant, not a sequence of N and A
    assert [r.status for r in results] == ["ok", "ok", "ok", "non_acgt", "bad_hgvs", "no_variant", "ok", "no_variant"]
    assert results[1].delta == pytest.approx(results[0].delta, abs=1e-6)
    assert results[2].delta == pytest.approx(results[0].delta, abs=1e-6)
    assert mutant_sequence("c.7A>T", target) == ("ok", "", snv)


def test_long_targets_are_tiled_like_dnahnet_score(engine, phix):
    """A target longer than the context is scored in overlapping windows, exactly as score_record does."""
    wt = phix[:300]
    target = make_target("t", wt)
    scorer = FitnessScorer(target, engine, context=64, stride=32)
    assert (wt[99], wt[199]) == ("A", "T")
    res = scorer.score(rows_of(["c.100A>G", "c.200del", "c.250_251insACGT"]))
    assert [r.status for r in res] == ["ok"] * 3
    for r in res:
        mut = mutant_sequence(r.row.variant, target)[2]
        tiled = score_record(FastaRecord("x", "", tokenize(mut)), engine, 64, 32, False, False).log_likelihood
        assert r.mut_ll == pytest.approx(tiled, abs=1e-5)
    assert scorer.wt_ll == pytest.approx(score_record(FastaRecord("x", "", tokenize(wt)), engine, 64, 32, False, False).log_likelihood, abs=1e-5)


def test_minus_strand_is_scored_in_coding_orientation(engine, gene_j, phix):
    lib = read_library(LIBRARY)
    plus = list(score_rows(lib.rows, make_target("geneJ", gene_j), engine))
    minus_target = make_target("geneJ_rc", reverse_complement(gene_j), strand="-")
    assert minus_target.sequence == gene_j
    minus = list(score_rows(lib.rows, minus_target, engine))
    assert [r.status for r in minus] == EXPECTED_STATUSES
    for a, b in zip(plus, minus):
        assert (a.delta is None and b.delta is None) or a.delta == pytest.approx(b.delta, abs=1e-6)

    # A record with 30 / 20 bases around the gene, written on the other strand: --cds is in the
    # record's own coordinates, and c.1 is the gene's first base.
    context = phix[847 - 30 : 964 + 20]
    record = reverse_complement(context)
    t = make_target("ctx_rc", record, strand="-", cds=(21, 137))
    assert t.sequence == context and t.numbering == Numbering(167, 30, 147)
    assert (context[0], context[29], context[-1]) == ("T", "A", "T")
    res = FitnessScorer(t, engine).score(rows_of(["c.7A>T", "c.-30T>A", "c.-1A>G", "c.*20T>C", "c.*20A>C", "c.*21T>C", "c.-31A>C"]))
    assert [r.status for r in res] == ["ok", "ok", "ok", "ok", "ref_mismatch", "out_of_range", "out_of_range"]
    for r, mut in zip(res, [context[:36] + "T" + context[37:], "A" + context[1:], context[:29] + "G" + context[30:], context[:-1] + "C"]):
        assert r.delta == pytest.approx(ll(mut, engine) - ll(context, engine), abs=1e-5), r.row.variant


def test_genomic_flanks(engine, gene_j, phix):
    (left, right), where = genomic_flanks(gene_j, {"NC_001422.1": phix}, 40)
    assert (where.contig, where.start, where.end, where.orientation) == ("NC_001422.1", 847, 964, "+")
    assert left == phix[807:847] and right == phix[964:1004]
    (l2, r2), w2 = genomic_flanks(reverse_complement(gene_j), {"NC_001422.1": phix}, 40)
    assert w2.orientation == "-" and (l2, r2) == (reverse_complement(right), reverse_complement(left))
    # the same window whichever strand the record is written on
    t_plus = make_target("g", gene_j, "+", None, (left, right))
    t_minus = make_target("g", reverse_complement(gene_j), "-", None, (l2, r2))
    assert (t_plus.left_flank, t_plus.sequence, t_plus.right_flank) == (t_minus.left_flank, t_minus.sequence, t_minus.right_flank)
    r = FitnessScorer(t_plus, engine).score(rows_of(["c.7A>T"]))[0]
    mut = gene_j[:6] + "T" + gene_j[7:]
    assert r.delta == pytest.approx(ll(left + mut + right, engine) - ll(left + gene_j + right, engine), abs=1e-5)
    with pytest.raises(InputError, match="does not occur"):
        genomic_flanks("ACGTACGTACGTAAAAAAATTTTT", {"x": phix}, 10)
    with pytest.raises(InputError, match="more than once"):
        genomic_flanks(gene_j, {"a": phix, "b": phix}, 10)


# ------------------------------------------------------------------------------------ Spearman


def test_spearman_without_scipy():
    x = [0.1, 0.4, 0.2, 0.2, 0.9]
    y = [1.0, 3.0, 2.0, 2.5, 10.0]
    rx = pd.Series(x).rank().to_numpy()
    ry = pd.Series(y).rank().to_numpy()
    assert spearman(x, y) == pytest.approx(float(np.corrcoef(rx, ry)[0, 1]))
    assert spearman([1, 2, 3], [30, 20, 10]) == pytest.approx(-1.0)
    assert math.isnan(spearman([1.0], [2.0])) and math.isnan(spearman([1, 1, 1], [1, 2, 3]))


def test_spearman_per_assay_against_planted_scores(engine, gene_j):
    target = make_target("geneJ", gene_j)
    variants = [r.variant for r in read_library(LIBRARY).rows]
    first = list(score_rows(rows_of(variants), target, engine))
    deltas = [r.delta for r in first]
    # assay "up": a monotone transform of delta (rho = +1); "down": reversed (rho = -1). Both see every
    # row, so bad rows are in each assay too and must be left out of n.
    planted = [None if d is None else 3 * d + 1 for d in deltas] + [None if d is None else -math.exp(d) for d in deltas]
    assays = ["up"] * len(variants) + ["down"] * len(variants)
    rows = rows_of(variants + variants, planted, assays)
    rows[0] = LibraryRow(1, rows[0].variant, None, "NA", "up")  # an ok row without a measurement
    results = list(score_rows(rows, target, engine))
    corrs = correlations(results)
    assert [(c.assay, c.n) for c in corrs] == [("up", 18), ("down", 19)]
    assert corrs[0].rho == pytest.approx(1.0) and corrs[1].rho == pytest.approx(-1.0)


# ----------------------------------------------------------------------------------------- CLI


def test_cli_end_to_end(tmp_path, gene_fasta, engine, gene_j):
    out, summary = tmp_path / "scored.tsv", tmp_path / "summary.json"
    result = run([str(LIBRARY), "--target", str(gene_fasta), "-o", str(out), "--summary", str(summary)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert text.startswith("# command: dnahnet") and "# model_sha256: " in text and "# numbering: c.1 = n.1" in text
    df = read_tsv(out)
    assert list(df.columns) == COLUMNS and list(df["status"]) == EXPECTED_STATUSES
    assert list(df["row"]) == list(range(1, 25)) and df["variant"].iloc[4] == "c.[6T>C;9A>G]"
    ok = df[df["status"] == "ok"]
    assert ok["delta"].to_numpy() == pytest.approx((ok["mut_ll"] - ok["wt_ll"]).to_numpy(), abs=2e-6)
    assert ok["wt_ll"].iloc[0] == pytest.approx(ll(gene_j, engine), abs=1e-5)
    assert df[df["status"] != "ok"][["mut_ll", "wt_ll", "delta"]].isna().all().all()
    rho = spearman(ok["delta"].tolist(), ok["measured"].tolist())
    assert "dnahnet fitness: 24 variants: ok 19, ref_mismatch 1, out_of_range 1, overlapping_edits 1, bad_hgvs 1, unsupported 1" in result.stderr
    assert f"all        19  {rho:+.4f}" in result.stderr
    doc = json.loads(summary.read_text())
    assert doc["variants"] == 24 and doc["statuses"]["ok"] == 19 and doc["spearman"][0]["n"] == 19
    assert doc["spearman"][0]["assay"] is None and doc["spearman"][0]["rho"] == pytest.approx(rho, abs=1e-4)
    assert doc["provenance"]["model_sha256"] and doc["wt_ll"] == pytest.approx(ok["wt_ll"].iloc[0], abs=1e-6)

    # stdout, a CSV with named columns (MaveDB layout: '#' lines, '#' inside cells), gzip
    csv = tmp_path / "lib.csv.gz"
    body = "# Accession: urn:mavedb:00000000-a-1\naccession,hgvs_nt,score,assay\n"
    body += "".join(f"urn:mavedb:00000000-a-1#{i},{v},{s},{a}\n" for i, (v, s, a) in enumerate(
        [("c.7A>T", "0.1", "x"), ("c.9A>G", "0.9", "x"), ("c.93G>A", "NA", "y"), ("c.1A>G", "0.5", "y")], start=1))
    csv.write_bytes(gzip.compress(body.encode()))
    r2 = run([str(csv), "-t", str(gene_fasta), "--score-column", "score", "--assay-column", "assay"])
    assert r2.exit_code == 0, r2.output
    df2 = read_tsv(r2.stdout)
    assert list(df2["assay"]) == ["x", "x", "y", "y"] and list(df2["status"]) == ["ok"] * 4
    assert pd.isna(df2["measured"].iloc[2])
    assert "x           2" in r2.stderr and "y           1  NA" in r2.stderr


def test_cli_minus_strand_and_flanks(tmp_path, gene_j, phix):
    rc = tmp_path / "rc.fa"
    rc.write_text(f">other\nACGT\n>geneJ_rc\n{reverse_complement(gene_j)}\n")
    plain = read_tsv(run([str(LIBRARY), "-t", str(DATA / "phiX174_geneJ.fa")]).stdout)
    r = run([str(LIBRARY), "-t", str(rc), "--record", "geneJ_rc", "--strand", "-"])
    assert r.exit_code == 0, r.output
    minus = read_tsv(r.stdout)
    assert list(minus["status"]) == EXPECTED_STATUSES
    assert minus["delta"].to_numpy() == pytest.approx(plain["delta"].to_numpy(), abs=2e-6, nan_ok=True)
    assert "# strand: - (record reverse-complemented)" in r.stdout
    f = run([str(LIBRARY), "-t", str(rc), "--record", "geneJ_rc", "--strand", "-", "--genome", str(DATA / "phiX174.fa"), "--flank", "50"])
    assert f.exit_code == 0, f.output
    assert "+ 50 / 50 flanking bases" in f.stdout and "NC_001422.1:848-964, opposite strand" in f.stdout
    flanked = read_tsv(f.stdout)
    assert flanked["wt_ll"].iloc[0] < plain["wt_ll"].iloc[0] - 50  # 100 more bases scored


@pytest.mark.parametrize("args, message, code", [
    (["--score-column", "fitness"], "no score column 'fitness' (--score-column); the columns are: hgvs_nt, class, score", 1),
    (["--variant-column", "hgvs"], "no variant column 'hgvs'", 1),
    (["--cds", "1..500"], "--cds 1..500 runs past the end of the target (117 bases)", 1),
    (["--cds", "9..3"], "expected START..END", 2),
    (["--flank", "10"], "--flank needs --genome", 2),
    (["--record", "nope"], "no record 'nope'", 1),
])
def test_cli_errors(tmp_path, gene_fasta, args, message, code):
    r = run([str(LIBRARY), "-t", str(gene_fasta), *args, "-o", str(tmp_path / "out.tsv")])
    assert r.exit_code == code and message in r.output, r.output
    assert "Traceback" not in r.output and not (tmp_path / "out.tsv").exists()
    if code == 1:
        assert r.stderr.count("\n") == 1 and r.stderr.startswith("dnahnet: error:")


def test_cli_missing_files_are_one_line_in_a_subprocess(tmp_path, gene_fasta):
    cmd = [sys.executable, "-c", "from dnahnet_cli.main import app; app()", "fitness"]
    r = subprocess.run([*cmd, str(tmp_path / "nope.tsv"), "-t", str(gene_fasta)], capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr == f"dnahnet: error: {tmp_path / 'nope.tsv'}: no such file\n"
    bad = tmp_path / "lib.tsv"
    bad.write_text("id\tfoo\n1\tc.1A>T\n")
    r = subprocess.run([*cmd, str(bad), "-t", str(gene_fasta)], capture_output=True, text=True)
    assert r.returncode == 1 and "no variant column" in r.stderr and r.stderr.count("\n") == 1


# --------------------------------------------------------------------------- the recipe from Python


@pytest.fixture(scope="module")
def session():
    from dnahnet_core.scoring.session import ScoringSession

    with ScoringSession.open(model=MODEL, device="cpu") as s:
        yield s


def header_of(text: str) -> dict[str, str]:
    return dict(line[2:].split(": ", 1) for line in text.splitlines() if line.startswith("# "))


def assert_same_rows(results, df: pd.DataFrame) -> None:
    """Recipe results against the TSV the CLI wrote: same rows in the same order, floats within 1e-5."""
    assert len(results) == len(df)
    for r, (_, row) in zip(results, df.iterrows()):
        assert (r.row.number, r.row.variant, r.status) == (row["row"], row["variant"], row["status"])
        assert r.note == ("" if pd.isna(row["note"]) else row["note"])
        for name in ("mut_ll", "wt_ll", "delta"):
            value = getattr(r, name)
            assert (value is None and pd.isna(row[name])) or value == pytest.approx(row[name], abs=1e-5), (r.row.variant, name)


@pytest.mark.parametrize("args, kwargs", [
    ([], {}),
    (["--strand", "-", "--record", "geneJ_rc", "--cds", "21..137", "--genome", str(DATA / "phiX174.fa"), "--flank", "25"],
     {"strand": "-", "record": "geneJ_rc", "cds": (21, 137), "genome": DATA / "phiX174.fa", "flank": 25}),
])
def test_recipe_matches_the_cli_and_records_its_parameters(tmp_path, session, gene_j, phix, args, kwargs):
    from dnahnet_core.scoring.fitness import FitnessRun

    fasta = tmp_path / "target.fa"
    if kwargs:  # the gene with 20 / 10 bases around it, written on the other strand
        fasta.write_text(f">other\nACGT\n>geneJ_rc\n{reverse_complement(phix[847 - 20 : 964 + 10])}\n")
    else:
        fasta.write_text(f">geneJ\n{gene_j}\n")
    out = tmp_path / "cli.tsv"
    result = run([str(LIBRARY), "-t", str(fasta), *args, "-o", str(out)])
    assert result.exit_code == 0, result.output

    run_ = score_library(session, LIBRARY, fasta, **kwargs)
    assert isinstance(run_, FitnessRun) and run_.skip == 0 and run_.accessions == []
    assert run_.library.variant_column == "hgvs_nt" and len(run_.library.rows) == 24
    results = list(run_.results)
    assert [r.row.number for r in results] == list(range(1, 25))  # input order
    assert_same_rows(results, read_tsv(out))
    # The parameters are the run's provenance after the command and model lines, in order.
    header = header_of(out.read_text())
    assert list(header)[-len(run_.parameters):] == list(run_.parameters)
    assert {k: str(v) for k, v in run_.parameters.items()} == {k: header[k] for k in run_.parameters}
    assert list(run_.parameters)[:2] == ["library", "variant_column"] and run_.parameters["context"] == 8192
    assert list(header)[: -len(run_.parameters)] == ["command", *session.provenance()]
    if kwargs:
        assert run_.flank_source is not None and run_.flank_source.orientation == "-"
        assert len(run_.target.left_flank) == len(run_.target.right_flank) == 25
    else:
        assert run_.flank_source is None and run_.target.sequence == gene_j


def test_recipe_skip_chunks_and_accessions(tmp_path, session, gene_fasta):
    lib = tmp_path / "acc.tsv"
    lib.write_text("variant\tscore\nNM_1:c.7A>T\t0.1\nNM_2:c.9A>G\t0.9\nc.93G>A\t0.3\nc.10A>G\tNA\nc.1A>G\t0.5\n")
    whole = score_library(session, lib, gene_fasta)
    assert whole.accessions == ["NM_1", "NM_2"]
    assert whole.parameters["score_column"] == "score" and whole.parameters["assay_column"] == "none"
    full = list(whole.results)
    tail = list(score_library(session, lib, gene_fasta, skip=2, chunk=2).results)
    assert [r.row.number for r in tail] == [3, 4, 5]
    for a, b in zip(full[2:], tail):
        assert (a.status, a.note) == (b.status, b.note)
        assert (a.delta is None and b.delta is None) or a.delta == pytest.approx(b.delta, abs=1e-6)
    # the one-process generator agrees
    same = list(score_rows(read_library(lib).rows, whole.target, session.engine))
    assert [r.status for r in same] == [r.status for r in full] == ["ok", "ok", "ok", "ref_mismatch", "ok"]
    for a, b in zip(full, same):
        assert (a.delta is None and b.delta is None) or a.delta == pytest.approx(b.delta, abs=1e-6)


def test_recipe_input_errors_come_before_any_scoring(tmp_path, session, gene_fasta):
    with pytest.raises(InputError, match="no such file"):
        score_library(session, tmp_path / "nope.tsv", gene_fasta)
    with pytest.raises(InputError, match="runs past the end of the target"):
        score_library(session, LIBRARY, gene_fasta, cds=(1, 500))
    with pytest.raises(ValueError, match="flanks need"):
        score_library(session, LIBRARY, gene_fasta, flank=10)


def test_torchrun_two_ranks_write_what_one_process_writes(tmp_path, gene_fasta):
    single = tmp_path / "one.tsv"
    assert run([str(LIBRARY), "-t", str(gene_fasta), "-o", str(single)]).exit_code == 0
    out = tmp_path / "ddp.tsv"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "dnahnet_cli.main",
           "fitness", str(LIBRARY), "-t", str(gene_fasta), "--model", str(MODEL), "-o", str(out), "--device", "cpu"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stderr.count("dnahnet fitness: 24 variants") == 1  # rank 0 alone reports
    a, b = read_tsv(single), read_tsv(out)
    assert list(a["row"]) == list(b["row"]) and list(a["status"]) == list(b["status"])
    assert b["delta"].to_numpy() == pytest.approx(a["delta"].to_numpy(), abs=1e-5, nan_ok=True)
