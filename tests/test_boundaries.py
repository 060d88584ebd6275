"""``dnahnet boundaries``: learned chunks as BED/bedGraph, the long-record rule, and bad inputs."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from dnahnet_cli.main import app
from dnahnet_core.data.fasta import FastaRecord
from dnahnet_core.scoring.boundaries import boundary_score, iter_boundaries
from dnahnet_core.scoring.engine import LikelihoodEngine, WindowRouting
from dnahnet_core.scoring.model_io import open_model
from dnahnet_core.scoring.windows import tile
from dnahnet_core.vocab import tokenize

pytestmark = pytest.mark.usefixtures("one_torch_thread")

DATA = Path(__file__).parent / "data"
CKPT = DATA / "tiny_lambda.safetensors"
PHIX = DATA / "phiX174.fa"
LAMBDA = DATA / "lambda_phage.fa"
BED_COLUMNS = ["chrom", "start", "end", "name", "score", "strand"]

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, ["boundaries", *map(str, args), "--model", str(CKPT), "--device", "cpu"])


def read_bed(text: str) -> pd.DataFrame:
    df = pd.read_csv(io.StringIO(text), sep="\t", header=None, names=BED_COLUMNS, dtype={"chrom": str})
    assert list(df.columns) == BED_COLUMNS and len(df) > 0
    return df


def read_fasta_ids(path: Path) -> dict[str, np.ndarray]:
    from dnahnet_core.data.fasta import read_fasta

    return {r.name: r.ids for r in read_fasta(path)}


def assert_tiles(starts: np.ndarray, ends: np.ndarray, length: int) -> None:
    """Chunks [start, end) cover [0, length) exactly: no gap, no overlap."""
    assert starts[0] == 0 and ends[-1] == length
    assert np.all(ends[:-1] == starts[1:])
    assert np.all(ends > starts)


def check_bed_invariants(df: pd.DataFrame, lengths: dict[str, int]) -> None:
    assert list(pd.unique(df.chrom)) == list(lengths)  # FASTA order
    assert set(df.name) <= {"s1", "s2"} and (df.strand == ".").all()
    assert pd.api.types.is_integer_dtype(df.score) and df.score.between(0, 1000).all()
    for chrom, length in lengths.items():
        rec = df[df.chrom == chrom]
        # sorted by start, then stage
        key = list(zip(rec.start, rec.name))
        assert key == sorted(key)
        for stage in ("s1", "s2"):
            s = rec[rec.name == stage]
            assert_tiles(s.start.to_numpy(), s.end.to_numpy(), length)
            assert s.score.iloc[0] == 1000  # forced start of the record
        s1 = set(rec[rec.name == "s1"].start)
        assert set(rec[rec.name == "s2"].start) <= s1


def expected_single_window(r: WindowRouting, length: int) -> dict[str, dict[int, int]]:
    """{stage: {start: score}} for a record scored in one window, with position 0 forced."""
    s1 = {int(i): int(round(1000 * float(r.stage_prob[0][i]))) for i in np.flatnonzero(r.stage_mask[0])}
    s1[0] = 1000
    pos, m, p = r.stage_pos[1], r.stage_mask[1], r.stage_prob[1]
    s2 = {int(pos[k]): int(round(1000 * float(p[k]))) for k in np.flatnonzero(m)}
    s2[0] = 1000
    return {"s1": s1, "s2": s2}


@pytest.fixture(scope="module")
def engine() -> LikelihoodEngine:
    return LikelihoodEngine(open_model(CKPT).model, "cpu", batch_size=32)


@pytest.fixture(scope="module")
def phix_result():
    result = run(PHIX)
    assert result.exit_code == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def phix_ids() -> np.ndarray:
    return read_fasta_ids(PHIX)["NC_001422.1"]


# ---- output format and invariants --------------------------------------------------------------


def test_phix_bed6_parses_and_tiles(phix_result, phix_ids):
    assert not phix_result.stdout.startswith(("track", "#", "browser"))  # no header by default
    df = read_bed(phix_result.stdout)
    check_bed_invariants(df, {"NC_001422.1": len(phix_ids)})
    frac1 = (df.name == "s1").sum() / len(phix_ids)
    frac2 = (df.name == "s2").sum() / (df.name == "s1").sum()
    assert 0 < frac1 < 1 and 0 < frac2 < 1
    # provenance: one line on stderr when writing to stdout
    err = phix_result.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("dnahnet: provenance: ")
    prov = json.loads(err[0].split(": ", 2)[2])
    assert prov["model"] == "tiny_lambda" and len(prov["model_sha256"]) == 64 and prov["records"] == 1


def test_short_record_equals_single_window_and_scores(phix_result, phix_ids, engine):
    """phiX174 (5,386 bp) < context: the output is exactly what one window gives, scores = round(1000 p)."""
    (r,) = engine.routing([phix_ids])
    want = expected_single_window(r, len(phix_ids))
    df = read_bed(phix_result.stdout)
    for stage in ("s1", "s2"):
        got = df[df.name == stage]
        assert dict(zip(got.start.tolist(), got.score.tolist())) == want[stage]
    # round(1000 p) matches Python's round on the engine's probabilities
    p = r.stage_prob[0][r.stage_mask[0]]
    assert boundary_score(p).tolist() == [round(1000 * float(x)) for x in p]


def test_multi_record_fasta(tmp_path, phix, lambda_seq):
    records = {
        "phix_slice": phix[100:3100],  # longer than the context below: 3 windows
        "lambda_tiny": lambda_seq[5000:5001],  # one base
        "lambda_short": lambda_seq[20000:20500].lower(),  # soft-masked letters
        "lambda_mid": lambda_seq[30000:32600],
    }
    fa = tmp_path / "multi.fa"
    fa.write_text("".join(f">{n} slice of a real genome\n{s}\n" for n, s in records.items()))
    result = run(fa, "--context", 2048, "--stride", 1024)
    assert result.exit_code == 0, result.stderr
    df = read_bed(result.stdout)
    check_bed_invariants(df, {n: len(s) for n, s in records.items()})
    assert df[df.chrom == "lambda_tiny"].values.tolist() == [["lambda_tiny", 0, 1, "s1", 1000, "."], ["lambda_tiny", 0, 1, "s2", 1000, "."]]


def test_long_record_rule(tmp_path, engine, lambda_seq, monkeypatch):
    """lambda (48,502 bp) in windows of 2,048 every 1,024: each decision comes from the window that takes it.

    The engine's routing is observed during the CLI run (one pass over lambda, to keep the test fast);
    a few windows are then re-run alone to show those observed routings are the windows' own.
    """
    seen: dict[bytes, WindowRouting] = {}
    original = LikelihoodEngine.routing

    def spy(self, windows):
        results = original(self, windows)
        seen.update((w.tobytes(), r) for w, r in zip(windows, results))
        return results

    monkeypatch.setattr(LikelihoodEngine, "routing", spy)
    out = tmp_path / "lambda.bed"
    result = run(LAMBDA, "--context", 2048, "--stride", 1024, "--batch-size", 32, "-o", out)
    monkeypatch.undo()
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
    df = read_bed(out.read_text())
    n = len(lambda_seq)
    check_bed_invariants(df, {"NC_001416.1": n})
    sidecar = json.loads((tmp_path / "lambda.bed.json").read_text())
    assert sidecar["complete"] and sidecar["context"] == 2048 and sidecar["stride"] == 1024
    tiles = tile(n, 2048, 1024)
    assert sidecar["records"][0]["windows"] == len(tiles) == len(seen) > 1

    ids = tokenize(lambda_seq)
    windows = [ids[t.start : t.end] for t in tiles]
    # the observed routings are those of each window alone (spot check: first, middle, last)
    for k in (0, len(tiles) // 2, len(tiles) - 1):
        (alone,) = engine.routing([windows[k]])
        obs = seen[windows[k].tobytes()]
        for s in range(2):
            assert np.array_equal(alone.stage_mask[s], obs.stage_mask[s])
            assert np.array_equal(alone.stage_pos[s], obs.stage_pos[s])
            assert np.allclose(alone.stage_prob[s], obs.stage_prob[s], atol=1e-5)

    s1 = df[df.name == "s1"]
    s2 = df[df.name == "s2"]
    s1_score = dict(zip(s1.start.tolist(), s1.score.tolist()))
    s2_score = dict(zip(s2.start.tolist(), s2.score.tolist()))
    got_s1 = np.zeros(n, dtype=bool)
    got_s1[s1.start.to_numpy()] = True
    got_s2 = np.zeros(n, dtype=bool)
    got_s2[s2.start.to_numpy()] = True
    differs_left = 0
    for t, w in zip(tiles, windows):
        r = seen[w.tobytes()]
        lo = max(t.score_from, 1)  # position 0 is forced
        p1 = r.stage_prob[0][lo - t.start :]
        m1 = r.stage_mask[0][lo - t.start :]
        # stage 1: the decisions on the taken region are those of this window alone
        assert np.array_equal(got_s1[lo : t.end], m1), t
        for i in np.flatnonzero(m1) + lo:
            assert s1_score[int(i)] == round(1000 * float(p1[i - lo]))
        differs_left += int((got_s1[t.start : t.score_from] != r.stage_mask[0][: t.offset]).sum())
        # stage 2: this window's entries for the stage-1 chunks starting in its taken region
        pos = r.stage_pos[1] + t.start
        keep = pos >= lo
        assert np.array_equal(pos[keep], np.flatnonzero(got_s1[lo : t.end]) + lo)  # same stage-1 starts
        assert np.array_equal(got_s2[pos[keep]], r.stage_mask[1][keep])
        m2 = r.stage_mask[1][keep]
        for i, p in zip(pos[keep][m2], r.stage_prob[1][keep][m2]):
            assert s2_score[int(i)] == round(1000 * float(p))
    assert differs_left > 0  # windows do disagree in their left context; the rule makes that harmless
    assert 0 < got_s1.mean() < 1 and 0 < got_s2.sum() / got_s1.sum() < 1


class FakeEngine:
    """Deterministic routing that depends on the position inside the window, so overlapping windows
    disagree on the same nucleotide: a stress test of the merge rule without a model."""

    model = SimpleNamespace(config=SimpleNamespace(n_stages=2))

    def routing(self, windows):
        out = []
        for w in windows:
            i = np.arange(len(w))
            p1 = ((np.sin(w.astype(np.float64) * 3.1 + i * 0.7) + 1) / 2).astype(np.float32)
            m1 = p1 > 0.5
            pos = np.flatnonzero(m1)
            p2 = ((np.cos(pos * 0.37 + np.arange(len(pos)) * 1.3) + 1) / 2).astype(np.float32)
            out.append(WindowRouting([p1, p2], [m1, p2 > 0.5], [i, pos]))
        return out


def test_merge_rule_with_disagreeing_windows(lambda_seq):
    ids = tokenize(lambda_seq[:1000])
    context, stride = 64, 16
    (rb,) = list(iter_boundaries([FastaRecord("x", "", ids)], FakeEngine(), context, stride))  # type: ignore[arg-type]
    assert rb.n_windows == len(tile(len(ids), context, stride))
    fake = FakeEngine()
    disagreements = 0
    for t in tile(len(ids), context, stride):
        (r,) = fake.routing([ids[t.start : t.end]])
        lo = max(t.score_from, 1)
        assert np.array_equal(rb.s1_mask[lo : t.end], r.stage_mask[0][lo - t.start :])
        assert np.allclose(rb.s1_prob[lo : t.end], r.stage_prob[0][lo - t.start :])
        disagreements += int((rb.s1_mask[t.start : t.score_from] != r.stage_mask[0][: t.offset]).sum())
        pos = r.stage_pos[1] + t.start
        keep = pos >= lo
        k = np.searchsorted(rb.s1_starts, pos[keep])
        assert np.array_equal(rb.s1_starts[k], pos[keep])
        assert np.array_equal(rb.s2_mask[k], r.stage_mask[1][keep])
    assert disagreements > 0  # the windows really disagree in their left context
    for stage in (1, 2):
        c = rb.chunks(stage)
        assert_tiles(c.starts, c.ends, len(ids))
    assert set(rb.s2_starts) <= set(rb.s1_starts)
    assert rb.s1_mask[0] and rb.s2_mask[0] and rb.s1_prob[0] == 1 and rb.s2_prob[0] == 1


# ---- options -----------------------------------------------------------------------------------


def test_stage_options(phix_result):
    full = read_bed(phix_result.stdout)
    for stage in ("1", "2"):
        result = run(PHIX, "--stage", stage)
        assert result.exit_code == 0, result.stderr
        df = read_bed(result.stdout)
        assert set(df.name) == {f"s{stage}"}
        want = full[full.name == f"s{stage}"].reset_index(drop=True)
        pd.testing.assert_frame_equal(df, want)


def test_track_line(phix_result):
    result = run(PHIX, "--track-line")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines(keepends=True)
    assert lines[0].startswith("track name=") and "description=" in lines[0] and "useScore=1" in lines[0]
    assert sum(line.startswith("track") for line in lines) == 1
    assert "".join(lines[1:]) == phix_result.stdout


def test_bedgraph(phix_ids, phix_result, engine):
    n = len(phix_ids)
    result = run(PHIX, "--format", "bedgraph")
    assert result.exit_code == 0, result.stderr
    bg = pd.read_csv(io.StringIO(result.stdout), sep="\t", header=None, names=["chrom", "start", "end", "value"])
    assert bg.value.between(0, 1).all()
    cover = np.zeros(n, dtype=int)
    for s, e in zip(bg.start, bg.end):
        cover[s:e] += 1
    assert (cover == 1).all()  # every base exactly once
    (r,) = engine.routing([phix_ids])
    per_base = np.repeat(bg.value.to_numpy(), (bg.end - bg.start).to_numpy())
    assert per_base[0] == 1.0
    assert np.allclose(per_base[1:], r.stage_prob[0][1:], atol=1e-6)

    result = run(PHIX, "--format", "bedgraph", "--stage", "2", "--track-line")
    assert result.exit_code == 0, result.stderr
    head, body = result.stdout.split("\n", 1)
    assert head.startswith("track type=bedGraph")
    bg2 = pd.read_csv(io.StringIO(body), sep="\t", header=None, names=["chrom", "start", "end", "value"])
    assert bg2.value.between(0, 1).all()
    assert_tiles(bg2.start.to_numpy(), bg2.end.to_numpy(), n)
    bed = read_bed(phix_result.stdout)
    assert bg2.start.tolist() == bed[bed.name == "s1"].start.tolist()  # one value per stage-1 chunk
    s2 = set(bed[bed.name == "s2"].start)
    assert all((v > 0.5) == (s in s2) for s, v in zip(bg2.start, bg2.value))

    result = run(PHIX, "--format", "bedgraph", "--stage", "all")
    assert result.exit_code == 2  # a bedGraph holds one track


# ---- bad inputs --------------------------------------------------------------------------------


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[list, str]]:
    empty = tmp_path / "empty.fa"
    empty.write_bytes(b"")
    garbage = tmp_path / "garbage.fa"
    garbage.write_bytes(bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)))
    letters = tmp_path / "letters.fa"
    letters.write_text(">ok\nACGTACGT\n>bad\nACGTQACGT\n")
    # the first record fills one full round of windows, so it is written before the error
    n = next(L for L in range(65, 2000) if len(tile(L, 64, 32)) == 16)
    late = tmp_path / "late.fa"
    late.write_text(f">first\n{'ACGTTGCA' * (n // 8)}{'A' * (n % 8)}\n>second\nACGT*\n")
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(bytes(np.random.default_rng(1).integers(0, 256, 2048, dtype=np.uint8)))
    return {
        "missing file": ([tmp_path / "nope.fa"], "nope.fa"),
        "empty file": ([empty], "empty"),
        "binary garbage": ([garbage], "not a text file"),
        "non-nucleotide": ([letters], "'bad'"),
        "late bad record": ([late, "--context", 64, "--stride", 32], "'second'"),
        "missing checkpoint": ([PHIX, "--model", tmp_path / "none.safetensors"], "no such checkpoint"),
        "corrupt checkpoint": ([PHIX, "--model", corrupt], "not a safetensors checkpoint"),
    }


def test_bad_inputs_one_line_no_partial_output(tmp_path):
    for label, (args, needle) in _bad_inputs(tmp_path).items():
        out = tmp_path / f"{label.replace(' ', '_')}.bed"
        # --model given twice: click keeps the last one, so the bad-checkpoint cases override CKPT
        result = runner.invoke(app, ["boundaries", "--model", str(CKPT), "--device", "cpu", *map(str, args), "-o", str(out)])
        assert result.exit_code == 1, (label, result.stdout, result.stderr)
        err = result.stderr.strip()
        assert err.count("\n") == 0 and err.startswith("dnahnet: error:") and needle in err, (label, err)
        assert "Traceback" not in err
        assert not out.exists() and not Path(str(out) + ".json").exists(), label
    missing_dir = tmp_path / "no" / "such" / "dir" / "out.bed"
    result = run(PHIX, "-o", missing_dir)
    assert result.exit_code == 1 and result.stderr.strip().count("\n") == 0 and "folder does not exist" in result.stderr
    assert not missing_dir.parent.exists()


def test_bad_input_subprocess_no_traceback(tmp_path):
    bad = tmp_path / "bad.fa"
    bad.write_text(">seq1\nACGT\nAC!GT\n")
    out = tmp_path / "out.bed"
    proc = subprocess.run([sys.executable, "-m", "dnahnet_cli.main", "boundaries", str(bad), "--model", str(CKPT), "-o", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr
    assert "'seq1'" in proc.stderr and "position 7" in proc.stderr
    assert not out.exists()


def test_help_documents_the_contract():
    result = runner.invoke(app, ["boundaries", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    for needle in ("0-based half-open", "context-stride", "stage-2 decision", "8192", "Example: dnahnet boundaries genome.fa > chunks.bed"):
        assert needle in text, needle


# ---- the recipe from Python ---------------------------------------------------------------------


def test_chunk_boundaries_recipe_equals_the_command(tmp_path, phix, lambda_seq):
    """chunk_boundaries from Python: one RecordBoundaries per record in input order, exactly the
    BED (and, within its 6 decimals, the bedGraph) the command writes; its parameters are the
    sidecar's settings; ``skip`` leaves out finished records without changing the others."""
    from dnahnet_cli.writers.boundaries import record_text
    from dnahnet_core.scoring.boundaries import RULE, chunk_boundaries
    from dnahnet_core.scoring.session import ScoringSession

    records = {"phix_slice": phix[:2500], "lambda_tiny": lambda_seq[5000:5001], "lambda_mid": lambda_seq[30000:31800]}
    fa = tmp_path / "three.fa"
    fa.write_text("".join(f">{n} slice of a real genome\n{s}\n" for n, s in records.items()))
    bed, bg = tmp_path / "three.bed", tmp_path / "three.bg"
    assert run(fa, "--context", 1024, "--stride", 512, "-o", bed).exit_code == 0
    assert run(fa, "--context", 1024, "--stride", 512, "--format", "bedgraph", "-o", bg).exit_code == 0
    sidecar = json.loads((tmp_path / "three.bed.json").read_text())

    with ScoringSession.open(model=CKPT, device="cpu") as session:
        result = chunk_boundaries(session, fa, context=1024, stride=512)
        got = list(result.results)
        assert result.stages == (1, 2) and result.model_stages == 2
        assert result.parameters == {"input": str(fa), "context": 1024, "stride": 512, "stages_written": ["s1", "s2"],
                                     "long_record_rule": RULE}
        assert {k: sidecar[k] for k in result.parameters} == result.parameters
        assert result.sizes() == [(n, len(s)) for n, s in records.items()]
        later = list(chunk_boundaries(session, fa, context=1024, stride=512, skip=1).results)
        only2 = chunk_boundaries(session, fa, stages=[2], context=1024, stride=512)
        assert only2.stages == (2,) and only2.parameters["stages_written"] == ["s2"]
        with pytest.raises(ValueError):
            chunk_boundaries(session, fa, stages=(3,))

    assert [rb.name for rb in got] == list(records) and [rb.length for rb in got] == [len(s) for s in records.values()]
    df = read_bed(bed.read_text())
    for rb in got:
        rec = df[df.chrom == rb.name]
        table = rb.table((1, 2))
        assert rec.start.tolist() == table.starts.tolist() and rec.end.tolist() == table.ends.tolist()
        assert rec.name.tolist() == [f"s{k}" for k in table.stage.tolist()] and rec.score.tolist() == table.scores.tolist()
    assert "".join(record_text(rb, (1, 2), "bed") for rb in got) == bed.read_text()  # byte for byte
    values = pd.read_csv(bg, sep="\t", header=None, names=["chrom", "start", "end", "value"], dtype={"chrom": str})
    np.testing.assert_allclose(values.value.to_numpy(), np.concatenate([rb.s1_prob for rb in got]), atol=5e-7, rtol=0)
    assert values.chrom.tolist() == [rb.name for rb in got for _ in range(rb.length)]
    assert [rb.name for rb in later] == list(records)[1:]
    for a, b in zip(later, got[1:]):
        assert np.array_equal(a.s1_mask, b.s1_mask) and np.array_equal(a.s2_mask, b.s2_mask)
        np.testing.assert_allclose(a.s1_prob, b.s1_prob, atol=1e-6, rtol=0)


def test_torchrun_two_ranks_write_the_bed_of_one_process(tmp_path, phix, lambda_seq):
    """Windows split across 2 ranks, merged back in input order: the same chunks as one process
    (a long record, tiled into several windows, and short records)."""
    import os

    fa = tmp_path / "many.fa"
    fa.write_text(f">long\n{lambda_seq[:9000]}\n" + "".join(f">r{i}\n{phix[i * 500:i * 500 + 300 + 41 * i]}\n" for i in range(5)))
    single = run(fa, "--context", "2048")
    assert single.exit_code == 0, single.output
    out = tmp_path / "ddp.bed"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "dnahnet_cli.main", "boundaries", str(fa), "--model", str(CKPT), "--context", "2048",
           "-o", str(out), "--device", "cpu"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    merged, alone = read_bed(out.read_text()), read_bed(single.stdout)
    assert list(merged["chrom"].unique()) == ["long", *(f"r{i}" for i in range(5))]
    # Decisions exactly (a knife-edge flip would show as a different chunk list; the tiny model
    # and these windows have none at this precision); the score column with a tolerance.
    pd.testing.assert_frame_equal(merged.drop(columns="score"), alone.drop(columns="score"))
    np.testing.assert_allclose(merged["score"], alone["score"], atol=2)
