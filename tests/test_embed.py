"""``dnahnet embed``: hidden states per stage, their chunk coordinates, long records, means, HDF5."""

from __future__ import annotations

import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from dnahnet_cli.main import app
from dnahnet_core.data.fasta import FastaRecord, read_fasta
from dnahnet_core.errors import DnaHNetError
from dnahnet_core.model.routing import downsample
from dnahnet_core.scoring.boundaries import iter_boundaries
from dnahnet_core.scoring.embed import embed_record, iter_embeddings, iter_window_embeddings, stage_module
from dnahnet_core.scoring.engine import LikelihoodEngine
from dnahnet_core.scoring.model_io import open_model
from dnahnet_core.scoring.windows import tile
from dnahnet_core.vocab import BOS

pytestmark = pytest.mark.usefixtures("one_torch_thread")

DATA = Path(__file__).parent / "data"
CKPT = DATA / "tiny_lambda.safetensors"
PHIX = DATA / "phiX174.fa"
LAMBDA = DATA / "lambda_phage.fa"
STAGES = (0, 1, 2)

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, ["embed", *map(str, args), "--model", str(CKPT), "--device", "cpu"])


@pytest.fixture(scope="module")
def engine() -> LikelihoodEngine:
    return LikelihoodEngine(open_model(CKPT).model, "cpu", batch_size=4)


@pytest.fixture(scope="module")
def phix_rec() -> FastaRecord:
    return next(read_fasta(PHIX))


@pytest.fixture(scope="module")
def lambda_12k() -> FastaRecord:
    lam = next(read_fasta(LAMBDA))
    return FastaRecord("lambda_12k", "", lam.ids[:12000])


def direct_stages(model, ids: np.ndarray) -> dict:
    """Reference without hooks: run the stage modules by hand on BOS + ids (one row).

    Returns stage 0 per nucleotide and, per chunking stage, the inner network's output per chunk
    with each chunk's nucleotide position (-1 = the chunk opened at BOS)."""
    x_ids = torch.from_numpy(np.concatenate([[BOS], ids]).astype(np.int64))[None]
    mask = torch.ones_like(x_ids, dtype=torch.bool)
    with torch.inference_mode():
        x = model.embeddings(x_ids).float()
        out = {0: model.backbone(x, mask).hidden[0, 1:].numpy()}
        stage, pos = model.backbone, np.arange(-1, len(ids))
        for k in (1, 2):
            h = stage.encoder(x)
            routing = stage.router(h, mask)
            chunks = downsample(h, routing)
            inner = stage.main(stage._widen(chunks.x), chunks.mask)
            pos = pos[routing.boundary_mask[0].numpy()]
            out[k] = (inner.hidden[0].numpy(), pos)
            stage, x, mask = stage.main, stage._widen(chunks.x), chunks.mask
    return out


