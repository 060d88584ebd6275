"""`dnahnet plot`: each figure is drawn from a real output file and holds the numbers it claims."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pysam
import pytest
from typer.testing import CliRunner

from dnahnet_cli.main import app
from dnahnet_core import plots
from dnahnet_core.errors import DnaHNetError, InputError

pytest.importorskip("matplotlib")

DATA = Path(__file__).parent / "data"
MODEL = str(DATA / "tiny_lambda.safetensors")
PNG = b"\x89PNG\r\n\x1a\n"
runner = CliRunner()


def _invoke(*args: str):
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("plots")
    paths = {"bed": d / "chunks.bed", "ess": d / "ess.tsv", "vcf": d / "scored.vcf"}
    _invoke("boundaries", str(DATA / "phiX174.fa"), "-m", MODEL, "-o", str(paths["bed"]))
    _invoke("essentiality", "-a", str(DATA / "pPCP1_plasmid.gbk"), "-m", MODEL, "--window", "2048", "-o", str(paths["ess"]))
    _invoke("score-vcf", str(VCF := DATA / "phiX174_variants.vcf"), "-r", str(DATA / "phiX174.fa"), "-m", MODEL,
            "--window", "128", "--strand", "forward", "-o", str(paths["vcf"]))
    assert VCF.is_file()
    return paths


def test_boundary_rates_count_the_bed_chunk_starts_in_each_bin(outputs, tmp_path):
    out = tmp_path / "b.png"
    res = plots.plot_boundaries(outputs["bed"], out, annotation=DATA / "phiX174.gff3", region="NC_001422.1:1,001-2,500", bin_size=100)
    assert out.read_bytes()[:8] == PNG
    assert (res.region.start0, res.region.end0, res.bin_size) == (1000, 2500, 100)
    assert np.array_equal(res.bin_starts, np.arange(1000, 2500, 100))
    bed = np.loadtxt(outputs["bed"], dtype=str)
    for label in ("s1", "s2"):
        starts = bed[bed[:, 3] == label, 1].astype(int)
        expected = [((starts >= a) & (starts < a + 100)).sum() / 100 for a in res.bin_starts]
        np.testing.assert_allclose(res.rates[label], expected)
    # phiX174 genes overlapping 1000-2500 (0-based half-open [1000, 2500)) in the GFF3
    gff = [line.split("\t") for line in DATA.joinpath("phiX174.gff3").read_text().splitlines() if "\tCDS\t" in line]
    assert res.n_genes == sum(1 for f in gff if int(f[4]) > 1000 and int(f[3]) - 1 < 2500)


def test_whole_record_by_default_and_region_errors(outputs, tmp_path):
    res = plots.plot_boundaries(outputs["bed"], tmp_path / "b.svg")
    assert (res.region.chrom, res.region.start0, res.region.end0) == ("NC_001422.1", 0, 5386)
    assert (tmp_path / "b.svg").read_text().lstrip().startswith("<?xml")
    with pytest.raises(InputError, match="no such record"):
        plots.plot_boundaries(outputs["bed"], tmp_path / "x.png", region="chrZ:1-10")
    with pytest.raises(InputError, match="START-END"):
        plots.Region.parse("NC_001422.1:ten-20")
    with pytest.raises(InputError, match="figure format"):
        plots.plot_boundaries(outputs["bed"], tmp_path / "x.jpeg")


def test_essentiality_plot_ranks_the_scored_genes_and_reports_the_labels_auroc(outputs, tmp_path):
    from dnahnet_core.data.labels import read_labels
    from dnahnet_core.scoring.essentiality import auroc

    res = plots.plot_essentiality(outputs["ess"], tmp_path / "e.png", labels=DATA / "pPCP1_labels.tsv")
    assert (tmp_path / "e.png").read_bytes()[:8] == PNG
    rows = [line.split("\t") for line in outputs["ess"].read_text().splitlines() if not line.startswith(("#", "gene_id"))]
    ok = sorted(((float(r[9]), r[1]) for r in rows if r[11] == "ok"), reverse=True)
    assert res.n_scored == len(ok) == 10
    np.testing.assert_allclose(res.scores, [s for s, _ in ok])
    labels = read_labels(DATA / "pPCP1_labels.tsv")
    assert res.labels.tolist() == [labels.get(tag, -1) for _, tag in ok]
    has = res.labels >= 0
    assert res.auroc == pytest.approx(auroc(res.scores[has], res.labels[has]))


def test_variant_plot_counts_statuses_and_groups_llrs_by_an_info_field(outputs, tmp_path):
    res = plots.plot_variants(outputs["vcf"], tmp_path / "v.png", by="NOTE")
    assert (tmp_path / "v.png").read_bytes()[:8] == PNG
    statuses, groups = {}, {}
    for r in pysam.VariantFile(str(outputs["vcf"])):
        for llr, s in zip(r.info["DNAHNET_LLR"], r.info["DNAHNET_STATUS"]):
            statuses[s] = statuses.get(s, 0) + 1
            if s == "ok":
                groups.setdefault(r.info["NOTE"], []).append(llr)
    assert res.status_counts == statuses and res.n_scored == statuses["ok"]
    assert set(res.groups) == set(groups)
    for k, v in groups.items():
        np.testing.assert_allclose(sorted(res.groups[k]), sorted(v), rtol=1e-6)
    with pytest.raises(InputError, match="no such INFO field"):
        plots.plot_variants(outputs["vcf"], tmp_path / "v.png", by="CSQ")


def test_variant_plot_reads_the_tsv_outputs_too(outputs, tmp_path):
    for name in ("t.tsv", "t.tsv.gz"):
        _invoke("score-vcf", str(DATA / "phiX174_variants.vcf"), "-r", str(DATA / "phiX174.fa"), "-m", MODEL,
                "--window", "128", "--strand", "forward", "-o", str(tmp_path / name))
        res = plots.plot_variants(tmp_path / name, tmp_path / "t.png")
        assert res.status_counts == plots.plot_variants(outputs["vcf"], tmp_path / "v.png").status_counts, name


def test_cli_summarises_the_figure_and_refuses_options_of_another_kind(outputs, tmp_path):
    result = _invoke("plot", "boundaries", str(outputs["bed"]), "-a", str(DATA / "phiX174.gff3"), "-o", str(tmp_path / "b.png"))
    assert "NC_001422.1:1-5386" in result.stderr and "genes" in result.stderr
    result = runner.invoke(app, ["plot", "essentiality", str(outputs["ess"]), "--by", "NOTE", "-o", str(tmp_path / "e.png")])
    assert result.exit_code == 2 and "--by: not an option of 'plot essentiality'" in result.stderr
    result = runner.invoke(app, ["plot", "score-vcf", str(outputs["bed"]), "-o", str(tmp_path / "e.png")])
    assert result.exit_code == 1 and result.stderr.startswith("dnahnet: error:") and result.stderr.count("\n") == 1


def test_missing_matplotlib_is_one_clear_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    with pytest.raises(DnaHNetError, match=r"pip install 'dnahnet\[plots\]'"):
        plots._pyplot()


def test_by_splits_number_a_fields_per_alt_and_reads_vep_csq_consequences(outputs, tmp_path):
    lines = outputs["vcf"].read_text().splitlines()
    head = [x for x in lines if x.startswith("##")]
    head += ['##INFO=<ID=KIND,Number=A,Type=String,Description="a consequence per ALT">',
             '##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequence annotations from Ensembl VEP. Format: Allele|Consequence|IMPACT">']
    body = []
    for x in lines:
        if x.startswith("#CHROM") or x.startswith("##"):
            continue
        cols = x.split("\t")
        if cols[2] == "multi1":  # G -> A,C,T
            cols[7] += ";KIND=missense,synonymous,stop_gained;CSQ=A|missense_variant|MODERATE,C|synonymous_variant|LOW,T|stop_gained&splice_region_variant|HIGH"
        body.append("\t".join(cols))
    path = tmp_path / "annotated.vcf"
    path.write_text("\n".join(head + [next(x for x in lines if x.startswith("#CHROM"))] + body) + "\n")
    rec = next(r for r in pysam.VariantFile(str(path)) if r.id == "multi1")
    llr = dict(zip(rec.alts, rec.info["DNAHNET_LLR"]))
    for field, names in (("KIND", ("missense", "synonymous", "stop_gained")),
                         ("CSQ", ("missense_variant", "synonymous_variant", "stop_gained"))):
        res = plots.plot_variants(path, tmp_path / f"{field}.png", by=field)
        for alt, name in zip("ACT", names):
            assert res.groups[name].tolist() == pytest.approx([llr[alt]]), (field, name)
        assert len(res.groups["(missing)"]) == res.n_scored - 3
