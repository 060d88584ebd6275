"""Genome tracks: `score --per-base` and `boundaries --format bigwig|bedgraph` read back with
pyBigWig hold the values of the HDF5 / BED / bedGraph outputs."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pyBigWig
import pytest
from typer.testing import CliRunner

from dnahnet_cli.main import app
from dnahnet_core.tracks import TrackWriter, finite_runs

DATA = Path(__file__).parent / "data"
MODEL = str(DATA / "tiny_lambda.safetensors")
runner = CliRunner()


def _invoke(*args: str):
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def genome(tmp_path_factory) -> Path:
    """Two real records: phiX174 with a run of N (unscored positions) and the first 3 kb of lambda."""
    phix = "".join(DATA.joinpath("phiX174.fa").read_text().splitlines()[1:])
    lam = "".join(DATA.joinpath("lambda_phage.fa").read_text().splitlines()[1:])[:3000]
    phix = phix[:2000] + "N" * 25 + phix[2025:]
    path = tmp_path_factory.mktemp("tracks") / "two.fa"
    path.write_text(f">phiX_N\n{phix}\n>lambda_3k\n{lam}\n")
    return path


def test_per_base_bigwig_and_bedgraph_hold_the_hdf5_values(genome, tmp_path):
    base = ["score", str(genome), "-m", MODEL, "--context", "1024", "-o"]
    _invoke(*base, str(tmp_path / "a.tsv"), "--per-base", str(tmp_path / "lp.h5"))
    _invoke(*base, str(tmp_path / "b.tsv"), "--per-base", str(tmp_path / "lp.bw"))
    _invoke(*base, str(tmp_path / "c.tsv"), "--per-base", str(tmp_path / "lp.bedgraph"))
    assert not list(tmp_path.glob("*.partial.h5"))  # the intermediate is gone
    bw = pyBigWig.open(str(tmp_path / "lp.bw"))
    with h5py.File(tmp_path / "lp.h5") as h5:
        expected = {h5[k].attrs["name"]: h5[k][()] for k in sorted(h5)}
    assert bw.chroms() == {name: len(v) for name, v in expected.items()}  # sizes from the input, in order
    graph = np.loadtxt(tmp_path / "lp.bedgraph", dtype=str)
    for name, values in expected.items():
        got = np.array(bw.values(name, 0, len(values)))
        assert np.isnan(values).sum() == (25 if name == "phiX_N" else 0)
        assert np.array_equal(np.isnan(got), np.isnan(values))  # N positions left out, not written as 0
        np.testing.assert_allclose(got[~np.isnan(got)], values[~np.isnan(values)], rtol=1e-6)
        rows = graph[graph[:, 0] == name]
        starts = rows[:, 1].astype(int)
        assert np.array_equal(starts, np.flatnonzero(~np.isnan(values))) and np.all(rows[:, 2].astype(int) == starts + 1)
        np.testing.assert_allclose(rows[:, 3].astype(float), values[starts], rtol=1e-5)
    sidecar = json.loads((tmp_path / "lp.bw.json").read_text())
    assert sidecar["model"] == "tiny_lambda" and sidecar["model_sha256"] and sidecar["format"] == "bigwig"
    assert (tmp_path / "a.tsv").read_text().splitlines()[-2:] == (tmp_path / "b.tsv").read_text().splitlines()[-2:]


def test_boundary_bigwigs_hold_the_bedgraph_probabilities_per_stage(genome, tmp_path):
    common = ["boundaries", str(genome), "-m", MODEL, "--context", "1024"]
    _invoke(*common, "--format", "bigwig", "-o", str(tmp_path / "chunks.bw"))
    _invoke(*common, "--format", "bedgraph", "--stage", "1", "-o", str(tmp_path / "s1.bedgraph"))
    _invoke(*common, "--format", "bedgraph", "--stage", "2", "-o", str(tmp_path / "s2.bedgraph"))
    _invoke(*common, "--format", "bigwig", "--stage", "2", "-o", str(tmp_path / "only2.bw"))
    assert sorted(p.name for p in tmp_path.glob("*.bw")) == ["chunks.s1.bw", "chunks.s2.bw", "only2.bw"]
    files = json.loads((tmp_path / "chunks.bw.json").read_text())["files"]
    assert files == {"s1": str(tmp_path / "chunks.s1.bw"), "s2": str(tmp_path / "chunks.s2.bw")}
    s1, s2 = pyBigWig.open(files["s1"]), pyBigWig.open(files["s2"])
    assert s1.chroms() == s2.chroms() == {"phiX_N": 5386, "lambda_3k": 3000}
    g1 = np.loadtxt(tmp_path / "s1.bedgraph", dtype=str)
    g2 = np.loadtxt(tmp_path / "s2.bedgraph", dtype=str)
    for name, length in s1.chroms().items():
        rows = g1[g1[:, 0] == name]
        assert len(rows) == length
        np.testing.assert_allclose(s1.values(name, 0, length), rows[:, 3].astype(float), atol=5e-7)
        rows = g2[g2[:, 0] == name]
        for other in (s2, pyBigWig.open(str(tmp_path / "only2.bw"))):
            iv = np.array(other.intervals(name))
            assert np.array_equal(iv[:, :2].astype(int), rows[:, 1:3].astype(int))  # the stage-1 chunk spans
            np.testing.assert_allclose(iv[:, 2], rows[:, 3].astype(float), atol=5e-7)
        assert iv[0, 2] == 1.0  # every record starts a chunk


def test_bigwig_needs_an_output_file():
    result = runner.invoke(app, ["boundaries", str(DATA / "phiX174.fa"), "-m", MODEL, "--format", "bigwig"])
    assert result.exit_code == 2 and "pass -o OUT.bw" in result.stderr


def test_finite_runs_split_at_nan():
    v = np.array([np.nan, 1, 2, np.nan, 3, np.inf, 4, 5], dtype=np.float32)
    assert finite_runs(v) == [(1, 3), (4, 5), (6, 8)]
    assert finite_runs(np.full(3, np.nan)) == []


def test_a_failed_track_leaves_no_file(tmp_path):
    path = tmp_path / "x.bw"
    with pytest.raises(ValueError, match="values for"):
        with TrackWriter(path, [("a", 10)], "bigwig") as w:
            w.add_per_base("a", np.zeros(9))
    assert list(tmp_path.iterdir()) == []


def test_repeated_record_names_are_refused(tmp_path):
    from dnahnet_core.errors import InputError

    with pytest.raises(InputError, match="more than once"):
        TrackWriter(tmp_path / "x.bw", [("a", 10), ("a", 5)], "bigwig")


def test_an_unknown_per_base_extension_is_a_usage_error(tmp_path):
    result = runner.invoke(app, ["score", str(DATA / "phiX174.fa"), "-m", MODEL, "--per-base", str(tmp_path / "x.wig")])
    assert result.exit_code == 2 and ".bw (bigWig)" in result.stderr
    assert not (tmp_path / "x.wig").exists()
