"""dnahnet essentiality: annotation reading, knockout windows, the score, the CLI contract."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from Bio import SeqIO
from typer.testing import CliRunner

from dnahnet_cli.main import app
from dnahnet_core.data.annotation import Gene, parse_attributes, read_annotation
from dnahnet_core.errors import InputError
from dnahnet_core.scoring.engine import LikelihoodEngine
from dnahnet_core.scoring.essentiality import (
    DEFAULT_CASSETTE, KnockoutConfig, assign_essential, auroc, gene_window, knockout, plan_gene,
    rank_average, score_genes, GeneScore)
from dnahnet_core.data.labels import read_labels
from dnahnet_core.scoring.model_io import open_model
from dnahnet_core.vocab import decode, reverse_complement_ids, tokenize

DATA = Path(__file__).parent / "data"
MODEL = DATA / "tiny_lambda.safetensors"
COLUMNS = ["gene_id", "locus_tag", "gene_name", "chrom", "start", "end", "strand",
           "wt_ll", "ko_ll", "score", "essential", "status"]
runner = CliRunner()


@pytest.fixture(scope="module")
def engine() -> LikelihoodEngine:
    return LikelihoodEngine(open_model(MODEL).model, "cpu", batch_size=8)


@pytest.fixture(scope="module")
def phix_ids() -> np.ndarray:
    return tokenize(str(SeqIO.read(DATA / "phiX174.fa", "fasta").seq))


@pytest.fixture(scope="module")
def pcp():
    return read_annotation(DATA / "pPCP1_plasmid.gbk")


def run(args: list[str]):
    return runner.invoke(app, ["essentiality", *args, "--model", str(MODEL)])


def read_tsv(path_or_text) -> pd.DataFrame:
    src = io.StringIO(path_or_text) if isinstance(path_or_text, str) and "\t" in path_or_text else path_or_text
    return pd.read_csv(src, sep="\t", comment="#", dtype={"locus_tag": str, "gene_name": str}, keep_default_na=False, na_values=[""])


# ------------------------------------------------------------------------------- annotation


def _gff_line(path: Path, needle: str) -> list[str]:
    return next(line.split("\t") for line in path.read_text().splitlines() if needle in line and "\tCDS\t" in line)


def test_gff3_phix_and_pcp1():
    phix = read_annotation(DATA / "phiX174.gff3")
    assert phix.format == "gff3" and len(phix.genes) == 8 and phix.sequences == {}
    fields = _gff_line(DATA / "phiX174.gff3", "locus_tag=cds6;")
    cds6 = next(g for g in phix.genes if g.locus_tag == "cds6")
    assert (cds6.start0 + 1, cds6.end0) == (int(fields[3]), int(fields[4])) == (1001, 2284)
    assert cds6.chrom == "NC_001422.1" and cds6.strand == "+" and cds6.n_parts == 1 and cds6.gene_id == "cds-cds6"

    pcp = read_annotation(DATA / "pPCP1_plasmid.gff3")
    assert [g.locus_tag for g in pcp.genes] == [f"YP_pPCP{i:02d}" for i in range(1, 11)]
    pst = next(g for g in pcp.genes if g.gene_name == "pst")
    fields = _gff_line(DATA / "pPCP1_plasmid.gff3", "locus_tag=YP_pPCP06;")
    assert (pst.start0 + 1, pst.end0, pst.strand) == (int(fields[3]), int(fields[4]), fields[6]) == (4815, 5888, "-")
    assert [g.strand for g in pcp.genes].count("-") == 3


def test_genbank_phix_and_pcp1(phix_ids):
    phix = read_annotation(DATA / "phiX174.gbk")
    assert phix.format == "genbank" and len(phix.genes) == 11
    assert phix.topology == {"NC_001422.1": "circular"}
    assert np.array_equal(phix.sequences["NC_001422.1"], phix_ids)
    joined = [g for g in phix.genes if g.n_parts > 1]
    assert len(joined) == 3 and all(g.n_parts == 2 for g in joined)
    # join(5075..5386,1..51) crosses the origin: GFF3 convention, end beyond the length
    assert (joined[2].start0 + 1, joined[2].end0) == (5075, 5386 + 51)
    k = next(g for g in phix.genes if g.start0 == 50)
    assert (k.end0, k.strand, k.gene_id, k.locus_tag) == (221, "+", "NP_040706.1", "")

    gb = read_annotation(DATA / "pPCP1_plasmid.gbk")
    gff = read_annotation(DATA / "pPCP1_plasmid.gff3")
    assert len(gb.sequences["NC_005816.1"]) == 9609
    key = lambda a: [(g.locus_tag, g.chrom, g.start0, g.end0, g.strand) for g in a.genes]  # noqa: E731
    assert key(gb) == key(gff)
    assert next(g for g in gb.genes if g.locus_tag == "YP_pPCP03").gene_name == "rop"


def test_gff3_attributes_joined_cds_and_embedded_fasta(tmp_path):
    assert parse_attributes("ID=a%3Bb;Note=x%2Cy,z;Dbxref=.;bare") == {"ID": ["a;b"], "Note": ["x,y", "z"], "Dbxref": ["."]}
    gff = tmp_path / "x.gff3"
    gff.write_text(
        "##gff-version 3\n"
        "c1\tx\tregion\t1\t60\t.\t+\t.\tID=c1;Is_circular=true\n"
        "c1\tx\tCDS\t1\t10\t.\t+\t0\tID=cds-j;Note=has # hash\n"
        "c1\tx\tCDS\t20\t40\t.\t+\t0\tID=cds-j\n"
        "c1\tx\tCDS\t41\t59\t.\t.\t0\tID=cds%20k;gene=abc\n"
        "##FASTA\n>c1 test\n" + "ACGT" * 15 + "\n")
    ann = read_annotation(gff)
    j, k = ann.genes
    assert (j.gene_id, j.start0, j.end0, j.n_parts) == ("cds-j", 0, 40, 2)
    assert (k.gene_id, k.gene_name, k.strand) == ("cds k", "abc", ".")
    assert ann.topology == {"c1": "circular"} and len(ann.sequences["c1"]) == 60
    cfg = KnockoutConfig(protocol="centred", window=64, offset=0, cassette="TAA")
    assert plan_gene(j, ann.sequences, ann.topology, cfg)[0] == "multi_interval"
    assert plan_gene(k, ann.sequences, ann.topology, cfg)[0] == "no_strand"


# ---------------------------------------------------------------------------- windows, edits


def test_knockout_changes_only_cassette_positions(pcp):
    genome = pcp.sequences["NC_005816.1"]
    cfg = KnockoutConfig(protocol="centred", window=1024)
    for gene in pcp.genes:
        status, win = plan_gene(gene, pcp.sequences, pcp.topology, cfg)
        if win is None:
            continue
        # every window starts its gene with a start codon, on both strands
        assert decode(win.ids[win.gene_at : win.gene_at + 3]) in ("ATG", "GTG", "TTG"), gene
        at = win.gene_at + 12
        ko = knockout(win.ids, at, cfg.cassette_ids)
        assert len(ko) == len(win.ids) == 1024
        assert np.flatnonzero(ko != win.ids).max() < at + 15 and np.flatnonzero(ko != win.ids).min() >= at
        assert decode(ko[at : at + 15]) == DEFAULT_CASSETTE
        assert np.array_equal(np.delete(ko, np.arange(at, at + 15)), np.delete(win.ids, np.arange(at, at + 15)))
    assert len(genome) == 9609


def test_minus_strand_window_is_reverse_complement(pcp):
    genome = pcp.sequences["NC_005816.1"]
    pst = next(g for g in pcp.genes if g.locus_tag == "YP_pPCP06")
    for circular in (True, False):
        win = gene_window(genome, pst, 2048, circular)
        assert np.array_equal(win.ids, reverse_complement_ids(genome[win.left0 : win.left0 + 2048]))
        # centred: upstream flank (to the right on the genome) = (2048 - 1074) // 2
        assert win.gene_at == (2048 - pst.length) // 2 and win.left0 + 2048 - win.gene_at == pst.end0


def test_circular_wrap_linear_shift_and_short_replicon(phix_ids):
    gene = Gene("g", "t", "", "NC_001422.1", 50, 221, "+")  # phiX174 gene K, 51..221
    L, W = len(phix_ids), 512
    win = gene_window(phix_ids, gene, W, circular=True)
    up = (W - gene.length) // 2
    assert win.wraps and win.gene_at == up and win.left0 == L - (up - 50)
    assert np.array_equal(win.ids, np.concatenate([phix_ids[L - (up - 50):], phix_ids[: W - (up - 50)]]))
    lin = gene_window(phix_ids, gene, W, circular=False)
    assert not lin.wraps and lin.left0 == 0 and lin.gene_at == 50 and np.array_equal(lin.ids, phix_ids[:W])
    # minus-strand gene near the origin wraps too, and reads as the reverse complement
    minus = Gene("m", "m", "", "NC_001422.1", 10, 100, "-")
    wm = gene_window(phix_ids, minus, W, circular=True)
    assert wm.wraps and np.array_equal(wm.ids, reverse_complement_ids(phix_ids[(wm.left0 + np.arange(W)) % L]))
    # a replicon shorter than the window is used whole: rotated (circular) or as is (linear)
    whole = gene_window(phix_ids, gene, 10_000, circular=True)
    assert len(whole.ids) == L and sorted(whole.genomic_positions(L)) == list(range(L))
    assert np.array_equal(gene_window(phix_ids, gene, 10_000, circular=False).ids, phix_ids)


def test_statuses_from_plan_gene(phix_ids):
    genomes = {"c": phix_ids.copy()}
    genomes["c"][50 + 12] = 4  # an N where the cassette of gene K goes
    cfg = KnockoutConfig(protocol="centred", window=256)
    g = lambda s, e, strand="+", chrom="c", parts=1: Gene("x", "", "", chrom, s, e, strand, parts)  # noqa: E731
    assert plan_gene(g(50, 221), genomes, {}, cfg)[0] == "non_acgt"
    assert plan_gene(g(300, 600), genomes, {}, cfg)[0] == "too_long"
    assert plan_gene(g(300, 320), genomes, {}, cfg)[0] == "too_short"  # 20 < 12 + 15
    assert plan_gene(g(300, 327), genomes, {}, cfg)[0] == "ok"
    assert plan_gene(g(300, 327, chrom="other"), genomes, {}, cfg)[0] == "unknown_contig"
    assert plan_gene(g(5300, 5450), genomes, {}, cfg)[0] == "ok"  # crosses the origin (circular)
    assert plan_gene(g(5300, 5450), genomes, {"c": "linear"}, cfg)[0] == "out_of_range"
    assert plan_gene(g(5300, 5450), genomes, {}, KnockoutConfig(protocol="centred", window=256, circular="no"))[0] == "out_of_range"


def test_knockout_leaves_earlier_log_probs_unchanged(engine, pcp):
    cfg = KnockoutConfig(protocol="centred", window=384)
    genes = [g for g in pcp.genes if g.locus_tag in ("YP_pPCP03", "YP_pPCP09")]
    assert [g.strand for g in genes] == ["+", "-"]
    for gene in genes:
        _, win = plan_gene(gene, pcp.sequences, pcp.topology, cfg)
        at = win.gene_at + cfg.offset
        wt, ko = engine.log_probs([win.ids, knockout(win.ids, at, cfg.cassette_ids)])
        # Equal before the cassette up to float rounding: the inner stages see different chunk
        # counts after it, and with the shapes the BLAS summation order may change on some CPUs.
        np.testing.assert_allclose(wt[:at], ko[:at], rtol=1e-5, atol=1e-6)
        assert np.abs(wt[at:] - ko[at:]).max() > 1e-3
        (s,) = score_genes([gene], pcp.sequences, pcp.topology, engine, cfg)
        full = float(np.nansum(wt, dtype=np.float64) - np.nansum(ko, dtype=np.float64))
        assert s.status == "ok" and s.score == pytest.approx(full, abs=1e-3)
        assert s.score == pytest.approx(s.wt_ll - s.ko_ll, abs=1e-9)
        assert s.wt_ll == pytest.approx(float(np.nansum(wt, dtype=np.float64)), abs=1e-9)


# ------------------------------------------------------------------------------ rule, AUROC


def test_auroc_by_hand_and_essential_rule():
    assert auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(0.75)
    # ties count half: pairs (2 vs 1) 1, (2 vs 2) 0.5, (3 vs 1) 1, (3 vs 2) 1 -> 3.5 / 4
    assert auroc([1, 2, 2, 3], [0, 1, 0, 1]) == pytest.approx(0.875)
    assert np.isnan(auroc([1, 2], [1, 1]))
    assert list(rank_average(np.array([3.0, 1.0, 3.0, 2.0]))) == [3.5, 1.0, 3.5, 2.0]
    gene = Gene("x", "", "", "c", 0, 30, "+")
    rows = [GeneScore(gene, "ok", score=v) for v in (5.0, 1.0, 3.0, 2.0, 4.0)] + [GeneScore(gene, "too_long")]
    assign_essential(rows, fraction=0.4)  # k = 2: scores 5 and 4
    assert [r.essential for r in rows] == [1, 0, 0, 0, 1, None]
    assign_essential(rows, threshold=2.5)
    assert [r.essential for r in rows] == [1, 0, 1, 0, 1, None]


def test_read_labels(tmp_path):
    labels = read_labels(DATA / "pPCP1_labels.tsv")
    assert len(labels) == 10 and sum(labels.values()) == 4
    csv = tmp_path / "l.csv"
    csv.write_text("locus_tag,essential,note\na,1,x\nb,0,y\n")
    assert read_labels(csv) == {"a": 1, "b": 0}
    csv.write_text("locus_tag,essential\na,yes\n")
    with pytest.raises(InputError, match="0 or 1"):
        read_labels(csv)


# ---------------------------------------------------------------------------------------- CLI


def test_cli_tsv_one_row_per_cds_with_provenance(tmp_path):
    out = tmp_path / "phix.tsv"
    result = run([str(DATA / "phiX174.fa"), "--annotation", str(DATA / "phiX174.gbk"), "--window", "384", "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    for key in ("# command:", "# dnahnet_version:", "# model: tiny_lambda", "# model_sha256:", "# window: 384",
                "# offset: 12", f"# cassette: {DEFAULT_CASSETTE}", "# circular: auto", "# essential_rule:", "# coordinates: start/end 1-based"):
        assert key in text, key
    df = read_tsv(out)
    assert list(df.columns) == COLUMNS and len(df) == 11
    assert df["status"].value_counts().to_dict() == {"ok": 4, "too_long": 4, "multi_interval": 3}
    ok = df[df["status"] == "ok"]
    assert ok[["wt_ll", "ko_ll", "score", "essential"]].notna().all().all()
    assert np.allclose(ok["score"], ok["wt_ll"] - ok["ko_ll"], atol=2e-6)
    assert df.loc[df["status"] != "ok", ["wt_ll", "score", "essential"]].isna().all().all()
    assert ok["essential"].sum() == 1  # round(0.2 * 4) = 1
    assert ok.loc[ok["score"].idxmax(), "essential"] == 1
    gene_k = df[df["gene_id"] == "NP_040706.1"].iloc[0]
    assert (gene_k["start"], gene_k["end"], gene_k["strand"]) == (51, 221, "+")  # 1-based inclusive, as the file
    assert "11 CDS, 4 scored" in result.stderr


def test_cli_gff3_fasta_equals_genbank_only_and_labels_auroc(tmp_path):
    fasta = tmp_path / "pPCP1.fa"
    SeqIO.write(SeqIO.read(DATA / "pPCP1_plasmid.gbk", "genbank"), fasta, "fasta")
    a = run([str(fasta), "--annotation", str(DATA / "pPCP1_plasmid.gff3"), "--window", "384"])
    b = run(["--annotation", str(DATA / "pPCP1_plasmid.gbk"), "--window", "384", "--labels", str(DATA / "pPCP1_labels.tsv")])
    assert a.exit_code == 0 and b.exit_code == 0, a.output + b.output
    da, db = read_tsv(a.stdout), read_tsv(b.stdout)
    assert len(da) == len(db) == 10
    m = da.merge(db, on="locus_tag", suffixes=("_gff", "_gbk"))
    assert len(m) == 10 and (m["status_gff"] == m["status_gbk"]).all() and (m["status_gbk"] == "ok").sum() == 4
    assert np.allclose(m["score_gff"], m["score_gbk"], atol=1e-6, equal_nan=True)
    assert (m["start_gff"] == m["start_gbk"]).all() and (m["end_gff"] == m["end_gbk"]).all()
    # the AUROC on stderr equals the one computed from the written scores and the labels
    labels = read_labels(DATA / "pPCP1_labels.tsv")
    ok = db[db["status"] == "ok"]
    expected = auroc(ok["score"].to_numpy(), [labels[t] for t in ok["locus_tag"]])
    assert f"AUROC {expected:.4f} on {len(ok)} labelled genes" in b.stderr
    assert b.stderr.count("\n") == 1


def test_cli_too_short_too_long_threshold_and_unknown_contig(tmp_path):
    out = tmp_path / "x.tsv"
    r = run(["-", "--annotation", str(DATA / "pPCP1_plasmid.gbk"), "--window", "300", "--offset", "190",
             "--essential-threshold", "0", "-o", str(out)])
    assert r.exit_code == 0, r.output
    df = read_tsv(out).set_index("locus_tag")
    assert df.loc["YP_pPCP03", "status"] == "too_short"  # 195 bp < 190 + 15
    assert df.loc[["YP_pPCP09", "YP_pPCP10"], "status"].tolist() == ["ok", "ok"]
    assert (df.drop(index=["YP_pPCP03", "YP_pPCP09", "YP_pPCP10"])["status"] == "too_long").all()
    ok = df[df["status"] == "ok"]
    assert (ok["essential"] == (ok["score"] >= 0).astype(int)).all()
    # sequence names that match no annotation contig: every gene unknown_contig, and a warning
    renamed = tmp_path / "renamed.fa"
    renamed.write_text(">other\n" + "ACGT" * 100 + "\n")
    r = run([str(renamed), "--annotation", str(DATA / "pPCP1_plasmid.gff3"), "--window", "300"])
    assert r.exit_code == 0 and (read_tsv(r.stdout)["status"] == "unknown_contig").all()
    assert "warning" in r.stderr


@pytest.mark.parametrize("case", ["missing_annotation", "empty_annotation", "not_annotation", "missing_genome", "missing_out_dir", "no_sequence"])
def test_cli_bad_inputs_exit_1_one_line_no_output(tmp_path, case):
    ann = DATA / "pPCP1_plasmid.gff3"
    genome = tmp_path / "g.fa"
    genome.write_text(">NC_005816.1\n" + "ACGT" * 50 + "\n")
    out = tmp_path / "out.tsv"
    if case == "missing_annotation":
        ann = tmp_path / "nope.gff3"
    elif case == "empty_annotation":
        ann = tmp_path / "empty.gff3"
        ann.write_text("")
    elif case == "not_annotation":
        ann = tmp_path / "x.gff3"
        ann.write_text(">NC_005816.1\nACGT\n")
    elif case == "missing_genome":
        genome = tmp_path / "nope.fa"
    elif case == "missing_out_dir":
        out = tmp_path / "no_dir" / "out.tsv"
    args = [str(genome), "--annotation", str(ann), "-o", str(out), "--window", "256"]
    if case == "no_sequence":
        args = args[1:]  # GFF3 without ##FASTA and no GENOME
    r = run(args)
    assert r.exit_code == 1, (case, r.output)
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("dnahnet: error:"), r.stderr
    assert "Traceback" not in r.stderr and not out.exists()
    expected = {"missing_annotation": "no such file", "empty_annotation": "empty", "not_annotation": "neither GFF3 nor GenBank",
                "missing_genome": "nope.fa", "missing_out_dir": "folder does not exist", "no_sequence": "no GENOME"}[case]
    assert expected in r.stderr


def test_cli_help_documents_coordinates_and_example():
    r = runner.invoke(app, ["essentiality", "--help"], terminal_width=200)
    assert r.exit_code == 0
    text = " ".join(r.stdout.split())
    assert "GFF3 and GenBank input are 1-based" in text and "1-based with an inclusive end" in text
    assert "Example: dnahnet essentiality genome.fa --annotation genes.gff3 -o essentiality.tsv" in text


def test_cli_bad_annotation_subprocess_no_traceback(tmp_path):
    bad = tmp_path / "bad.gff3"
    bad.write_text("##gff-version 3\nc1\tx\tCDS\tten\t20\t.\t+\t0\tID=a\n")
    out = tmp_path / "o.tsv"
    r = subprocess.run([sys.executable, "-m", "dnahnet_cli.main", "essentiality", "--annotation", str(bad),
                        "--model", str(MODEL), "-o", str(out)], capture_output=True, text=True)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip().count("\n") == 0 and "line 2: start 'ten'" in r.stderr
    assert not out.exists()


def test_local_knockouts_fork_the_wild_type_state_and_equal_a_plain_forward_of_the_suffix():
    """--protocol local: the score of every gene of both strands equals, within float rounding,
    the suffix difference of a plain forward pass over [block start - C, gene end + D)."""
    from dnahnet_core.data.annotation import read_annotation
    from dnahnet_core.scoring.engine import LikelihoodEngine
    from dnahnet_core.scoring.essentiality import score_genes
    from dnahnet_core.scoring.model_io import open_model
    from dnahnet_core.vocab import reverse_complement_ids

    engine = LikelihoodEngine(open_model(MODEL, device="cpu").model, "cpu", batch_size=4)
    ann = read_annotation(DATA / "pPCP1_plasmid.gbk")
    cfg = KnockoutConfig(protocol="local", left_context=300, downstream=40)
    results = score_genes(ann.genes, ann.sequences, ann.topology, engine, cfg)
    assert {r.gene.strand for r in results} == {"+", "-"}
    for r in results:
        g, contig = r.gene, ann.sequences[r.gene.chrom]
        L = len(contig)
        seq = contig if g.strand == "+" else reverse_complement_ids(contig)
        five, three = (g.start0, g.end0) if g.strand == "+" else (L - g.end0, L - g.start0)
        q = five + cfg.offset
        start, end = max(0, (q // 1024) * 1024 - 300), min(L, three + 40)
        wt = seq[start:end].copy()
        ko = wt.copy()
        ko[q - start : q - start + len(cfg.cassette)] = cfg.cassette_ids
        lw, lk = engine.log_probs([wt, ko])
        wt_ll, ko_ll = (float(np.nansum(x[q - start :].astype(np.float64))) for x in (lw, lk))
        assert r.status == "ok", g.locus_tag
        assert r.wt_ll == pytest.approx(wt_ll, abs=1e-4) and r.ko_ll == pytest.approx(ko_ll, abs=1e-4), g.locus_tag
        assert r.score == pytest.approx(r.wt_ll - r.ko_ll, abs=1e-9)
    # genes scored one at a time give the same numbers (no dependence on the batch)
    alone = score_genes(ann.genes[3:4], ann.sequences, ann.topology, engine, cfg)[0]
    assert alone.score == pytest.approx(results[3].score, abs=1e-5)


# ------------------------------------------------------------------------- the recipe, torchrun


@pytest.fixture(scope="module")
def session():
    from dnahnet_core.scoring.session import ScoringSession

    with ScoringSession.open(model=MODEL, device="cpu") as s:
        yield s


def test_recipe_from_python_equals_the_cli_tsv_and_records_its_parameters(tmp_path, session):
    """knock_out_genes used from Python: one GeneScore per CDS in annotation order, the numbers and
    statuses of the command's TSV, and the TSV's provenance lines as its parameters."""
    from dnahnet_core.scoring.essentiality import KnockoutRun, knock_out_genes

    fasta, gbk = DATA / "phiX174.fa", DATA / "phiX174.gbk"
    out = tmp_path / "cli.tsv"
    r = run([str(fasta), "--annotation", str(gbk), "--window", "1000", "-C", "512", "-D", "64", "-o", str(out)])
    assert r.exit_code == 0, r.output
    cli = read_tsv(out)

    cfg = KnockoutConfig(window=1000, left_context=512, downstream=64)
    recipe = knock_out_genes(session, gbk, fasta, cfg)
    assert isinstance(recipe, KnockoutRun) and recipe.chunk == 8 and recipe.genome_path == str(fasta)
    assert recipe.circular == ["NC_001422.1"] and recipe.linear == []
    rows = list(recipe.results)
    assert all(isinstance(s, GeneScore) for s in rows)
    assert [s.gene for s in rows] == recipe.genes == read_annotation(gbk).genes  # annotation order
    assert [s.gene.gene_id for s in rows] == cli["gene_id"].tolist()
    assert [s.status for s in rows] == cli["status"].tolist()
    assert {s.status for s in rows} == {"ok", "too_long", "multi_interval"}
    for column in ("wt_ll", "ko_ll", "score"):
        mine = np.array([np.nan if getattr(s, column) is None else getattr(s, column) for s in rows])
        np.testing.assert_allclose(mine, cli[column].to_numpy(dtype=float), rtol=0, atol=1e-6, equal_nan=True)
    assert all(s.essential is None for s in rows)  # the essential rule is the writer's

    # the parameters are the TSV's provenance lines about the computation, in its order
    assert list(recipe.parameters) == ["genome", "annotation", "protocol", "window", "offset", "cassette", "circular",
                                       "coordinates", "score"]
    assert recipe.parameters["window"] == 1000 and recipe.parameters["cassette"] == DEFAULT_CASSETTE
    assert recipe.parameters["annotation"] == f"{gbk} (genbank)"
    assert recipe.parameters["protocol"].startswith("local (left context >= 512 nt")
    header = [line for line in out.read_text().splitlines() if line.startswith("# ")]
    lines = [f"# {k}: {v}" for k, v in recipe.parameters.items()]
    assert header[header.index(lines[0]) : header.index(lines[0]) + len(lines)] == lines

    # a parsed annotation, and skip: the results start after the finished genes, same numbers
    later = knock_out_genes(session, recipe.annotation, fasta, cfg, skip=recipe.chunk)
    assert [(s.gene, s.status, s.score) for s in later.results] == [(s.gene, s.status, s.score) for s in rows[8:]]


def test_recipe_input_errors_and_contig_warning(tmp_path, session):
    from dnahnet_core.scoring.essentiality import ContigMismatchWarning, knock_out_genes

    with pytest.raises(InputError, match="no GENOME given"):
        knock_out_genes(session, DATA / "pPCP1_plasmid.gff3")
    with pytest.raises(InputError, match="no such file"):
        knock_out_genes(session, DATA / "pPCP1_plasmid.gff3", tmp_path / "nope.fa")
    other = tmp_path / "other.fa"
    other.write_text(">other\n" + "ACGT" * 100 + "\n")
    with pytest.warns(ContigMismatchWarning, match=r"no annotation sequence name \(NC_005816.1\) matches a genome record \(other\)"):
        recipe = knock_out_genes(session, DATA / "pPCP1_plasmid.gff3", other)
    assert recipe.parameters["genome"] == str(other) and recipe.circular == recipe.linear == []
    assert {s.status for s in recipe.results} == {"unknown_contig"}


@pytest.mark.slow  # two processes start torch: ~12 s
def test_torchrun_two_ranks_match_one(tmp_path):
    """--protocol local under torchrun with 2 CPU ranks (Gloo): the TSV of one process."""
    import os

    args = ["--annotation", str(DATA / "pPCP1_plasmid.gbk"), "--window", "2048", "-C", "512", "-D", "64",
            "--batch-size", "2", "--model", str(MODEL), "--device", "cpu"]
    one = tmp_path / "one.tsv"
    r = runner.invoke(app, ["essentiality", *args, "-o", str(one)])
    assert r.exit_code == 0, r.output
    two = tmp_path / "two.tsv"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "dnahnet_cli.main", "essentiality", *args, "-o", str(two)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
                          cwd=Path(__file__).parent.parent, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr.count("dnahnet essentiality: 10 CDS") == 1  # rank 0 alone reports
    a, b = read_tsv(one), read_tsv(two)
    exact = ["gene_id", "locus_tag", "chrom", "start", "end", "strand", "status", "essential"]
    pd.testing.assert_frame_equal(a[exact], b[exact])
    assert (a["status"] == "ok").sum() >= 4
    for column in ("wt_ll", "ko_ll", "score"):
        np.testing.assert_allclose(a[column], b[column], rtol=0, atol=1e-4, equal_nan=True)
    strip = lambda text: [line for line in text.splitlines() if line.startswith("# ") and not line.startswith("# command")]  # noqa: E731
    assert strip(one.read_text()) == strip(two.read_text())
