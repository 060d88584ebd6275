"""Incremental inference (design §1.5b): prefill and step from a state equal the full forward pass."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dnahnet_core import DnaHNet, ModelConfig, encode

TOL = dict(rtol=1e-5, atol=1e-5)


def _perturbed(model: DnaHNet, seed: int = 3) -> DnaHNet:
    """Routers away from the identity: more varied decisions at both stages than a fresh model."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        node = model.backbone
        while not node.is_innermost:
            node.router.q_proj.weight.add_(0.3 * torch.randn(node.router.q_proj.weight.shape, generator=g))
            node = node.main
    return model


def _split_run(model: DnaHNet, ids: torch.Tensor, a: int, b: int):
    """prefill(ids[:a]), prefill(ids[a:b]), then one step per token to the end. Returns logits (L, V)
    and the decisions of every stage in sequence order (stage s: one per stage-(s-1) chunk)."""
    n_stages = model.config.n_stages
    logits, decisions = [], [[] for _ in range(n_stages)]
    state = None
    for lo, hi in ((0, a), (a, b)):
        if hi <= lo:
            continue
        out, state = model.prefill(ids[:, lo:hi], state)
        logits.append(out.logits[0])
        keep = torch.ones(hi - lo, dtype=torch.bool)
        for s, r in enumerate(out.routing):
            m = r.boundary_mask[0][: int(keep.sum())] if s else r.boundary_mask[0]
            decisions[s].append(m)
            keep = m
    for t in range(b, ids.shape[1]):
        out, state = model.step(ids[:, t], state)
        logits.append(out.logits)
        reached = True
        for s in range(n_stages):
            if reached:
                decisions[s].append(out.decisions.mask[s])
            reached = reached and bool(out.decisions.mask[s][0])
    return torch.cat(logits), [torch.cat(d) for d in decisions], state


def _forward_decisions(out) -> list[torch.Tensor]:
    return [r.boundary_mask[0][r.mask[0]] for r in out.routing]


CUTS = [(1, 2), (1, 400), (64, 65), (150, 300), (333, 334), (399, 400), (400, 400)]


@pytest.mark.parametrize("a, b", CUTS)
def test_prefill_prefill_steps_equal_forward(tiny_model, phix, a, b):
    model = _perturbed(tiny_model)
    ids = encode(phix[1000:1400]).unsqueeze(0)  # BOS + 400 nt
    with torch.no_grad():
        ref = model(ids)
        logits, decisions, state = _split_run(model, ids, a, b)
    torch.testing.assert_close(logits, ref.logits[0], **TOL)
    for s, (got, want) in enumerate(zip(decisions, _forward_decisions(ref))):
        assert torch.equal(got, want), f"stage {s + 1}"
    assert int(state.position[0]) == ids.shape[1]


def test_random_cut_points_on_the_untouched_model(tiny_model, lambda_seq):
    rng = np.random.default_rng(7)
    ids = encode(lambda_seq[20000:20400]).unsqueeze(0)
    with torch.no_grad():
        ref = tiny_model(ids)
        for _ in range(3):
            a, b = sorted(int(x) for x in rng.integers(1, ids.shape[1], size=2))
            logits, decisions, _ = _split_run(tiny_model, ids, a, b)
            torch.testing.assert_close(logits, ref.logits[0], **TOL)
            assert all(torch.equal(g, w) for g, w in zip(decisions, _forward_decisions(ref)))


