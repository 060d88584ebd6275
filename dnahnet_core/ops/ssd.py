"""Chunked state-space-duality (SSD) scan in pure PyTorch: the reference and the CPU path.

Computes, per head, the scalar-decay recurrence
    h_t = exp(a_t) h_{t-1} + B_t X_t^T,     y_t = h_t C_t
with X (b, l, h, p), a (b, l, h) <= 0, B and C (b, l, g, n). Inside a chunk of Q positions the
recurrence is evaluated as a masked (Q x Q) matrix product; between chunks the (h, p, n) state is
carried forward. The carry is a short loop over chunks (L / Q steps, not over positions) on purpose:
each chunk's output then depends only on earlier chunks through elementwise ops, so outputs before
a change are bit-identical regardless of what follows (the model's causality guarantee), and its
cost is O(L) rather than the O((L/Q)^2) of a chunk-level matrix.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def segsum(a: torch.Tensor) -> torch.Tensor:
    """Stable segment sums: out[..., i, j] = sum_{j < k <= i} a[..., k]; -inf above the diagonal.

    Built by masked cumulative sums rather than differences of one cumsum, which would lose
    precision when the running sum is large (strong decays over a long chunk).
    """
    T = a.size(-1)
    x = a.unsqueeze(-1).expand(*a.shape, T)  # x[..., k, j] = a[..., k]
    strict = torch.ones(T, T, dtype=torch.bool, device=a.device).tril(-1)
    x = x.masked_fill(~strict, 0.0)
    out = torch.cumsum(x, dim=-2)
    return out.masked_fill(~torch.ones(T, T, dtype=torch.bool, device=a.device).tril(), float("-inf"))


def ssd_chunked(
    X: torch.Tensor,
    log_decay: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    chunk_size: int,
    initial_state: torch.Tensor | None = None,
) -> torch.Tensor:
    """Chunked scan. X (b,l,h,p), log_decay (b,l,h), B/C (b,l,g,n) -> Y (b,l,h,p).

    Works in the promoted dtype of the inputs (float32 for float32/bf16, float64 in tests).
    """
    b, l, h, p = X.shape
    g, n = B.shape[2], B.shape[3]
    dtype = torch.promote_types(X.dtype, torch.float32)
    Q = chunk_size
    pad = (-l) % Q
    # Zero padding at the end: decay 1, no input; it never reaches earlier outputs.
    X, log_decay, B, C = (F.pad(t.to(dtype), (0, 0) * (t.dim() - 2) + (0, pad)) for t in (X, log_decay, B, C))
    c = (l + pad) // Q
    X = X.view(b, c, Q, h, p)
    B = B.view(b, c, Q, g, n).repeat_interleave(h // g, dim=3)  # (b,c,Q,h,n)
    C = C.view(b, c, Q, g, n).repeat_interleave(h // g, dim=3)
    a = log_decay.view(b, c, Q, h).permute(0, 3, 1, 2)  # (b,h,c,Q)
    a_cum = torch.cumsum(a, dim=-1)

    # 1. Within each chunk: Y_diag[l] = sum_{s<=l} (C_l . B_s) exp(a_{s+1..l}) X_s.
    decay = torch.exp(segsum(a)).permute(0, 2, 1, 3, 4)  # (b,c,h,Q,Q)
    scores = torch.einsum("bclhn,bcshn->bchls", C, B) * decay
    y = torch.einsum("bchls,bcshp->bclhp", scores, X)

    # 2. The state each chunk leaves behind, from its own inputs only.
    to_end = torch.exp(a_cum[..., -1:] - a_cum).permute(0, 2, 3, 1)  # (b,c,Q,h)
    chunk_states = torch.einsum("bclhn,bclh,bclhp->bchpn", B, to_end, X)

    # 3. Carry states across chunks (loop over chunks; see module docstring).
    chunk_decay = torch.exp(a_cum[..., -1]).permute(0, 2, 1)  # (b,c,h)
    state = (
        initial_state.to(dtype)
        if initial_state is not None
        else torch.zeros(b, h, p, n, dtype=dtype, device=X.device)
    )
    entering = []
    for ci in range(c):
        entering.append(state)
        state = chunk_decay[:, ci, :, None, None] * state + chunk_states[:, ci]
    prev = torch.stack(entering, dim=1)  # (b,c,h,p,n)

    # 4. Contribution of the entering state to every position of the chunk.
    from_start = torch.exp(a_cum).permute(0, 2, 3, 1)  # (b,c,Q,h)
    y = y + torch.einsum("bclhn,bchpn,bclh->bclhp", C, prev, from_start)
    return y.reshape(b, c * Q, h, p)[:, :l]


def ssd_scan_torch(
    x: torch.Tensor,
    dt: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    chunk_size: int,
) -> torch.Tensor:
    """Mamba-2 discretised scan, same argument convention as mamba_ssm's
    ``mamba_chunk_scan_combined`` (dt already passed through softplus, A < 0 per head):
    decay exp(dt*A), input dt*x. x (b,l,h,p), dt (b,l,h), A (h,), B/C (b,l,g,n) -> (b,l,h,p)."""
    dtype = torch.promote_types(x.dtype, torch.float32)
    dt = dt.to(dtype)
    return ssd_chunked(x.to(dtype) * dt.unsqueeze(-1), dt * A.to(dtype), B, C, chunk_size)


def ema_torch(z: torch.Tensor, p: torch.Tensor, chunk_size: int) -> torch.Tensor:
    """Smoothing recurrence of the dechunk step: out_k = p_k z_k + (1 - p_k) out_{k-1}.

    z (b, k, d), p (b, k) in (0, 1). Evaluated as a one-head SSD scan with decay log(1 - p),
    input p z and a state of size 1, so long sequences never underflow a running product.
    """
    b, k, d = z.shape
    dtype = torch.promote_types(z.dtype, torch.float32)
    p = p.to(dtype)
    X = (z.to(dtype) * p.unsqueeze(-1)).view(b, k, 1, d)
    ones = torch.ones(b, k, 1, 1, dtype=dtype, device=z.device)
    y = ssd_chunked(X, torch.log1p(-p).unsqueeze(-1), ones, ones, chunk_size)
    return y.view(b, k, d)
