"""dnahnet train: learning, exact resume, LR groups, DDP, signals and bad input (real genomes)."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file
from typer.testing import CliRunner

from dnahnet_cli.main import app
from dnahnet_core import DnaHNet, ModelConfig, load_model
from dnahnet_core.data import EvalWindows, TokenStore
from dnahnet_core.train import TrainConfig, train
from dnahnet_core.distributed import DistInfo
from dnahnet_core.train.evaluate import evaluate
from dnahnet_core.train.optim import make_optimizer, make_scheduler, stage_of_parameters

DATA = Path(__file__).parent / "data"
LAMBDA, PHIX = DATA / "lambda_phage.fa", DATA / "phiX174.fa"


def tiny_cfg(out: Path, **kw) -> TrainConfig:
    base = dict(fasta=[str(LAMBDA)], val_fasta=[str(PHIX)], out=str(out), preset="tiny", steps=8, batch_size=2,
                seq_len=256, warmup_steps=2, eval_every=4, log_every=2, save_every=4, lr=3e-3, device="cpu")
    base.update(kw)
    return TrainConfig(**base)


def test_training_lowers_validation_bits_per_base(tmp_path):
    cfg = tiny_cfg(tmp_path, steps=40, batch_size=8, seq_len=256, warmup_steps=4, eval_every=40, save_every=40)
    torch.manual_seed(cfg.seed)
    untrained = DnaHNet(ModelConfig.preset("tiny"))
    info = DistInfo(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))
    val = EvalWindows(TokenStore.from_files([PHIX]), cfg.seq_len, batch_size=8, max_windows=cfg.eval_windows)
    before = evaluate(untrained, val, info, contextlib.nullcontext())
    result = train(cfg, progress=False)
    assert result.step == 40 and not result.interrupted
    assert result.last_eval.bits_per_base < before.bits_per_base - 0.05
    assert result.tokens_seen == 40 * 8 * 256
    # The exported model is the trained one, loadable by every scoring command.
    model = load_model(result.final_model)
    after = evaluate(model, val, info, contextlib.nullcontext())
    assert abs(after.bits_per_base - result.last_eval.bits_per_base) < 1e-6
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if "loss" in r]
    assert [r["step"] for r in steps] == list(range(2, 41, 2))
    for key in ("bpb", "ratio_loss", "selected", "lr", "grad_norm", "bp_per_s"):
        assert key in steps[-1]
    assert any("val_bpb" in r for r in records)


def test_resume_reproduces_uninterrupted_losses_exactly(tmp_path):
    full = train(tiny_cfg(tmp_path / "full"), progress=False)
    first = train(tiny_cfg(tmp_path / "resumed"), stop_after=3, progress=False)
    assert first.interrupted and first.step == 3
    assert (tmp_path / "resumed" / "step-0000003" / "trainer.json").is_file()
    rest = train(tiny_cfg(tmp_path / "resumed"), progress=False)
    assert first.losses == full.losses[:3]
    assert rest.losses == full.losses[3:]  # bit-identical next losses
    a, b = load_file(str(full.final_model)), load_file(str(rest.final_model))
    assert all(torch.equal(a[k], b[k]) for k in a)
    # The metrics file holds each step once, as an uninterrupted run's would.
    steps = [json.loads(x)["step"] for x in (tmp_path / "resumed" / "metrics.jsonl").read_text().splitlines() if '"loss"' in x]
    assert steps == [2, 4, 6, 8]


def test_resume_refuses_changed_data_settings_and_foreign_folders(tmp_path):
    train(tiny_cfg(tmp_path, steps=4), stop_after=2, progress=False)
    with pytest.raises(Exception, match="cannot resume with a different batch_size"):
        train(tiny_cfg(tmp_path, steps=4, batch_size=3), progress=False)
    with pytest.raises(Exception, match="already holds checkpoints of another run"):
        train(tiny_cfg(tmp_path, steps=4, resume=False), progress=False)


def test_keep_last_prunes_old_checkpoints(tmp_path):
    train(tiny_cfg(tmp_path, steps=6, save_every=1, keep_last=2, eval_every=100), progress=False)
    assert sorted(p.name for p in tmp_path.glob("step-*")) == ["step-0000005", "step-0000006"]
    assert not list(tmp_path.glob(".tmp-*"))


def test_stage_lr_multipliers_scale_each_group():
    torch.manual_seed(0)
    model = DnaHNet(ModelConfig.preset("tiny"))
    stages = stage_of_parameters(model)
    assert stages["backbone.encoder.layers.0.mixer.in_proj.weight"] == 0
    assert stages["backbone.main.router.q_proj.weight"] == 1
    assert stages["backbone.main.main.main.layers.0.mixer.Wqkv.weight"] == 2
    assert stages["lm_head.weight"] == 0
    opt = make_optimizer(model, lr=1e-3, weight_decay=0.05, multipliers=[3.0, 1.7, 0.9])
    sched = make_scheduler(opt, warmup=2, total=10, min_ratio=0.1)
    for _ in range(3):
        opt.step()
        sched.step()
    factor = opt.param_groups[0]["lr"] / (1e-3 * opt.param_groups[0]["lr_mult"])
    seen = set()
    for g in opt.param_groups:
        assert g["lr"] == pytest.approx(1e-3 * {0: 3.0, 1: 1.7, 2: 0.9}[g["stage"]] * factor)
        seen.add(g["stage"])
        # No decay on norms, biases, embeddings, SSM scalars.
        if g["weight_decay"] == 0:
            assert all(p.dim() < 2 or "embeddings" in n or "router" in n for n, p in zip(g["names"], g["params"]))
    assert seen == {0, 1, 2}
    assert sum(len(g["params"]) for g in opt.param_groups) == len(list(model.parameters()))


def test_ddp_two_processes_end_with_identical_weights(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           str(Path(__file__).parent / "ddp_worker.py"), str(tmp_path), str(LAMBDA), str(PHIX)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0, r1 = load_file(str(tmp_path / "rank0.safetensors")), load_file(str(tmp_path / "rank1.safetensors"))
    assert all(torch.equal(r0[k], r1[k]) for k in r0)
    init = DnaHNet(ModelConfig.preset("tiny")).state_dict()
    assert any(not torch.equal(r0[k], init[k]) for k in r0)  # they did train
    assert (tmp_path / "final.safetensors").is_file()
    # Each rank counts both ranks' data: 4 steps x 2 ranks x 2 windows x 256 nt.
    for rank in (0, 1):
        with safe_open(str(tmp_path / f"rank{rank}.safetensors"), framework="pt") as f:
            assert f.metadata()["tokens_seen"] == str(4 * 2 * 2 * 256)
    assert load_model(tmp_path / "final.safetensors").config.name == "tiny"


def test_sigterm_saves_a_checkpoint_then_resume_finishes(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "dnahnet_cli.main", "train", "--fasta", str(LAMBDA), "--val-fasta", str(PHIX), "--out", str(out),
           "--preset", "tiny", "--steps", "100000", "--batch-size", "2", "--seq-len", "128", "--log-every", "1", "--save-every", "100000",
           "--eval-every", "100000", "--device", "cpu"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(240, proc.kill)  # never let a stuck child hang the suite
    watchdog.start()
    for line in proc.stderr:
        if line.startswith("step 3/"):
            break
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    watchdog.cancel()
    assert proc.returncode == 130, err
    assert "checkpoint saved" in err
    saved = sorted(out.glob("step-*"))
    assert len(saved) == 1 and (saved[0] / "optimizer.pt").is_file()
    step = int(saved[0].name.split("-")[1])
    assert step >= 3


BAD_INPUTS = {
    "empty": (b"", "empty file"),
    "binary": (bytes(range(256)) * 4, "not a text file"),
    "letters": (b">chr1 test\nACGTACGTQQ\n", "record 'chr1', position 9: invalid character 'Q'"),
    "notfasta": (b"LOCUS  x\nORIGIN\n", "not a FASTA file"),
}


@pytest.mark.parametrize("case", [*BAD_INPUTS, "truncated_gzip"])
def test_bad_fasta_exits_with_one_clear_line(tmp_path, case):
    path = tmp_path / f"bad_{case}.fa"
    if case == "truncated_gzip":
        data = gzip.compress(LAMBDA.read_bytes())
        path = tmp_path / "bad.fa.gz"
        path.write_bytes(data[: len(data) // 2])
        expected = "truncated compressed file"
    else:
        content, expected = BAD_INPUTS[case]
        path.write_bytes(content)
    result = CliRunner().invoke(app, ["train", "--fasta", str(path), "--out", str(tmp_path / "o"), "--preset", "tiny", "--steps", "1", "--device", "cpu"])
    assert result.exit_code == 1
    err = result.stderr.strip()
    assert err.count("\n") == 0 and str(path) in err and expected in err, err
    assert "Traceback" not in result.output


def test_invalid_training_options_report_every_problem(tmp_path):
    result = CliRunner().invoke(app, ["train", "--fasta", str(LAMBDA), "--out", str(tmp_path), "--steps", "0", "--lr", "-1", "--preset", "nope"])
    assert result.exit_code == 1
    err = result.stderr
    assert "steps = 0" in err and "lr = -1.0" in err and "unknown preset 'nope'" in err