def at_record_coords(vectors: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The documented rule for base 0: it starts a chunk; that chunk is the BOS chunk when the model
    put base 0 into it, else the chunk the model started at base 0 (and the BOS chunk is dropped)."""
    if len(pos) > 1 and pos[1] == 0:
        return vectors[1:], pos[1:]
    return vectors, np.concatenate([[0], pos[1:]])


# ---- what the vectors are ----------------------------------------------------------------------


def test_stage0_is_the_hidden_state_before_the_lm_head(engine, phix_rec):
    ids = phix_rec.ids[:3000]
    emb = embed_record(FastaRecord("phix3k", "", ids), engine, STAGES)
    ref = direct_stages(engine.model, ids)
    assert emb.vectors[0].shape == (3000, engine.model.config.d_model[0]) and emb.vectors[0].dtype == np.float32
    np.testing.assert_allclose(emb.vectors[0], ref[0], atol=1e-5, rtol=0)
    # it is exactly what the LM head reads: base j's vector gives the logits predicting base j+1
    with torch.inference_mode():
        out = engine.model(torch.from_numpy(np.concatenate([[BOS], ids]).astype(np.int64))[None])
        logits = engine.model.lm_head(torch.from_numpy(emb.vectors[0]))
    np.testing.assert_allclose(logits.numpy(), out.logits[0, 1:].numpy(), atol=1e-4, rtol=0)
    # hooks are gone afterwards
    for s in STAGES:
        assert not stage_module(engine.model, s)._forward_hooks


def test_chunk_vectors_are_the_inner_outputs_at_chunk_starts(engine, phix_rec):
    """Several short records (different offsets, so base 0 is sometimes a model chunk start and
    sometimes inside the BOS chunk): every chunk vector equals the hand-run inner network output."""
    branches = set()
    for offset in (0, 100, 200, 300, 1100, 1500):  # base 0 starts a stage-1 chunk at 100, 300, 1100
        ids = phix_rec.ids[offset : offset + 600]
        emb = embed_record(FastaRecord(f"phix_{offset}", "", ids), engine, STAGES)
        ref = direct_stages(engine.model, ids)
        for k in (1, 2):
            vectors, pos = at_record_coords(*ref[k])
            branches.add((k, bool(len(ref[k][1]) > 1 and ref[k][1][1] == 0)))
            assert emb.starts[k].dtype == np.int64 and emb.starts[k][0] == 0
            np.testing.assert_array_equal(emb.starts[k], pos)
            assert emb.vectors[k].shape == (len(pos), engine.model.config.d_model[k])
            np.testing.assert_allclose(emb.vectors[k], vectors, atol=1e-5, rtol=0)
    assert (1, True) in branches and (1, False) in branches  # both cases of base 0 were exercised


def test_chunk_starts_are_the_boundaries(engine, phix_rec, lambda_12k):
    """Exactly the chunk starts of dnahnet boundaries, for one window and for a windowed record."""
    for rec, context, stride in ((phix_rec, 8192, None), (lambda_12k, 2048, 1024), (lambda_12k, 1500, 1500)):
        emb = embed_record(rec, engine, STAGES, context, stride)
        (rb,) = iter_boundaries([rec], engine, context, stride)
        np.testing.assert_array_equal(emb.starts[1], rb.s1_starts)
        np.testing.assert_array_equal(emb.starts[2], rb.s2_starts)


# ---- long records --------------------------------------------------------------------------------


def test_windowed_record_covers_every_base_once(engine, lambda_12k):
    context, stride = 2048, 1024
    pieces = list(iter_window_embeddings([lambda_12k], engine, STAGES, context, stride))
    tiles = tile(len(lambda_12k.ids), context, stride)
    assert len(pieces) == len(tiles) > 5
    # the taken regions tile the record: each base from exactly one window, the one of the plan
    assert [(p.score_from, p.end) for p in pieces] == [(t.score_from, t.end) for t in tiles]
    emb = embed_record(lambda_12k, engine, STAGES, context, stride)
    assert emb.vectors[0].shape[0] == len(lambda_12k.ids) == emb.count[0]
    for k in (1, 2):
        assert np.all(np.diff(emb.starts[k]) > 0) and len(emb.starts[k]) == len(emb.vectors[k])
    # each window's part is that window's own forward pass, on stage 0 and on its chunks
    for t, p in zip(tiles, pieces):
        ref = direct_stages(engine.model, lambda_12k.ids[t.start : t.end])
        np.testing.assert_allclose(p.vectors[0], ref[0][t.offset :], atol=1e-5, rtol=0)
        for k in (1, 2):
            vectors, pos = ref[k]
            if t.start == 0:
                vectors, pos = at_record_coords(vectors, pos)
            keep = pos + t.start >= t.score_from
            np.testing.assert_array_equal(p.starts[k], pos[keep] + t.start)
            np.testing.assert_allclose(p.vectors[k], vectors[keep], atol=1e-5, rtol=0)


def test_windowed_record_agrees_with_one_window(engine, lambda_12k):
    """Against one 12,000-base window: identical where the left context is the same (the first
    window), close where every base still has >= 1,024 bases of left context."""
    context, stride = 2048, 1024
    one = embed_record(lambda_12k, engine, STAGES, context=12000)
    win = embed_record(lambda_12k, engine, STAGES, context, stride)
    np.testing.assert_allclose(win.vectors[0][:context], one.vectors[0][:context], atol=1e-5, rtol=0)
    rel = np.linalg.norm(win.vectors[0] - one.vectors[0], axis=1) / np.linalg.norm(one.vectors[0], axis=1)
    assert rel[context:].max() < 0.15 and np.median(rel[context:]) < 0.03  # measured: 0.081, 0.010
    for k in (1, 2):
        first = one.starts[k] < context
        np.testing.assert_array_equal(win.starts[k][win.starts[k] < context], one.starts[k][first])
        np.testing.assert_allclose(win.vectors[k][: first.sum()], one.vectors[k][first], atol=1e-5, rtol=0)
        common, a, b = np.intersect1d(one.starts[k], win.starts[k], return_indices=True)
        assert len(common) >= 0.95 * len(one.starts[k])
        rel = np.linalg.norm(one.vectors[k][a] - win.vectors[k][b], axis=1) / np.linalg.norm(one.vectors[k][a], axis=1)
        assert rel.max() < 0.4 and np.median(rel) < 0.1  # measured: <= 0.19, <= 0.052


# ---- means, batching -----------------------------------------------------------------------------


def test_mean_is_the_mean_of_the_full_embedding(engine, lambda_12k):
    full = embed_record(lambda_12k, engine, STAGES, 2048, 1024)
    means = embed_record(lambda_12k, engine, STAGES, 2048, 1024, mean_only=True)
    assert not means.vectors and not means.starts
    for s in STAGES:
        np.testing.assert_allclose(means.mean[s], full.vectors[s].astype(np.float64).mean(0), atol=1e-6, rtol=1e-6)
        assert means.count[s] == len(full.vectors[s])


def test_batch_size_does_not_change_results(phix_rec, lambda_12k):
    records = [lambda_12k, FastaRecord("phix_head", "", phix_rec.ids[:700]), phix_rec]
    model = open_model(CKPT).model
    one = list(iter_embeddings(records, LikelihoodEngine(model, "cpu", batch_size=1), STAGES, 2048, 1024))
    four = list(iter_embeddings(records, LikelihoodEngine(model, "cpu", batch_size=4), STAGES, 2048, 1024))
    assert [e.name for e in one] == [e.name for e in four] == ["lambda_12k", "phix_head", "NC_001422.1"]
    for a, b in zip(one, four):
        for s in STAGES:
            np.testing.assert_allclose(a.vectors[s], b.vectors[s], atol=1e-5, rtol=0)
            if s:
                np.testing.assert_array_equal(a.starts[s], b.starts[s])


# ---- the command ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_records(tmp_path_factory, phix_rec) -> Path:
    lam = next(read_fasta(LAMBDA))
    path = tmp_path_factory.mktemp("embed") / "two.fa"
    seqs = {"lambda/slice": "".join("ACGTN"[i] for i in lam.ids[:5000]), "phix_head": "".join("ACGTN"[i] for i in phix_rec.ids[:900])}
    path.write_text("".join(f">{n} real sequence\n{s}\n" for n, s in seqs.items()))
    return path


def test_cli_end_to_end(tmp_path, two_records, engine, monkeypatch):
    out = tmp_path / "emb.h5"
    monkeypatch.setattr(sys, "argv", ["dnahnet", "embed", "two.fa", "-o", "emb.h5"])  # as typed (CliRunner keeps pytest's)
    result = run(two_records, "-o", out, "--context", 2048, "--stride", 1024, "--batch-size", 3)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "" and "dnahnet embed: 2 records, 5900 bases" in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["emb.h5"]  # no temporary file left
    want = list(iter_embeddings(read_fasta(two_records), engine, STAGES, 2048, 1024))
    with h5py.File(out, "r") as h5:
        attrs = dict(h5.attrs)
        for key in ("command", "dnahnet_version", "model", "model_path", "model_sha256", "context", "stride",
                    "stages", "dtype", "mode", "stage0_vectors", "stage1_vectors", "stage2_vectors", "long_record_rule"):
            assert key in attrs, key
        assert attrs["model"] == "tiny_lambda" and len(attrs["model_sha256"]) == 64
        assert attrs["command"] == "dnahnet embed two.fa -o emb.h5" and attrs["context"] == "2048" and attrs["stride"] == "1024"
        assert attrs["stages"] == "0,1,2" and attrs["mode"] == "full" and attrs["dtype"] == "float32"
        assert [n.decode() for n in h5["names"][:]] == ["lambda/slice", "phix_head"]
        assert h5["lengths"][:].tolist() == [5000, 900]
        assert sorted(h5) == ["000000", "000001", "lengths", "names"]
        for i, e in enumerate(want):
            g = h5[f"{i:06d}"]
            assert g.attrs["name"] == e.name and g.attrs["length"] == e.length
            assert g["stage0"].dtype == np.float32 and g["stage0"].compression == "gzip" and g["stage0"].chunks
            for s in STAGES:
                np.testing.assert_allclose(g[f"stage{s}"][:], e.vectors[s], atol=1e-5, rtol=0)
                if s:
                    assert g[f"stage{s}_start"].dtype == np.int64
                    np.testing.assert_array_equal(g[f"stage{s}_start"][:], e.starts[s])
            assert g["stage0"].shape == (e.length, 32) and g["stage1"].shape[1] == 48 and g["stage2"].shape[1] == 64

    # --mean: per-record means and the (n_records, D) matrices equal the means of the full file
    mean_out = tmp_path / "mean.h5"
    result = run(two_records, "-o", mean_out, "--context", 2048, "--stride", 1024, "--mean")
    assert result.exit_code == 0, result.stderr
    with h5py.File(out, "r") as full, h5py.File(mean_out, "r") as h5:
        assert h5.attrs["mode"] == "mean" and "stage0" not in h5["000000"]
        assert [n.decode() for n in h5["names"][:]] == ["lambda/slice", "phix_head"]
        for s in STAGES:
            matrix = h5[f"mean/stage{s}"][:]
            assert matrix.shape == (2, full[f"000000/stage{s}"].shape[1])
            for i in range(2):
                vectors = full[f"{i:06d}/stage{s}"][:]
                np.testing.assert_allclose(matrix[i], vectors.astype(np.float64).mean(0), atol=1e-6, rtol=1e-6)
                np.testing.assert_array_equal(h5[f"{i:06d}/stage{s}_mean"][:], matrix[i])
                assert h5[f"mean/stage{s}_count"][i] == len(vectors) == h5[f"{i:06d}"].attrs[f"stage{s}_count"]

    # --stages and --dtype float16
    half = tmp_path / "half.h5"
    result = run(two_records, "-o", half, "--stages", "2,0", "--dtype", "float16")
    assert result.exit_code == 0, result.stderr
    with h5py.File(out, "r") as full, h5py.File(half, "r") as h5:
        assert sorted(h5["000001"]) == ["stage0", "stage2", "stage2_start"] and h5.attrs["stages"] == "0,2"
        assert h5["000001/stage0"].dtype == np.float16
        np.testing.assert_allclose(h5["000001/stage0"][:].astype(np.float32), full["000001/stage0"][:], atol=2e-2, rtol=1e-2)


def test_cli_errors_leave_no_output(tmp_path, two_records):
    out = tmp_path / "x.h5"
    for args, code in (
        (("--stages", "0,x"), 2),  # usage error
        (("--stages", "3"), 1),  # not a stage of this model
        (("--context", "100", "--stride", "200"), 2),
    ):
        result = run(two_records, "-o", out, *args)
        assert result.exit_code == code, (args, result.stderr)
        assert result.stderr.startswith("dnahnet: error: ") or "Error" in result.stderr
    bad = tmp_path / "bad.fa"
    ok = "".join("ACGTN"[i] for i in next(read_fasta(PHIX)).ids[:2000])
    bad.write_text(f">ok\n{ok}\n>broken\nACGT!!ACGT\n")
    # 20 windows of 100: the first record is written before the second one is read and fails
    result = run(bad, "-o", out, "--context", 100, "--stride", 100)
    assert result.exit_code == 1 and "broken" in result.stderr and "Traceback" not in result.stderr
    result = run(two_records, "-o", tmp_path / "missing" / "x.h5")
    assert result.exit_code == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.fa"]  # nothing else, no temporary file


def test_help_documents_the_contract():
    result = runner.invoke(app, ["embed", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    for phrase in ("LM head", "before dechunking", "stage1_start", "--mean", "/mean/stageK", "context-stride"):
        assert phrase in text, phrase


# ---- the recipe from Python ------------------------------------------------------------------------


def test_embed_sequences_recipe_equals_the_command(tmp_path, two_records):
    """embed_sequences from Python: windows in input order, grouped per record, equal to what the
    command writes (vectors within float tolerance, chunk starts exactly); its parameters are the
    file's provenance; ``skip`` leaves out finished records and keeps the input record numbers."""
    from dnahnet_core.scoring.embed import RULE, embed_sequences, stage_description
    from dnahnet_core.scoring.session import ScoringSession

    out = tmp_path / "emb.h5"
    result = run(two_records, "-o", out, "--context", 2048, "--stride", 1024, "--stages", "0,2")
    assert result.exit_code == 0, result.stderr
    with ScoringSession.open(model=CKPT, device="cpu") as session:
        emb = embed_sequences(session, two_records, stages=[2, 0], context=2048, stride=1024)
        records = list(emb.records())
        assert emb.stages == (0, 2) and emb.widths == {0: 32, 2: 64} and not emb.mean_only
        assert emb.parameters == {
            "input": str(two_records), "context": 2048, "stride": 1024, "stages": "0,2", "mode": "full",
            "coordinates": "0-based; stageK_start = first base of each chunk", "stage0_width": 32, "stage2_width": 64,
            "stage0_vectors": stage_description(0), "stage2_vectors": stage_description(2), "long_record_rule": RULE}
        later = list(embed_sequences(session, two_records, context=2048, stride=1024, mean_only=True, skip=1).results)
        assert embed_sequences(session, two_records).stages == STAGES  # default: every stage of the model
        with pytest.raises(DnaHNetError, match="this model has stages 0,1,2"):
            embed_sequences(session, two_records, stages=[3])

    with h5py.File(out, "r") as h5:
        assert {k: h5.attrs[k] for k in emb.parameters} == {k: str(v) for k, v in emb.parameters.items()}
        assert [r.name for r in records] == [n.decode() for n in h5["names"][:]] == ["lambda/slice", "phix_head"]
        for i, rec in enumerate(records):
            g = h5[f"{i:06d}"]
            assert rec.length == g.attrs["length"] and rec.n_windows == g.attrs["n_windows"]
            for s in (0, 2):
                np.testing.assert_allclose(rec.vectors[s], g[f"stage{s}"][:], atol=1e-5, rtol=0)
                np.testing.assert_allclose(rec.mean[s], g[f"stage{s}"][:].astype(np.float64).mean(0), atol=1e-6, rtol=1e-6)
            np.testing.assert_array_equal(rec.starts[2], g["stage2_start"][:])
    # skip=1: only the second record's windows, numbered as in the input
    assert {w.record for w in later} == {1} and {w.name for w in later} == {"phix_head"}
    np.testing.assert_allclose(np.concatenate([w.vectors[0] for w in later]), records[1].vectors[0], atol=1e-5, rtol=0)


def test_torchrun_two_ranks_write_the_embeddings_of_one_process(tmp_path, two_records):
    """Windows split across 2 ranks, merged in input order: the same vectors and chunk starts as
    one process (a record tiled into several windows, and a short one)."""
    import os
    import subprocess

    single, ddp = tmp_path / "one.h5", tmp_path / "ddp.h5"
    result = run(two_records, "-o", single, "--context", 2048, "--stride", 1024)
    assert result.exit_code == 0, result.stderr
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "dnahnet_cli.main", "embed", str(two_records), "--model", str(CKPT), "--context", "2048",
           "--stride", "1024", "-o", str(ddp), "--device", "cpu"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    with h5py.File(single, "r") as a, h5py.File(ddp, "r") as b:
        assert sorted(a) == sorted(b)
        assert a["names"][:].tolist() == b["names"][:].tolist()
        for group in ("000000", "000001"):
            for stage in STAGES:
                np.testing.assert_allclose(b[group][f"stage{stage}"][:], a[group][f"stage{stage}"][:], atol=1e-4)
            for stage in (1, 2):
                assert np.array_equal(b[group][f"stage{stage}_start"][:], a[group][f"stage{stage}_start"][:])
