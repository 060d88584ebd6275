"""The embedded default model: its card, `dnahnet info`, default use with provenance, packaging."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from dnahnet_cli.main import app
from dnahnet_core.card import ModelCard, attach_card, read_card
from dnahnet_core.checkpoint import file_checksum, load_model
from dnahnet_core.scoring.model_io import EMBEDDED_NAME, embedded_model_path, open_model

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()


def _card(**over) -> ModelCard:
    base = dict(name="t", preset="tiny", parameters=140_000, train_genomes=["A a (NC_1)", "B b (NC_2)"], val_genomes=["C c (NC_3)"],
                steps=150, nucleotides_seen=2_457_600, hardware="2-core CPU", train_hours=0.1, val_bits_per_base=1.95,
                markov_bits_per_base=2.0, markov_k=7, val_selection=[0.33, 0.5], codon_selection=[0.1, 0.4, 0.5],
                snv_auroc=0.7, markov_snv_auroc=0.6, missense_auroc=0.52, markov_missense_auroc=0.51,
                hierarchy_gap=[0.0012, -0.0003], inner_varying_share=0.1, codon_excess={"+": [0.01, -0.02, 0.0], "-": [0.0, 0.005, -0.01]},
                command="dnahnet train ...", limits=["tiny"])
    return ModelCard(**{**base, **over})


def test_attach_card_keeps_weights_and_round_trips(data_dir, tmp_path):
    src = data_dir / "tiny_lambda.safetensors"
    dst = attach_card(src, tmp_path / "carded.safetensors", _card())
    assert read_card(src) is None
    assert read_card(dst) == _card()
    a, b = load_file(str(src)), load_file(str(dst))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert file_checksum(dst) != file_checksum(src)  # the card is part of the file, so of its checksum


def test_info_model_prints_card_summary(data_dir, tmp_path):
    dst = attach_card(data_dir / "tiny_lambda.safetensors", tmp_path / "carded.safetensors", _card(val_bits_per_base=1.9321))
    result = runner.invoke(app, ["info", "--model", str(dst)])
    assert result.exit_code == 0, result.output
    assert "1.9321 bits/base vs 2.0000 for the best Markov chain (k=7)" in result.stdout
    assert "codon pos 1/2/3 stage-1 selection 10.0% / 40.0% / 50.0%" in result.stdout
    assert "stop-gained vs synonymous SNV AUROC 0.700 (Markov 0.600)" in result.stdout
    assert "missense vs synonymous SNV AUROC 0.520 (Markov 0.510)" in result.stdout
    assert "hierarchy gap  stage 1 +0.0012, stage 2 -0.0003 bits/base" in result.stdout
    assert "strand +: stage-1 starts at codon pos 1/2/3 minus frame-free control +1.0 / -2.0 / +0.0 points" in result.stdout
    assert "strand -: stage-1 starts at codon pos 1/2/3 minus frame-free control +0.0 / +0.5 / -1.0 points" in result.stdout


def test_card_written_before_the_hierarchy_fields_still_reads(data_dir, tmp_path):
    # Cards of earlier releases lack the hierarchy and missense fields: they read with defaults.
    old = {k: v for k, v in json.loads(_card().to_json()).items()
           if k not in {"missense_auroc", "markov_missense_auroc", "hierarchy_gap", "inner_varying_share", "codon_excess"}}
    card = ModelCard.from_json(json.dumps(old))
    assert card.hierarchy_gap == [] and card.missense_auroc is None
    assert not any("hierarchy gap" in line or "missense" in line for line in card.summary_lines())


def test_info_model_without_card_says_so(data_dir):
    result = runner.invoke(app, ["info", "--model", str(data_dir / "tiny_lambda.safetensors")])
    assert result.exit_code == 0 and "model card     none" in result.stdout


# -- the shipped model ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def embedded() -> Path:
    path = embedded_model_path()
    assert path is not None, "the package must ship dnahnet_core/models/dnahnet-small-prok.safetensors"
    return path


def test_embedded_model_is_small_and_carries_its_card(embedded):
    assert embedded.stat().st_size < 15 * 2**20
    card = read_card(embedded)
    assert card is not None and card.name == EMBEDDED_NAME
    model = load_model(embedded)
    assert model.num_parameters() == card.parameters
    assert len(model.config.ratio_targets) == 2  # two recursive chunking stages
    # The card states the quality bar that the model was released under.
    assert card.val_bits_per_base < card.markov_bits_per_base
    assert card.val_genomes and set(card.val_genomes).isdisjoint(card.train_genomes)


def test_info_without_options_describes_embedded_model(embedded):
    result = runner.invoke(app, ["info"])
    assert result.exit_code == 0, result.output
    assert f"embedded model {EMBEDDED_NAME}" in result.stdout
    assert file_checksum(embedded)[:16] in result.stdout
    assert "bits/base vs" in result.stdout and "trained on" in result.stdout


def test_boundaries_uses_embedded_model_by_default_and_names_it(embedded, data_dir):
    result = subprocess.run([sys.executable, "-m", "dnahnet_cli.main", "boundaries", str(data_dir / "phiX174.fa"), "--device", "cpu"],
                            capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})
    assert result.returncode == 0, result.stderr
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert rows and all(r[0] == "NC_001422.1" and r[3] in ("s1", "s2") for r in rows)
    stage1 = [r for r in rows if r[3] == "s1"]
    # Stage-1 chunks tile the genome: the trained router cuts it into chunks of a few bases.
    assert int(stage1[0][1]) == 0 and int(stage1[-1][2]) == 5386
    assert 5386 / len(stage1) < 10
    prov = json.loads(result.stderr.split("dnahnet: provenance: ", 1)[1].splitlines()[0])
    assert prov["model"] == EMBEDDED_NAME and prov["model_sha256"] == file_checksum(embedded)


def test_open_model_default_is_embedded(embedded):
    loaded = open_model(None)
    assert loaded.name == EMBEDDED_NAME and loaded.path == embedded


def test_wheel_carries_the_model(embedded, tmp_path):
    """A plain (non-editable) install gets the model: build the wheel from a copy of the sources."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    for pkg in ("dnahnet_core", "dnahnet_cli"):
        shutil.copytree(REPO / pkg, src / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path / "dist"), str(src)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    (wheel,) = (tmp_path / "dist").glob("dnahnet-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        data = zf.read(f"dnahnet_core/models/{EMBEDDED_NAME}.safetensors")
    assert hashlib.sha256(data).hexdigest() == file_checksum(embedded)


def test_score_uses_embedded_model_by_default(embedded, data_dir, tmp_path):
    out = tmp_path / "scores.tsv"
    result = runner.invoke(app, ["score", str(data_dir / "phiX174.fa"), "--device", "cpu", "-o", str(out)])
    assert result.exit_code == 0, result.output
    header = [line for line in out.read_text().splitlines() if line.startswith("#")]
    assert f"# model: {EMBEDDED_NAME}" in header and f"# model_sha256: {file_checksum(embedded)}" in header
    row = out.read_text().splitlines()[-1].split("\t")
    # A trained model: below 2 bits per base on a genome it never saw (uniform guessing is 2).
    assert row[0] == "NC_001422.1" and 1.5 < float(row[5]) < 2.0
