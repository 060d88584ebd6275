"""Interrupted long runs resume to the same bytes: real processes are killed midway (SIGKILL,
SIGTERM, SIGINT), then run again with --resume; nothing finished is computed twice."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from Bio import SeqIO

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).parent.parent
MODEL = str(DATA / "tiny_lambda.safetensors")
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "DNAHNET_DEVICE": "cpu"}


def _cmd(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "dnahnet_cli.main", *args, "--model", MODEL]


def _dirs(tmp_path: Path) -> tuple[Path, Path]:
    """Two folders for the same relative output name: the command lines (provenance) then match."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    return tmp_path / "a", tmp_path / "b"


def _kill_midway(args: list[str], out: Path, sig: int, min_done: int) -> None:
    """Start the command in ``out``'s folder and send ``sig`` once its progress shows ``min_done`` items."""
    progress = out.with_name(out.name + ".progress.json")
    proc = subprocess.Popen(_cmd(args), env=ENV, cwd=out.parent, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        try:
            if json.loads(progress.read_text())["done"] >= min_done:
                break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.05)
    assert proc.poll() is None, f"finished before it could be interrupted: {proc.stderr.read()[-2000:]}"
    proc.send_signal(sig)
    proc.wait(timeout=60)
    assert not out.exists(), "an interrupted run must not leave a file that looks finished"
    assert out.with_name(out.name + ".partial").exists()


def _resume(args: list[str], cwd: Path) -> str:
    proc = subprocess.run(_cmd([*args, "--resume"]), env=ENV, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stderr


def _full(args: list[str], cwd: Path) -> None:
    proc = subprocess.run(_cmd(args), env=ENV, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]


def _check_resumed(stderr: str) -> None:
    done = int(stderr.split("input items already done")[0].rsplit(":", 1)[1])
    assert done > 0, stderr  # work was kept, not redone


@pytest.fixture(scope="module")
def many_snvs(tmp_path_factory) -> Path:
    """300 SNVs along phiX174 (real reference bases), 1-based."""
    seq = str(SeqIO.read(DATA / "phiX174.fa", "fasta").seq)
    rng = random.Random(0)
    lines = ["##fileformat=VCFv4.2", "##contig=<ID=NC_001422.1,length=5386>", "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
    for i, pos in enumerate(sorted(rng.sample(range(1, 5387), 300))):
        ref = seq[pos - 1]
        lines.append(f"NC_001422.1\t{pos}\tv{i}\t{ref}\t{rng.choice([b for b in 'ACGT' if b != ref])}\t.\t.\t.")
    path = tmp_path_factory.mktemp("vcf") / "snvs.vcf"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("suffix, sig", [(".tsv", signal.SIGKILL), (".vcf.gz", signal.SIGTERM)])
def test_score_vcf_killed_midway_resumes_to_identical_output(tmp_path, many_snvs, suffix, sig):
    base = ["score-vcf", str(many_snvs), "--reference", str(DATA / "phiX174.fa"), "--window", "64", "--strand", "forward",
            "--batch-size", "4", "-o", f"out{suffix}"]
    a, b = _dirs(tmp_path)
    full, part = a / f"out{suffix}", b / f"out{suffix}"
    _full(base, a)
    _kill_midway(base, part, sig, min_done=1)
    _check_resumed(_resume(base, b))
    if suffix == ".vcf.gz":
        import gzip

        assert gzip.decompress(part.read_bytes()) == gzip.decompress(full.read_bytes())
        assert part.with_name(part.name + ".tbi").exists()
    assert part.read_bytes() == full.read_bytes()
    assert not list(b.glob("*.partial")) and not list(b.glob("*.progress.json"))


def test_score_interrupted_by_ctrl_c_resumes_to_identical_output(tmp_path):
    lam = str(SeqIO.read(DATA / "lambda_phage.fa", "fasta").seq)
    fasta = tmp_path / "pieces.fa"
    fasta.write_text("".join(f">piece{i}\n{lam[i * 400:(i + 1) * 400]}\n" for i in range(100)))
    base = ["score", str(fasta), "--context", "256", "-o", "out.tsv"]
    a, b = _dirs(tmp_path)
    full, part = a / "out.tsv", b / "out.tsv"
    _full(base, a)
    _kill_midway(base, part, signal.SIGINT, min_done=10)
    _check_resumed(_resume(base, b))
    assert part.read_bytes() == full.read_bytes()


def test_essentiality_killed_midway_resumes_to_identical_output(tmp_path):
    # No genome argument: the GenBank file carries the sequence.
    base = ["essentiality", "--annotation", str(DATA / "pPCP1_plasmid.gbk"), "--window", "512", "--batch-size", "2",
            "-o", "out.tsv"]
    a, b = _dirs(tmp_path)
    full, part = a / "out.tsv", b / "out.tsv"
    _full(base, a)
    _kill_midway(base, part, signal.SIGKILL, min_done=2)
    _check_resumed(_resume(base, b))
    assert part.read_bytes() == full.read_bytes()


def test_generate_killed_midway_resumes_to_identical_fasta_and_bed(tmp_path):
    base = ["generate", "-n", "40", "-k", "12", "--seed", "4", "--batch-size", "1", "-o", "out.fa", "--boundaries", "out.bed"]
    a, b = _dirs(tmp_path)
    _full(base, a)
    _kill_midway(base, b / "out.fa", signal.SIGKILL, min_done=3)
    _check_resumed(_resume(base, b))
    assert (b / "out.fa").read_bytes() == (a / "out.fa").read_bytes()
    assert (b / "out.bed").read_bytes() == (a / "out.bed").read_bytes()


def test_resume_refuses_a_different_run_and_stdout(tmp_path, many_snvs):
    base = ["score-vcf", str(many_snvs), "--reference", str(DATA / "phiX174.fa"), "--batch-size", "4", "--strand", "forward"]
    part = tmp_path / "part.tsv"
    _kill_midway([*base, "--window", "64", "-o", str(part)], part, signal.SIGKILL, min_done=1)
    proc = subprocess.run(_cmd([*base, "--window", "32", "-o", str(part), "--resume"]), env=ENV, cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 1 and "cannot resume" in proc.stderr and proc.stderr.count("\n") == 1
    proc = subprocess.run(_cmd([*base, "--window", "64", "--resume"]), env=ENV, cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 1 and "--resume needs an output file" in proc.stderr
