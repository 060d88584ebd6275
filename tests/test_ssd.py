"""The chunked SSD scan and the dechunk EMA against naive sequential recurrences in float64."""

from __future__ import annotations

import pytest
import torch

from dnahnet_core.ops.ssd import ema_torch, segment_decay, ssd_scan_torch


def naive_ssd(x, dt, A, B, C):
    """h_t = exp(dt_t A) h_{t-1} + dt_t x_t B_t^T ; y_t = h_t C_t, one position at a time."""
    b, l, h, p = x.shape
    g, n = B.shape[2:]
    rep = h // g
    state = torch.zeros(b, h, p, n, dtype=torch.float64)
    ys = []
    for t in range(l):
        Bt = B[:, t].repeat_interleave(rep, dim=1)  # (b,h,n)
        Ct = C[:, t].repeat_interleave(rep, dim=1)
        decay = torch.exp(dt[:, t] * A)  # (b,h)
        state = decay[..., None, None] * state + (dt[:, t, :, None, None] * x[:, t, :, :, None]) * Bt[:, :, None, :]
        ys.append(torch.einsum("bhpn,bhn->bhp", state, Ct))
    return torch.stack(ys, dim=1)


def naive_ema(z, p):
    out, prev = [], torch.zeros_like(z[:, 0])
    for k in range(z.shape[1]):
        prev = p[:, k, None] * z[:, k] + (1 - p[:, k, None]) * prev
        out.append(prev)
    return torch.stack(out, dim=1)


@pytest.mark.parametrize("l,chunk,h,g", [(1, 4, 2, 1), (37, 8, 4, 1), (64, 16, 4, 2), (130, 32, 2, 2)])
def test_ssd_matches_sequential_recurrence(l, chunk, h, g):
    gen = torch.Generator().manual_seed(l)
    b, p, n = 2, 5, 3
    x = torch.randn(b, l, h, p, generator=gen, dtype=torch.float64)
    dt = torch.nn.functional.softplus(torch.randn(b, l, h, generator=gen, dtype=torch.float64))
    A = -torch.rand(h, generator=gen, dtype=torch.float64) * 4
    B = torch.randn(b, l, g, n, generator=gen, dtype=torch.float64)
    C = torch.randn(b, l, g, n, generator=gen, dtype=torch.float64)
    got = ssd_scan_torch(x, dt, A, B, C, chunk)
    assert got.dtype == torch.float64
    torch.testing.assert_close(got, naive_ssd(x, dt, A, B, C), rtol=1e-10, atol=1e-10)


def test_ssd_float32_close_to_float64():
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(1, 300, 4, 8, generator=gen, dtype=torch.float64)
    dt = torch.rand(1, 300, 4, generator=gen, dtype=torch.float64)
    A = -torch.rand(4, generator=gen, dtype=torch.float64) * 8
    B = torch.randn(1, 300, 1, 4, generator=gen, dtype=torch.float64)
    C = torch.randn(1, 300, 1, 4, generator=gen, dtype=torch.float64)
    ref = ssd_scan_torch(x, dt, A, B, C, 64)
    got = ssd_scan_torch(*(t.float() for t in (x, dt, A, B, C)), 64)
    assert (got.double() - ref).norm() / ref.norm() < 1e-5


def test_segment_decay_is_exp_of_segment_sums():
    a = -torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64)
    d = segment_decay(a, torch.float64)
    assert d[3, 1] == torch.exp(torch.tensor(-7.0, dtype=torch.float64)) and d[2, 2] == 1.0
    assert d[1, 2] == 0.0 and (d.triu(1) == 0).all()  # exact zeros above the diagonal


@pytest.mark.parametrize("k,chunk", [(1, 8), (50, 16), (257, 64)])
def test_ema_matches_sequential_recurrence(k, chunk):
    gen = torch.Generator().manual_seed(k)
    z = torch.randn(3, k, 7, generator=gen, dtype=torch.float64)
    p = torch.rand(3, k, generator=gen, dtype=torch.float64).clamp(1e-4, 1 - 1e-4)
    torch.testing.assert_close(ema_torch(z, p, chunk), naive_ema(z, p), rtol=1e-10, atol=1e-10)


def test_ema_long_sequence_extreme_probabilities_stays_finite():
    # A plain cumulative product of (1-p) underflows here; the chunked scan must not.
    k = 5000
    gen = torch.Generator().manual_seed(0)
    p = torch.where(torch.rand(1, k, generator=gen) < 0.5, 1 - 1e-4, 1e-4).double()
    z = torch.randn(1, k, 4, generator=gen, dtype=torch.float64)
    ref = naive_ema(z, p)
    got32 = ema_torch(z.float(), p.float(), 64)
    assert torch.isfinite(got32).all()
    assert (got32.double() - ref).abs().max() < 1e-4
