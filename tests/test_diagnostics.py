"""Hierarchy diagnostics compute what they claim: gaps, inner-network health, codon phasing vs control."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dnahnet_core import DnaHNet, ModelConfig, encode
from dnahnet_core.data.windows import Batch
from dnahnet_core.diagnostics import (
    codon_phasing,
    hierarchy_diagnostics,
    innermost_stack,
    replaced_dechunk,
    stage_grad_norms,
)
from dnahnet_core.losses import lm_loss
from dnahnet_core.train.init import init_weights
from dnahnet_core.vocab import reverse_complement_ids, tokenize


def _batch(seq: str, starts: list[int], n: int) -> Batch:
    ids = torch.stack([encode(seq[s : s + n]) for s in starts])
    return Batch(ids=ids, lengths=torch.full((len(starts),), n + 1))


@pytest.fixture
def trained_like(tiny_model):
    """The tiny model with weights that make its inner stages matter (a random model barely does)."""
    torch.manual_seed(3)
    with torch.no_grad():
        for stage in (tiny_model.backbone, tiny_model.backbone.main):
            stage.router.q_proj.weight.add_(0.3 * torch.randn_like(stage.router.q_proj.weight))
        innermost_stack(tiny_model).norm.weight.mul_(5.0)
    return tiny_model


def test_a_constant_inner_output_has_zero_gap(tiny_model, lambda_seq):
    with torch.no_grad():
        innermost_stack(tiny_model).norm.weight.zero_()  # the inner network hands back zeros everywhere
    d = hierarchy_diagnostics(tiny_model, [_batch(lambda_seq, [0, 9000, 20000], 700)])
    for g in d.gaps:
        assert g.gap_mean == pytest.approx(0.0, abs=1e-9) and g.gap_swap == pytest.approx(0.0, abs=1e-9)


def test_gap_is_positive_when_the_inner_output_carries_signal(trained_like, lambda_seq):
    d = hierarchy_diagnostics(trained_like, [_batch(lambda_seq, [0, 9000, 20000], 700)])
    # A random model is no better with its own inner output than with another window's, but it differs.
    assert d.gaps[0].gap_mean > 1e-3 and abs(d.gaps[0].gap_swap) > 1e-4
    # The gap is the difference of two real bits-per-base figures.
    assert d.gaps[0].bpb_mean == pytest.approx(d.bits_per_base + d.gaps[0].gap_mean)


def test_swapping_identical_windows_changes_nothing(trained_like, lambda_seq):
    d = hierarchy_diagnostics(trained_like, [_batch(lambda_seq, [4000, 4000], 600)])
    assert all(abs(g.gap_swap) < 1e-6 for g in d.gaps)
    assert d.gaps[0].gap_mean > 1e-3


def test_mean_replacement_is_the_per_window_mean_over_real_positions(trained_like, lambda_seq):
    """A padded window gets the mean of its real positions only: the same bits per base as alone."""
    long_, short = lambda_seq[:600], lambda_seq[9000:9300]
    ids = torch.full((2, 601), 4, dtype=torch.long)
    ids[0] = encode(long_)
    ids[1, :301] = encode(short)
    batch = Batch(ids=ids, lengths=torch.tensor([601, 301]))
    alone = _batch(short, [0], 300)
    with torch.no_grad(), replaced_dechunk(trained_like, 1, "mean"):
        padded = lm_loss(trained_like(batch.ids, lengths=batch.lengths), batch.ids)
        single = lm_loss(trained_like(alone.ids, lengths=alone.lengths), alone.ids)
        first = lm_loss(trained_like(batch.ids[:1], lengths=batch.lengths[:1]), batch.ids[:1])
    assert float(padded.nll_sum) == pytest.approx(float(single.nll_sum) + float(first.nll_sum), rel=1e-5)


def test_inner_share_is_zero_for_a_constant_stream_and_high_for_a_random_model(tiny_model, lambda_seq):
    batch = _batch(lambda_seq, [0, 9000], 500)
    assert hierarchy_diagnostics(tiny_model, [batch]).inner.varying_share > 0.3
    stack = innermost_stack(tiny_model)
    handle = stack.norm.register_forward_pre_hook(lambda m, args: (torch.ones_like(args[0]) * 3.0,))
    try:
        d = hierarchy_diagnostics(tiny_model, [batch])
    finally:
        handle.remove()
    assert d.inner.varying_share == pytest.approx(0.0, abs=1e-6) and d.inner.rms == pytest.approx(3.0, rel=1e-5)


def test_stage_grad_norms_split_the_total(tiny_model, phix_ids):
    model = tiny_model.train()
    lm_loss(model(phix_ids[:, :500]), phix_ids[:, :500]).loss.backward()
    norms = stage_grad_norms(model)
    total = torch.sqrt(sum(p.grad.pow(2).sum() for p in model.parameters() if p.grad is not None))
    assert len(norms) == 3 and all(n > 0 for n in norms)
    assert float(np.sqrt(np.sum(np.square(norms)))) == pytest.approx(float(total), rel=1e-5)


def test_hnet_init_scales_residual_outputs_and_keeps_the_hnet_mechanics():
    torch.manual_seed(0)
    model = init_weights(DnaHNet(ModelConfig.preset("small")), "hnet")
    stage0 = model.backbone
    assert torch.equal(stage0.router.q_proj.weight, torch.eye(96))  # routers stay the identity
    assert (stage0.residual_proj.weight == 0).all()
    inner = innermost_stack(model)
    assert inner.layers[0].mixer.Wqkv.weight.std().item() == pytest.approx(0.02, rel=0.05)
    # Residual output projections: 0.02 / sqrt(2 x 4 layers).
    assert inner.layers[0].mlp.fc2.weight.std().item() == pytest.approx(0.02 / np.sqrt(8), rel=0.05)
    assert model.embeddings.weight.std().item() == pytest.approx(1.0, rel=0.05)


# ---- codon phasing -------------------------------------------------------------------------------


def _genes_and_genome(seed: int = 0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, 4, size=30_000).astype(np.uint8)
    genes = [(1000 + 3000 * i, 1000 + 3000 * i + 1500, "+" if i % 2 == 0 else "-") for i in range(9)]
    return ids, genes


def _starts_at_codon_position_1(ids, genes):
    """Chunk starts exactly at the first base of every codon, each gene read 5'->3'."""
    L = ids.size
    fwd, rev = np.zeros(L, bool), np.zeros(L, bool)
    for a, b, strand in genes:
        if strand == "+":
            fwd[a:b:3] = True
        else:
            rev[L - b : L - a : 3] = True
    return fwd, rev


def test_codon_phasing_sees_frame_locked_starts_on_both_strands():
    ids, genes = _genes_and_genome()
    fwd, rev = _starts_at_codon_position_1(ids, genes)
    result = codon_phasing(ids, fwd, rev, genes)
    for st in result.strands:
        assert st.genes == (5 if st.strand == "+" else 4)
        assert st.observed == [1.0, 0.0, 0.0]
        assert st.excess[0] > 0.5 and st.excess[1] < 0 and st.excess[2] < 0


def test_a_frame_free_rule_has_zero_excess():
    """Boundaries that depend only on the last three bases are exactly what the control predicts."""
    ids, genes = _genes_and_genome(1)
    rc = reverse_complement_ids(ids)

    def rule(seq):
        prev = np.concatenate([[4], seq[:-1]])
        return (seq == tokenize("T")[0]) & (prev != tokenize("G")[0])

    result = codon_phasing(ids, rule(ids), rule(rc), genes)
    for st in result.strands:
        np.testing.assert_allclose(st.excess, 0.0, atol=1e-12)
        assert max(st.observed) - min(st.observed) > 0.0  # the rule is uneven across positions anyway


def test_info_eval_reports_gaps_health_and_codon_phasing(data_dir):
    from typer.testing import CliRunner

    from dnahnet_cli.main import app

    result = CliRunner().invoke(app, ["info", "--model", str(data_dir / "tiny_lambda.safetensors"), "--eval",
                                      str(data_dir / "lambda_phage.fa"), "--eval-windows", "4"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "32,768 bases in 4 windows of up to 8,192" in out  # 4 of the 6 tiles of lambda
    assert "stage 1 gap" in out and "stage 2 gap" in out and "inner network" in out
    result = CliRunner().invoke(app, ["info", "--model", str(data_dir / "tiny_lambda.safetensors"), "--eval",
                                      str(data_dir / "phiX174.fa"), "--annotation", str(data_dir / "phiX174.gff3")])
    assert result.exit_code == 0, result.output
    assert "strand + (8 genes)" in result.stdout and "n/a (one window)" in result.stdout