def test_rows_of_different_lengths_each_at_its_own_position(tiny_model, phix):
    """A right-padded prefill of three rows, then steps of each row alone from the shared state."""
    model = _perturbed(tiny_model)
    seqs = [phix[:300], phix[2000:2230], phix[4000:4150]]
    prompts = [170, 230, 10]  # row 1 has no tokens left to step; padding must not touch the state
    ids = torch.full((3, max(prompts) + 1), 4, dtype=torch.long)
    for j, (s, n) in enumerate(zip(seqs, prompts)):
        ids[j, : n + 1] = encode(s[:n])
    with torch.no_grad():
        out, state = model.prefill(ids, lengths=torch.tensor(prompts) + 1)
        for j, s in enumerate(seqs):
            full = encode(s).unsqueeze(0)
            ref = model(full).logits[0]
            n = prompts[j] + 1
            torch.testing.assert_close(out.logits[j, :n], ref[:n], **TOL)
            for t in range(n, full.shape[1]):  # row j advances while the others wait
                step, state = model.step(full[:, t], state, rows=torch.tensor([j]))
                torch.testing.assert_close(step.logits[0], ref[t], **TOL)
        assert state.position.tolist() == [len(s) + 1 for s in seqs]


def test_branches_from_one_state_equal_independent_forwards(tiny_model, lambda_seq):
    model = _perturbed(tiny_model)
    prefix, tails = lambda_seq[:300], [lambda_seq[300:400], lambda_seq[9000:9100]]
    with torch.no_grad():
        _, state = model.prefill(encode(prefix).unsqueeze(0))
        kept = state.clone()
        both = state.repeat(2)  # two rows from one shared prefix
        tail_ids = torch.stack([encode(t, bos=False) for t in tails])  # (2, 100)
        out, both = model.prefill(tail_ids, both)
        for j, tail in enumerate(tails):
            ref = model(encode(prefix + tail).unsqueeze(0)).logits[0, 301:]
            torch.testing.assert_close(out.logits[j], ref, **TOL)
        # The clone was left alone: stepping it reproduces the first branch token by token.
        ref0 = model(encode(prefix + tails[0]).unsqueeze(0)).logits[0, 301:]
        for t in range(100):
            step, kept = model.step(tail_ids[:1, t], kept)
            torch.testing.assert_close(step.logits[0], ref0[t], **TOL)
        sel = both.select([1])
        assert sel.batch_size == 1 and int(sel.position[0]) == 401


@pytest.mark.parametrize("layout", ["windowed", "one_stage", "isotropic"])
def test_other_layouts_are_exact_too(layout, lambda_seq):
    torch.manual_seed(0)
    if layout == "windowed":  # sliding-window attention at stage 0, attention inside
        cfg = ModelConfig(layout=["t1m1", ["m1", ["T2"], "m1"], "m1"], d_model=[32, 48, 64], d_intermediate=[0, 0, 128],
                          num_heads=[2, 2, 4], attn_window=[16, 0, 0], ratio_targets=[3.0, 2.0], ssm_headdim=16)
    elif layout == "one_stage":
        cfg = ModelConfig(layout=["m1", ["T2"], "m1"], d_model=[32, 64], d_intermediate=[0, 128], num_heads=[2, 4],
                          attn_window=[0, 0], ratio_targets=[3.0], ssm_headdim=16)
    else:
        cfg = ModelConfig(layout=["m1T1"], d_model=[32], d_intermediate=[64], num_heads=[2], attn_window=[0],
                          ratio_targets=[], ssm_headdim=16)
    model = _perturbed(DnaHNet(cfg, backend="torch").eval())
    ids = encode(lambda_seq[5000:5300]).unsqueeze(0)
    with torch.no_grad():
        ref = model(ids)
        logits, decisions, _ = _split_run(model, ids, 37, 250)
    torch.testing.assert_close(logits, ref.logits[0], **TOL)
    assert all(torch.equal(g, w) for g, w in zip(decisions, _forward_decisions(ref)))


def test_state_memory_grows_with_the_kv_caches_only(tiny_model, phix):
    with torch.no_grad():
        _, short = tiny_model.prefill(encode(phix[:100]).unsqueeze(0))
        _, long_ = tiny_model.prefill(encode(phix[:2000]).unsqueeze(0))
    assert long_.nbytes > short.nbytes  # the innermost attention caches hold one entry per chunk
