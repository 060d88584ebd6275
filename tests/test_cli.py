"""The Typer app's entry points: --version and info."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from dnahnet_cli.main import app
from dnahnet_core.version import __version__

runner = CliRunner()


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"dnahnet {__version__}"


def test_info_preset_prints_layout_and_stage_counts():
    result = runner.invoke(app, ["info", "--preset", "small"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert '["m2", ["m2", ["T4"], "m2"], "m2"]' in out
    for stage in ("stage 0", "stage 1", "stage 2"):
        assert stage in out
    assert "parameters     2,659,944" in out


def test_info_unknown_preset_is_one_line_exit_1():
    result = subprocess.run(
        [sys.executable, "-m", "dnahnet_cli.main", "info", "--preset", "nope"], capture_output=True, text=True
    )
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "unknown preset 'nope'" in result.stderr
    assert "Traceback" not in result.stderr


def test_info_bad_checkpoint(tmp_path):
    bad = tmp_path / "x.safetensors"
    bad.write_bytes(b"garbage")
    result = subprocess.run([sys.executable, "-m", "dnahnet_cli.main", "info", "--model", str(bad)], capture_output=True, text=True)
    assert result.returncode == 1 and "not a safetensors checkpoint" in result.stderr and "Traceback" not in result.stderr


def test_device_default_comes_from_environment(data_dir):
    """DNAHNET_DEVICE sets --device for every command (the test suite itself pins it to cpu)."""
    args = ["score", str(data_dir / "phiX174.fa"), "--model", str(data_dir / "tiny_lambda.safetensors")]
    bad = runner.invoke(app, args, env={"DNAHNET_DEVICE": "tpu"})
    assert bad.exit_code == 2 and "tpu" in bad.output
    good = runner.invoke(app, args, env={"DNAHNET_DEVICE": "cpu"})
    assert good.exit_code == 0 and good.stdout.splitlines()[-1].startswith("NC_001422.1\t5386")
