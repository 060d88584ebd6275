"""dnahnet generate: sampling with the incremental state, reproducibility, outputs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from Bio import SeqIO
from typer.testing import CliRunner

from dnahnet_cli.main import app
from dnahnet_core import encode
from dnahnet_core.generate import GenerationConfig, Prompt, filtered_probs, generate
from dnahnet_core.vocab import tokenize

runner = CliRunner()


def _prompt(seq: str, name: str = "p") -> Prompt:
    return Prompt(name, tokenize(seq))


def test_same_seed_same_sequences_whatever_the_batch_size(tiny_model, phix):
    prompts = [_prompt(phix[:120], "a"), _prompt(phix[3000:3050], "b")]
    runs = {}
    for bs in (1, 3):
        cfg = GenerationConfig(length=30, num_samples=3, seed=11, batch_size=bs)
        runs[bs] = [(g.prompt, g.sample, g.sequence) for g in generate(tiny_model, prompts, cfg)]
    assert runs[1] == runs[3]
    assert len({s for _, _, s in runs[1]}) == 6  # samples differ from each other
    other = [g.sequence for g in generate(tiny_model, prompts, GenerationConfig(length=30, num_samples=3, seed=12))]
    assert other != [s for _, _, s in runs[1]]


def test_greedy_generation_equals_recomputing_the_forward_pass(tiny_model, phix):
    """With the cache, each step must predict what a full forward over prompt + generated predicts."""
    prompt = phix[500:700]
    (g,) = generate(tiny_model, [_prompt(prompt)], GenerationConfig(length=40, temperature=0))
    seq = prompt
    with torch.no_grad():
        for t in range(40):
            logits = tiny_model(encode(seq).unsqueeze(0)).logits[0, -1, :4]
            assert int(g.ids[t]) == int(logits.argmax()), t
            seq += "ACGT"[int(g.ids[t])]
        full = tiny_model(encode(seq).unsqueeze(0))
    # Log-likelihood of the generated part, and its boundary decisions, as the forward pass sees them.
    logp = torch.log_softmax(full.logits[0, :-1], -1).gather(1, encode(seq)[1:, None])[:, 0]
    assert g.log_prob == pytest.approx(float(logp[-40:].double().sum()), abs=1e-4)
    r1, r2 = full.routing
    assert np.array_equal(g.boundary_mask[0], r1.boundary_mask[0, -40:].numpy())
    s1_in_gen = int(r1.boundary_mask[0, -40:].sum())
    assert np.array_equal(g.boundary_mask[1], r2.boundary_mask[0, int(r1.boundary_mask.sum()) - s1_in_gen:].numpy())


def test_filters_keep_only_the_likely_bases():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05, 0.0, 0.0]]) + 1e-12)
    assert filtered_probs(logits, GenerationConfig(top_k=2))[0].tolist() == pytest.approx([0.625, 0.375, 0, 0])
    assert filtered_probs(logits, GenerationConfig(top_p=0.75))[0].tolist() == pytest.approx([0.625, 0.375, 0, 0])
    assert filtered_probs(logits, GenerationConfig(top_p=0.5))[0].tolist() == pytest.approx([1, 0, 0, 0])
    assert filtered_probs(logits, GenerationConfig(temperature=0))[0].tolist() == [1, 0, 0, 0]
    hot = filtered_probs(logits, GenerationConfig(temperature=100))[0]
    assert hot.max() - hot.min() < 0.05  # a high temperature flattens towards uniform


def test_cli_writes_fasta_sidecar_and_boundaries(tmp_path, data_dir):
    prompts = tmp_path / "prompts.fa"
    seqs = {r.id: str(r.seq) for r in SeqIO.parse(data_dir / "phiX174.fa", "fasta")}
    prompts.write_text("".join(f">{k}\n{v[:150]}\n>second\n{v[1000:1100]}\n" for k, v in seqs.items()))
    out, bed = tmp_path / "gen.fa", tmp_path / "gen.bed"
    model = str(data_dir / "tiny_lambda.safetensors")
    args = ["generate", str(prompts), "--model", model, "-n", "50", "-k", "2", "--seed", "3", "--top-k", "3", "--device", "cpu"]
    result = runner.invoke(app, [*args, "-o", str(out), "--boundaries", str(bed)])
    assert result.exit_code == 0, result.output
    recs = list(SeqIO.parse(out, "fasta"))
    assert [r.id for r in recs] == ["NC_001422.1_sample1", "NC_001422.1_sample2", "second_sample1", "second_sample2"]
    assert all(len(r.seq) == 50 and set(str(r.seq)) <= set("ACGT") for r in recs)
    assert "prompt_length=150" in recs[0].description and "seed=3" in recs[0].description
    meta = json.loads((tmp_path / "gen.fa.json").read_text())
    assert meta["model_sha256"] and meta["top_k"] == 3 and meta["length"] == 50 and meta["num_samples"] == 2
    chunks = pd.read_csv(bed, sep="\t", header=None, names=["chrom", "start", "end", "name", "score", "strand"])
    for name, g in chunks.groupby("chrom"):
        for stage in ("s1", "s2"):
            c = g[g.name == stage].sort_values("start")
            assert c.start.iloc[0] == 0 and c.end.iloc[-1] == 50 and (c.start.to_numpy()[1:] == c.end.to_numpy()[:-1]).all()
        assert set(g[g.name == "s2"].start) <= set(g[g.name == "s1"].start)
    # Same seed to stdout: the same sequences.
    again = runner.invoke(app, args)
    assert again.exit_code == 0
    assert [str(r.seq) for r in recs] == [line for line in again.stdout.splitlines() if not line.startswith(">")]


def test_cli_without_prompts_starts_from_bos_and_rejects_bad_options(data_dir):
    model = str(data_dir / "tiny_lambda.safetensors")
    result = runner.invoke(app, ["generate", "--model", model, "-n", "30", "--temperature", "0"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith(">bos_sample1 prompt=bos prompt_length=0 length=30") and len(lines[1]) == 30
    assert runner.invoke(app, ["generate", "--model", model, "--top-k", "5"]).exit_code == 2
    assert runner.invoke(app, ["generate", "--model", model, "--top-p", "0"]).exit_code == 1
