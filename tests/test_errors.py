"""Every command fed bad input: one line on stderr, documented exit code, no traceback, and no
partial output file left behind."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dnahnet_cli.main import app

DATA = Path(__file__).parent / "data"
MODEL = str(DATA / "tiny_lambda.safetensors")
PHIX = str(DATA / "phiX174.fa")
GFF = str(DATA / "phiX174.gff3")
VCF = str(DATA / "phiX174_variants.vcf")


def make_bad(tmp: Path) -> dict[str, Path]:
    bad = {
        "missing": tmp / "nope.fa",
        "empty": tmp / "empty.fa",
        "binary": tmp / "binary.fa",
        "wrong_format": tmp / "wrong.fa",
        "truncated_gz": tmp / "trunc.fa.gz",
        "letters": tmp / "letters.fa",
    }
    bad["empty"].write_bytes(b"")
    bad["binary"].write_bytes(bytes(range(256)) * 8)
    bad["wrong_format"].write_text("LOCUS       x\nORIGIN\n//\n")
    data = gzip.compress(Path(PHIX).read_bytes())
    bad["truncated_gz"].write_bytes(data[: len(data) // 2])
    bad["letters"].write_text(">chr1\nACGTACGT\nACGTJACG\n")
    return bad


EXPECTED = {
    "missing": "no such file",
    "empty": "empty",
    "binary": "not a text file",
    "wrong_format": "not a FASTA file",
    "truncated_gz": "truncated",
    "letters": "record 'chr1', position 13: invalid character 'J'",
}


def invoke(args: list[str]):
    return CliRunner().invoke(app, args)


def check_one_line(result, code: int = 1, contains: str | None = None) -> None:
    err = result.stderr.strip()
    assert result.exit_code == code, (result.exit_code, err)
    assert err.count("\n") == 0, err
    assert "Traceback" not in result.output
    if contains:
        assert contains.lower() in err.lower(), err


def fasta_commands(path: str, out: Path) -> dict[str, list[str]]:
    return {
        "score": ["score", path, "--model", MODEL, "-o", str(out)],
        "boundaries": ["boundaries", path, "--model", MODEL, "-o", str(out)],
        "essentiality": ["essentiality", path, "--annotation", GFF, "--model", MODEL, "-o", str(out)],
        "score-vcf": ["score-vcf", VCF, "--reference", path, "--model", MODEL, "-o", str(out)],
        "train": ["train", "--fasta", path, "--out", str(out), "--preset", "tiny", "--steps", "1", "--device", "cpu"],
    }


@pytest.mark.parametrize("case", list(EXPECTED))
@pytest.mark.parametrize("command", ["score", "boundaries", "essentiality", "score-vcf", "train"])
def test_bad_fasta_inputs(tmp_path, case, command):
    bad = make_bad(tmp_path)
    out = tmp_path / "out.txt"
    result = invoke(fasta_commands(str(bad[case]), out)[command])
    check_one_line(result, contains=EXPECTED[case])
    if command != "train":
        assert str(bad[case]) in result.stderr  # the message names the file
        assert not out.exists()  # no partial output left behind


@pytest.mark.parametrize("command", ["score", "boundaries", "essentiality", "score-vcf", "info"])
@pytest.mark.parametrize("case", ["nonexistent", "corrupted", "not_dnahnet"])
def test_bad_checkpoints(tmp_path, command, case):
    ckpt = tmp_path / "m.safetensors"
    if case == "corrupted":
        ckpt.write_bytes(b"\x93NUMPY" + bytes(500))
    elif case == "not_dnahnet":
        from safetensors.torch import save_file
        import torch

        save_file({"w": torch.zeros(3)}, str(ckpt))
    out = tmp_path / "out.txt"
    args = fasta_commands(PHIX, out).get(command, ["info"])
    args = [a if a != MODEL else str(ckpt) for a in args]
    if command == "info":
        args = ["info", "--model", str(ckpt)]
    result = invoke(args)
    expected = {"nonexistent": "no such checkpoint file", "corrupted": "not a safetensors checkpoint", "not_dnahnet": "not a dnahnet checkpoint"}[case]
    check_one_line(result, contains=expected)
    assert not out.exists()


@pytest.mark.parametrize("command", ["score", "boundaries", "essentiality", "score-vcf"])
def test_output_in_missing_directory(tmp_path, command):
    out = tmp_path / "no" / "such" / "dir" / "out.txt"
    result = invoke(fasta_commands(PHIX, out)[command])
    check_one_line(result)
    assert str(out.parent) in result.stderr or "does not exist" in result.stderr or "No such file" in result.stderr
    assert not out.parent.exists()


def test_train_output_in_unwritable_place(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = invoke(["train", "--fasta", PHIX, "--out", str(blocker / "run"), "--preset", "tiny", "--steps", "1", "--device", "cpu"])
    check_one_line(result)


def test_missing_or_unreadable_reference(tmp_path):
    out = tmp_path / "o.vcf"
    result = invoke(["score-vcf", VCF, "--reference", str(tmp_path / "missing.fa"), "--model", MODEL, "-o", str(out)])
    check_one_line(result, contains="missing.fa")
    assert not out.exists()
    vcf = tmp_path / "noref.vcf"
    vcf.write_text("\n".join(l for l in Path(VCF).read_text().splitlines() if not l.startswith("##reference")) + "\n")
    result = invoke(["score-vcf", str(vcf), "--model", MODEL, "-o", str(out)])
    check_one_line(result, contains="reference")


def test_missing_annotation_and_wrong_annotation_format(tmp_path):
    result = invoke(["essentiality", PHIX, "--annotation", str(tmp_path / "none.gff3"), "--model", MODEL])
    check_one_line(result, contains="none.gff3")
    junk = tmp_path / "junk.gff3"
    junk.write_text("this is not an annotation\n")
    result = invoke(["essentiality", PHIX, "--annotation", str(junk), "--model", MODEL])
    check_one_line(result, contains="junk.gff3")


def test_usage_errors_exit_2():
    result = invoke(["score"])
    assert result.exit_code == 2
    result = invoke(["boundaries", PHIX, "--stage", "7"])
    assert result.exit_code == 2


def test_debug_variable_shows_traceback(tmp_path):
    missing = str(tmp_path / "nope.fa")
    quiet = subprocess.run([sys.executable, "-m", "dnahnet_cli.main", "score", missing, "--model", MODEL], capture_output=True, text=True)
    loud = subprocess.run([sys.executable, "-m", "dnahnet_cli.main", "score", missing, "--model", MODEL], capture_output=True, text=True,
                          env={**__import__("os").environ, "DNAHNET_DEBUG": "1"})
    assert quiet.returncode == 1 and "Traceback" not in quiet.stderr
    assert loud.returncode == 1 and "Traceback" in loud.stderr


@pytest.mark.parametrize("command", ["info", "train", "score", "score-vcf", "essentiality", "boundaries"])
def test_help_has_what_defaults_and_example(command):
    result = invoke([command, "--help"])
    assert result.exit_code == 0
    text = result.stdout
    assert "Example:" in text and f"dnahnet {command}" in text
    if command in ("score-vcf", "essentiality", "boundaries"):
        assert "1-based" in text or "0-based" in text
