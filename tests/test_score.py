"""dnahnet score: likelihoods match the model, windows predict each base once, options agree."""

from __future__ import annotations

import io
import math
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from dnahnet_cli.main import app
from dnahnet_core import encode, load_model
from dnahnet_core.vocab import reverse_complement

pytestmark = pytest.mark.usefixtures("one_torch_thread")

DATA = Path(__file__).parent / "data"
MODEL = DATA / "tiny_lambda.safetensors"
PHIX = DATA / "phiX174.fa"
runner = CliRunner()


def run(*args: str) -> pd.DataFrame:
    result = runner.invoke(app, ["score", *args, "--model", str(MODEL)])
    assert result.exit_code == 0, result.output
    return pd.read_csv(io.StringIO(result.stdout), sep="\t", comment="#")


def direct_ll(seq: str) -> float:
    model = load_model(MODEL)
    ids = encode(seq).unsqueeze(0)
    with torch.no_grad():
        logp = torch.log_softmax(model(ids).logits[0, :-1].double(), -1)
    return float(logp.gather(-1, ids[0, 1:, None]).sum())


def test_table_matches_a_direct_forward_pass(phix):
    df = run(str(PHIX))
    assert list(df.columns) == ["name", "length", "n_scored", "n_masked", "log_likelihood", "bits_per_base", "perplexity"]
    row = df.iloc[0]
    assert row["name"] == "NC_001422.1" and row["length"] == 5386 and row["n_scored"] == 5386 and row["n_masked"] == 0
    assert row["log_likelihood"] == pytest.approx(direct_ll(phix), abs=1e-2)
    assert row["bits_per_base"] == pytest.approx(-row["log_likelihood"] / (5386 * math.log(2)), rel=1e-5)
    assert row["perplexity"] == pytest.approx(2 ** row["bits_per_base"], rel=1e-5)


def test_long_records_predict_every_base_once(tmp_path, phix):
    per_base = tmp_path / "pb.h5"
    df = run(str(PHIX), "--context", "1024", "--stride", "512", "--per-base", str(per_base))
    with h5py.File(per_base) as f:
        lp = f["000000"][:]
        assert f["000000"].attrs["name"] == "NC_001422.1" and "model_sha256" in f.attrs
    assert lp.shape == (5386,) and np.isfinite(lp).all() and (lp < 0).all()
    assert float(lp.sum(dtype=np.float64)) == pytest.approx(df.iloc[0]["log_likelihood"], abs=1e-2)
    # The first window is scored whole: its positions match a direct pass over those 1,024 bases.
    model = load_model(MODEL)
    ids = encode(phix[:1024]).unsqueeze(0)
    with torch.no_grad():
        ref = torch.log_softmax(model(ids).logits[0, :-1], -1).gather(-1, ids[0, 1:, None]).squeeze(-1).numpy()
    np.testing.assert_allclose(lp[:1024], ref, atol=1e-5)
    # Later bases come from windows with >= 512 bases of left context, so they differ from a
    # pass that sees only 1,024 bases ending at them... but not from the full-sequence pass much.
    full = run(str(PHIX)).iloc[0]["log_likelihood"]
    assert abs(full - df.iloc[0]["log_likelihood"]) < 0.02 * abs(full)


def test_batch_size_and_padding_do_not_change_results(tmp_path, phix):
    # Records of different lengths share padded batches at --batch-size 8, never at 1.
    fa = tmp_path / "mixed.fa"
    fa.write_text("".join(f">r{i}\n{phix[i * 500:i * 500 + 150 + 211 * i]}\n" for i in range(6)))
    a = run(str(fa), "--context", "1024", "--stride", "512", "--batch-size", "1")
    b = run(str(fa), "--context", "1024", "--stride", "512", "--batch-size", "8")
    assert len(set(a["length"])) == 6
    np.testing.assert_allclose(a["log_likelihood"], b["log_likelihood"], atol=1e-3)


def test_both_strands_is_symmetric(tmp_path, phix):
    rc = tmp_path / "rc.fa"
    rc.write_text(">rc\n" + reverse_complement(phix[:2000]) + "\n")
    fw = tmp_path / "fw.fa"
    fw.write_text(">fw\n" + phix[:2000] + "\n")
    a = run(str(fw), "--both-strands").iloc[0]["log_likelihood"]
    b = run(str(rc), "--both-strands").iloc[0]["log_likelihood"]
    assert a == pytest.approx(b, abs=1e-3)
    assert a != pytest.approx(run(str(fw)).iloc[0]["log_likelihood"], abs=1e-3)


def test_n_and_ambiguity_codes_are_masked(tmp_path, phix):
    fa = tmp_path / "n.fa"
    fa.write_text(">a\n" + phix[:300] + "NNNRY" + phix[300:600] + "\n>b short\nacgt\n")
    df = run(str(fa))
    assert list(df["name"]) == ["a", "b"]
    assert df.iloc[0]["n_masked"] == 5 and df.iloc[0]["n_scored"] == 600 and df.iloc[1]["n_scored"] == 4


def test_output_file_and_provenance(tmp_path):
    out = tmp_path / "s.tsv"
    result = runner.invoke(app, ["score", str(PHIX), "--model", str(MODEL), "-o", str(out)])
    assert result.exit_code == 0 and result.stdout == ""
    header = [l for l in out.read_text().splitlines() if l.startswith("#")]
    keys = {l[2:].split(":")[0] for l in header}
    assert {"command", "dnahnet_version", "model", "model_sha256", "context", "stride", "strands"} <= keys


def test_torchrun_two_ranks_merge_in_input_order(tmp_path, lambda_seq, phix):
    fa = tmp_path / "many.fa"
    fa.write_text("".join(f">r{i}\n{(phix + lambda_seq)[i * 700:(i * 700) + 400 + 37 * i]}\n" for i in range(7)))
    single = run(str(fa))
    out = tmp_path / "ddp.tsv"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "dnahnet_cli.main", "score", str(fa), "--model", str(MODEL), "-o", str(out), "--device", "cpu"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    merged = pd.read_csv(out, sep="\t", comment="#")
    assert list(merged["name"]) == [f"r{i}" for i in range(7)]
    np.testing.assert_allclose(merged["log_likelihood"], single["log_likelihood"], atol=1e-3)
