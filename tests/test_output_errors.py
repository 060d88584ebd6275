"""Outputs that cannot be written: a full disk, a folder that is a file, a reader that goes away.
One clear line and a non-zero exit; no file that looks like a result is left behind (the committed
part of a resumable run is kept, and --resume finishes it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dnahnet_cli.main import app

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).parent.parent
MODEL = str(DATA / "tiny_lambda.safetensors")
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "DNAHNET_DEVICE": "cpu"}

COMMANDS = {
    "score": ["score", str(DATA / "phiX174.fa"), "--context", "512"],
    "boundaries": ["boundaries", str(DATA / "phiX174.fa"), "--context", "512"],
    "generate": ["generate", "-n", "20"],
    "score-vcf": ["score-vcf", str(REPO / "examples" / "phiX174_variants.vcf"), "--window", "32"],
    "essentiality": ["essentiality", str(DATA / "phiX174.fa"), "--annotation", str(DATA / "phiX174.gff3"), "--window", "256"],
}


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_full_disk_on_stdout_is_one_line(command):
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "dnahnet_cli.main", *COMMANDS[command], "--model", MODEL],
                              stdout=full, stderr=subprocess.PIPE, text=True, env=ENV, cwd=REPO, timeout=300)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert proc.stderr.count("\n") == 1 and "No space left on device" in proc.stderr and "Traceback" not in proc.stderr


def test_a_reader_that_goes_away_stops_quietly(tmp_path):
    proc = subprocess.run(f"{sys.executable} -m dnahnet_cli.main boundaries {DATA / 'lambda_phage.fa'} --model {MODEL} | head -n 2",
                          shell=True, capture_output=True, text=True, env=ENV, cwd=REPO, timeout=300)
    assert proc.stdout.count("\n") == 2
    assert "error" not in proc.stderr and "Traceback" not in proc.stderr and "Broken pipe" not in proc.stderr


def test_disk_full_during_a_resumable_run_keeps_the_finished_part(tmp_path, monkeypatch):
    fasta = tmp_path / "pieces.fa"
    seq = "".join(line.strip() for line in (DATA / "lambda_phage.fa").read_text().splitlines()[1:])
    fasta.write_text("".join(f">piece{i}\n{seq[i * 300:(i + 1) * 300]}\n" for i in range(12)))
    args = ["score", str(fasta), "--model", MODEL, "--context", "256", "-o", "out.tsv"]
    monkeypatch.chdir(tmp_path)
    full_run = CliRunner().invoke(app, [*args[:-1], "full.tsv"])
    assert full_run.exit_code == 0

    calls = {"n": 0}
    real_fsync = os.fsync

    def failing_fsync(fd):
        calls["n"] += 1
        if calls["n"] > 5:  # the disk fills up after a few committed records
            raise OSError(28, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "cannot write out.tsv: No space left on device" in result.stderr
    assert "rerun with --resume" in result.stderr
    assert not (tmp_path / "out.tsv").exists() and (tmp_path / "out.tsv.partial").exists()
    monkeypatch.setattr(os, "fsync", real_fsync)  # space was freed
    resumed = CliRunner().invoke(app, [*args, "--resume"])
    assert resumed.exit_code == 0, resumed.output
    strip = lambda text: [line for line in text.splitlines() if not line.startswith("# command")]  # noqa: E731
    assert strip((tmp_path / "out.tsv").read_text()) == strip((tmp_path / "full.tsv").read_text())


@pytest.mark.parametrize("command", ["score", "generate", "score-vcf", "essentiality", "boundaries"])
def test_output_inside_a_file_is_one_line_before_any_work(tmp_path, command):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    result = CliRunner().invoke(app, [*COMMANDS[command], "--model", MODEL, "-o", str(blocker / "out.txt")])
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "not_a_folder" in result.stderr
    assert list(tmp_path.iterdir()) == [blocker]
