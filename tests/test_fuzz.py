"""Fuzzing: random corruptions of real FASTA, VCF, GFF3 and GenBank files, fed to every reader and
every command. Each outcome must be a result, a per-record status or one clear error line (exit 1)
-- never a crash, a hang or a traceback. A bounded, reproducible number of examples here; the longer
randomised run is ``benchmarks/fuzz_inputs.py``."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import pytest
from fuzzing import edits, write_corrupted
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from dnahnet_cli.main import app
from dnahnet_core.data.annotation import read_annotation
from dnahnet_core.data.fasta import read_fasta
from dnahnet_core.data.vcf import VcfReader
from dnahnet_core.errors import DnaHNetError

DATA = Path(__file__).parent / "data"
EXAMPLES = Path(__file__).parent.parent / "examples"
MODEL = DATA / "tiny_lambda.safetensors"
COMPRESS = st.sampled_from(["", "", "gzip", "gzip_cut"])
READER_SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
COMMAND_SETTINGS = settings(max_examples=6, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


def _consume_fasta(path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for rec in read_fasta(path):
            assert rec.ids.dtype.kind == "u"


def _consume_vcf(path: Path) -> None:
    reader = VcfReader(path)
    try:
        for variant, line in reader.records():
            assert isinstance(variant.pos, int) and line
    finally:
        reader.close()


def _consume_annotation(path: Path) -> None:
    for gene in read_annotation(path).genes:
        assert gene.end0 >= gene.start0


READERS = {
    "fasta": (_consume_fasta, DATA / "phiX174.fa"),
    "vcf": (_consume_vcf, EXAMPLES / "phiX174_variants.vcf"),
    "gff3": (_consume_annotation, DATA / "phiX174.gff3"),
    "genbank": (_consume_annotation, DATA / "phiX174.gbk"),
}


@pytest.mark.parametrize("kind", list(READERS))
@READER_SETTINGS
@given(plan=edits(), compress=COMPRESS)
@example(plan=[("insert_bytes", 0.1, b"\x87\xfas-\x1bM")], compress="")  # a non-UTF-8 byte in a VCF header
@example(plan=[("truncate", 0.49, b"x"), ("insert_bytes", 0.99999, b"\xd8\xa8a")], compress="gzip")  # broken plain gzip
def test_readers_return_records_or_one_input_error(kind, plan, compress):
    consume, src = READERS[kind]
    with tempfile.TemporaryDirectory() as tmp:
        path = write_corrupted(src, Path(tmp), plan, compress)
        try:
            consume(path)
        except DnaHNetError as err:
            assert str(err).strip() and "\n" not in str(err).strip(), str(err)


def _command(kind: str, path: Path, tmp: Path) -> list[str]:
    out = str(tmp / "out")
    common = ["--model", str(MODEL), "--device", "cpu"]
    if kind == "score":
        return ["score", str(path), *common, "--context", "512", "-o", out + ".tsv"]
    if kind == "boundaries":
        return ["boundaries", str(path), *common, "--context", "512", "-o", out + ".bed"]
    if kind == "generate":
        return ["generate", str(path), *common, "-n", "3", "-o", out + ".fa"]
    if kind == "score-vcf":
        return ["score-vcf", str(path), "--reference", str(DATA / "phiX174.fa"), *common, "--window", "32",
                "--strand", "forward", "-o", out + ".tsv"]
    if kind == "essentiality-gff3":
        return ["essentiality", str(DATA / "phiX174.fa"), "--annotation", str(path), *common, "--window", "256", "-o", out + ".tsv"]
    return ["essentiality", str(DATA / "phiX174.fa"), "--annotation", str(path), *common, "--window", "256", "-o", out + ".tsv"]


COMMANDS = {
    "score": DATA / "phiX174.fa",
    "boundaries": DATA / "phiX174.fa",
    "generate": DATA / "phiX174.fa",
    "score-vcf": EXAMPLES / "phiX174_variants.vcf",
    "essentiality-gff3": DATA / "phiX174.gff3",
    "essentiality-genbank": DATA / "phiX174.gbk",
}


def check_outcome(exit_code: int, stderr: str) -> None:
    """0, or 1 with one 'dnahnet: error:' line that is not an internal error."""
    assert exit_code in (0, 1), (exit_code, stderr[-2000:])
    if exit_code == 1:
        lines = [line for line in stderr.splitlines() if line.startswith("dnahnet: error:")]
        assert len(lines) == 1, stderr[-2000:]
        assert "DNAHNET_DEBUG" not in lines[0], lines[0]  # an unexpected exception, not an input error
    assert "Traceback" not in stderr


@pytest.mark.parametrize("kind", list(COMMANDS))
@COMMAND_SETTINGS
@given(plan=edits(max_edits=3), compress=st.sampled_from(["", "gzip_cut"]))
def test_commands_give_a_result_a_status_or_one_error_line(kind, plan, compress):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        path = write_corrupted(COMMANDS[kind], tmp, plan, compress)
        result = CliRunner().invoke(app, _command(kind, path, tmp))
        check_outcome(result.exit_code, result.stderr)
        if result.exit_code == 1:
            assert not [p for p in tmp.glob("out*") if not p.name.endswith(".json")], "partial output left behind"
