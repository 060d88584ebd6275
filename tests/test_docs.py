"""Generated documentation: man pages and shell completions are current, complete and render."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from dnahnet_cli.docgen import ROOT, commands, generated_files, main

MAN_OK = shutil.which("man") is not None


def test_committed_files_are_current():
    assert main(["--check"]) == 0, "run: python -m dnahnet_cli.docgen"


def test_stale_files_are_detected(tmp_path):
    main(["--root", str(tmp_path)])
    assert main(["--root", str(tmp_path), "--check"]) == 0
    page = tmp_path / "man" / "dnahnet-score.1"
    page.write_text(page.read_text().replace("context", "kontext"))
    assert main(["--root", str(tmp_path), "--check"]) == 1


def test_every_command_and_option_is_documented():
    files = generated_files()
    cmds = commands()
    names = {c.name for c in cmds}
    assert {"dnahnet", "info", "train", "score"} <= names
    for c in cmds:
        page = files[Path("man") / ("dnahnet.1" if c.name == "dnahnet" else f"dnahnet-{c.name}.1")]
        for o in c.options:
            for n in o.names:
                assert n.replace("-", "\\-") in page, (c.name, n)
        if c.name != "dnahnet":
            assert "dnahnet\\-" + c.name.replace("-", "\\-") in files[Path("man/dnahnet.1")]
            for shell in ("completions/dnahnet.bash", "completions/_dnahnet", "completions/dnahnet.fish"):
                assert c.name in files[Path(shell)]
                for o in c.options:
                    assert o.names[0].lstrip("-") in files[Path(shell)], (shell, c.name, o.names[0])


def test_bash_completion_is_valid_and_completes(tmp_path):
    script = ROOT / "completions" / "dnahnet.bash"
    probe = f'source {script}; COMP_WORDS=(dnahnet score --bo); COMP_CWORD=2; _dnahnet; echo "${{COMPREPLY[@]}}"'
    out = subprocess.run(["bash", "-c", probe], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.split() == ["--both-strands"]
    probe = f'source {script}; COMP_WORDS=(dnahnet sc); COMP_CWORD=1; _dnahnet; echo "${{COMPREPLY[@]}}"'
    assert set(subprocess.run(["bash", "-c", probe], capture_output=True, text=True).stdout.split()) >= {"score"}


@pytest.mark.skipif(not MAN_OK, reason="man is not installed")
def test_man_pages_render():
    for page in sorted((ROOT / "man").glob("*.1")):
        out = subprocess.run(["man", "-l", "-Tutf8", str(page)], capture_output=True, text=True, env={"MANWIDTH": "100", "PATH": "/usr/bin:/bin"})
        assert out.returncode == 0, (page, out.stderr)
        assert "warning" not in out.stderr.lower(), (page, out.stderr)
        text = re.sub(".\x08", "", out.stdout)  # drop nroff's overstrike bold
        assert "OPTIONS" in text and "EXIT STATUS" in text
