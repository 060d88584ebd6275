"""The ``dnahnet score`` recipe from Python: score_sequences(session, fasta, ...) yields, in input
order, what the command writes, and records its parameters."""

from __future__ import annotations

import io
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from Bio import SeqIO
from typer.testing import CliRunner

from dnahnet_cli.main import app
from dnahnet_core.errors import InputError
from dnahnet_core.scoring.sequences import (SequenceRun, SequenceScore, default_stride, resolve_stride, score_record,
                                            score_sequences)
from dnahnet_core.scoring.session import ScoringSession

pytestmark = pytest.mark.usefixtures("one_torch_thread")

DATA = Path(__file__).parent / "data"
MODEL = DATA / "tiny_lambda.safetensors"
runner = CliRunner()


@pytest.fixture(scope="module")
def session():
    with ScoringSession.open(model=MODEL, device="cpu") as s:
        yield s


@pytest.fixture(scope="module")
def fasta(tmp_path_factory) -> Path:
    """Nine records of different lengths (one with N and ambiguity codes, one with '/' in its name)."""
    phix = str(SeqIO.read(DATA / "phiX174.fa", "fasta").seq)
    lam = str(SeqIO.read(DATA / "lambda_phage.fa", "fasta").seq)
    seqs = [(phix + lam)[i * 700 : i * 700 + 200 + 137 * i] for i in range(8)]
    seqs[2] = seqs[2][:100] + "NNNNRY" + seqs[2][100:]
    names = [f"r{i} desc" for i in range(8)]
    names[2] = "r2/x"
    path = tmp_path_factory.mktemp("fa") / "mixed.fa"
    path.write_text("".join(f">{n}\n{s}\n" for n, s in zip(names, seqs)) + ">tiny\nacgtnnACGT\n")
    return path


def cli(tmp_path: Path, fasta: Path, *args: str) -> tuple[str, dict[str, np.ndarray]]:
    """The command's TSV text and its per-base HDF5 datasets (by key)."""
    out, pb = tmp_path / "s.tsv", tmp_path / "pb.h5"
    result = runner.invoke(app, ["score", str(fasta), "--model", str(MODEL), "-o", str(out), "--per-base", str(pb), *args])
    assert result.exit_code == 0, result.output
    with h5py.File(pb) as f:
        per_base = {k: f[k][:] for k in f}
        assert [f[k].attrs["name"] for k in sorted(f)] == pd.read_csv(out, sep="\t", comment="#")["name"].tolist()
    return out.read_text(), per_base


def header_of(text: str) -> dict[str, str]:
    return dict(line[2:].split(": ", 1) for line in text.splitlines() if line.startswith("# "))


def assert_same(results: list[SequenceScore], tsv: str, per_base: dict[str, np.ndarray], first: int = 0) -> None:
    df = pd.read_csv(io.StringIO(tsv), sep="\t", comment="#", keep_default_na=False, na_values=["nan"])
    df = df.iloc[first:]
    assert [s.name for s in results] == df["name"].tolist()  # input order
    for s, (_, row) in zip(results, df.iterrows()):
        assert (s.length, s.n_scored, s.n_masked) == (row["length"], row["n_scored"], row["n_masked"])
        for col in ("log_likelihood", "bits_per_base", "perplexity"):
            assert getattr(s, col) == pytest.approx(row[col], abs=1e-5), (s.name, col)
    for i, s in enumerate(results, start=first):
        np.testing.assert_allclose(s.per_base, per_base[f"{i:06d}"], atol=1e-5, equal_nan=True)


@pytest.mark.parametrize("args, kwargs, parameters", [
    ([], {}, {"context": 8192, "stride": 7936, "strands": "forward"}),
    (["--context", "300", "--stride", "200", "--both-strands"], {"context": 300, "stride": 200, "both_strands": True},
     {"context": 300, "stride": 200, "strands": "both (averaged)"}),
])
def test_recipe_yields_what_the_cli_writes(tmp_path, session, fasta, args, kwargs, parameters):
    tsv, per_base = cli(tmp_path, fasta, *args)
    run = score_sequences(session, fasta, per_base=True, **kwargs)
    assert isinstance(run, SequenceRun) and run.skip == 0 and run.per_base and run.fasta == fasta
    assert run.parameters == {**parameters, "log_base": "e (natural log)"}
    assert (run.context, run.stride, run.both_strands) == (parameters["context"], parameters["stride"], "both_strands" in kwargs)
    results = list(run.results)
    assert len(results) == 9 and results[2].name == "r2/x" and results[2].n_masked == 6
    assert_same(results, tsv, per_base)
    # The parameters are the TSV's provenance after the command and model lines, in order.
    header = header_of(tsv)
    assert list(header) == ["command", *session.provenance(), *run.parameters]
    assert {k: header[k] for k in run.parameters} == {k: str(v) for k, v in run.parameters.items()}


def test_skip_leaves_out_finished_records_and_chunks_stay_aligned(tmp_path, session, fasta):
    tsv, per_base = cli(tmp_path, fasta, "--context", "512")
    run = score_sequences(session, str(fasta), context=512, per_base=True, skip=4)  # a resumed run starts on a chunk boundary
    assert run.skip == 4 and run.stride == default_stride(512) == 256
    assert_same(list(run.results), tsv, per_base, first=4)


def test_without_per_base_and_against_score_record(session, fasta):
    run = score_sequences(session, fasta, context=1024, stride=512)
    results = list(run.results)
    assert all(s.per_base is None for s in results)
    from dnahnet_core.data.fasta import read_fasta

    for s, rec in zip(results, read_fasta(fasta)):
        direct = score_record(rec, session.engine, 1024, 512, False, False)
        assert s.name == rec.name and s.log_likelihood == pytest.approx(direct.log_likelihood, abs=1e-5)


def test_strides_and_lazy_input_errors(tmp_path, session):
    assert [default_stride(c) for c in (8192, 512, 300, 2, 1)] == [7936, 256, 150, 1, 1]
    assert resolve_stride(1024) == 768 and resolve_stride(1024, 100) == 100
    for stride in (0, 2000):
        with pytest.raises(ValueError, match=f"need 0 < stride <= context, got stride {stride}, context 1024"):
            score_sequences(session, tmp_path / "x.fa", context=1024, stride=stride)
    run = score_sequences(session, tmp_path / "missing.fa")  # read lazily, as the command streams
    with pytest.raises(InputError, match="(?i)no such file"):
        list(run.results)
