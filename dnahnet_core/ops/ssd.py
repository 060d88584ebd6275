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


def segment_decay(a: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """exp(sum_{j < k <= i} a_k) for i >= j, exactly 0 above the diagonal: (..., T) -> (..., T, T).

    The segment sums are differences of one cumulative sum taken in float64, so strong decays over
    a long chunk (running sums in the hundreds) lose no precision when cast back to ``dtype``; the
    exact zeros above the diagonal are what make outputs independent of later positions.
    """
    T = a.size(-1)
    cum = torch.cumsum(a.double(), dim=-1)
    seg = (cum.unsqueeze(-1) - cum.unsqueeze(-2)).to(dtype)  # [..., i, j] = cum_i - cum_j
    upper = ~torch.ones(T, T, dtype=torch.bool, device=a.device).tril()
    return torch.exp(seg.masked_fill_(upper, float("-inf")))


def ssd_chunked(
    X: torch.Tensor,
    log_decay: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    chunk_size: int,
    initial_state: torch.Tensor | None = None,
    return_final_state: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Chunked scan. X (b,l,h,p), log_decay (b,l,h), B/C (b,l,g,n) -> Y (b,l,h,p).

    ``initial_state`` (b,h,p,n) is the state entering position 0 (zeros when None); with
    ``return_final_state`` the state after position l-1 is returned too, as (Y, state (b,h,p,n)).
    Positions with log_decay 0 and X 0 leave the state as it is, which is how callers keep padding
    out of a final state.

    Works in the promoted dtype of the inputs (float32 for float32/bf16, float64 in tests). Heads are
    handled as (g groups) x (r heads per group) so B and C are shared, never copied, across a group.
    """
    b, l, h, p = X.shape
    g, n = B.shape[2], B.shape[3]
    r = h // g
    dtype = torch.promote_types(X.dtype, torch.float32)
    Q = chunk_size
    pad = (-l) % Q
    # Zero padding at the end: decay 1, no input; it never reaches earlier outputs.
    X, log_decay, B, C = (F.pad(t.to(dtype), (0, 0) * (t.dim() - 2) + (0, pad)) for t in (X, log_decay, B, C))
    c = (l + pad) // Q
    X = X.view(b, c, Q, g, r, p)
    B = B.view(b, c, Q, g, n)
    C = C.view(b, c, Q, g, n)
    a = log_decay.view(b, c, Q, g, r).permute(0, 1, 3, 4, 2)  # (b,c,g,r,Q)
    a_cum = torch.cumsum(a, dim=-1)

    # 1. Within each chunk: Y_diag[l] = sum_{s<=l} (C_l . B_s) exp(a_{s+1..l}) X_s.
    scores = torch.einsum("bclgn,bcsgn->bcgls", C, B).unsqueeze(3) * segment_decay(a, dtype)  # (b,c,g,r,Q,Q)
    y = torch.einsum("bcgrls,bcsgrp->bclgrp", scores, X)

    # 2. The state each chunk leaves behind, from its own inputs only.
    to_end = torch.exp(a_cum[..., -1:] - a_cum)  # (b,c,g,r,Q)
    chunk_states = torch.einsum("bclgn,bclgrp->bcgrpn", B, X * to_end.permute(0, 1, 4, 2, 3).unsqueeze(-1))

    # 3. Carry states across chunks (loop over chunks; see module docstring).
    chunk_decay = torch.exp(a_cum[..., -1])  # (b,c,g,r)
    state = (
        initial_state.to(dtype).view(b, g, r, p, n)
        if initial_state is not None
        else torch.zeros(b, g, r, p, n, dtype=dtype, device=X.device)
    )
    entering = []
    for ci in range(c):
        entering.append(state)
        state = chunk_decay[:, ci, :, :, None, None] * state + chunk_states[:, ci]
    prev = torch.stack(entering, dim=1)  # (b,c,g,r,p,n)

    # 4. Contribution of the entering state to every position of the chunk.
    from_start = torch.exp(a_cum).permute(0, 1, 4, 2, 3).unsqueeze(-1)  # (b,c,Q,g,r,1)
    y = y + torch.einsum("bclgn,bcgrpn->bclgrp", C, prev) * from_start
    y = y.reshape(b, c * Q, h, p)[:, :l]
    if return_final_state:
        return y, state.reshape(b, h, p, n)  # the chunk padding left it unchanged
    return y


def ssd_scan_torch(
    x: torch.Tensor,
    dt: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    chunk_size: int,
    initial_state: torch.Tensor | None = None,
    return_final_state: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Mamba-2 discretised scan, same argument convention as mamba_ssm's
    ``mamba_chunk_scan_combined`` (dt already passed through softplus, A < 0 per head):
    decay exp(dt*A), input dt*x. x (b,l,h,p), dt (b,l,h), A (h,), B/C (b,l,g,n) -> (b,l,h,p).
    States (b,h,p,n) as in :func:`ssd_chunked`; dt = 0 at a position leaves the state unchanged."""
    dtype = torch.promote_types(x.dtype, torch.float32)
    dt = dt.to(dtype)
    return ssd_chunked(x.to(dtype) * dt.unsqueeze(-1), dt * A.to(dtype), B, C, chunk_size, initial_state, return_final_state)


def ssd_step_torch(
    state: torch.Tensor, x: torch.Tensor, dt: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """One position of the same recurrence: state (b,h,p,n), x (b,h,p), dt (b,h) post-softplus,
    A (h,), B/C (b,n) (one group), all fp32 -> (y (b,h,p), new state)."""
    decay = torch.exp(dt * A)[:, :, None, None]  # (b,h,1,1)
    inp = (dt[:, :, None] * x)[..., None]  # (b,h,p,1)
    state = torch.addcmul(state * decay, inp, B[:, None, None, :])
    return torch.matmul(state, C[:, None, :, None]).squeeze(-1), state


def ema_torch(
    z: torch.Tensor, p: torch.Tensor, chunk_size: int, initial: torch.Tensor | None = None, return_final: bool = False
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Smoothing recurrence of the dechunk step: out_k = p_k z_k + (1 - p_k) out_{k-1}.

    z (b, k, d), p (b, k) in [0, 1). Evaluated as a one-head SSD scan with decay log(1 - p),
    input p z and a state of size 1, so long sequences never underflow a running product.
    ``initial`` (b, d) is out_{-1} (zeros when None); with ``return_final`` the last value (b, d)
    is returned too. p = 0 leaves the value unchanged (padding).
    """
    b, k, d = z.shape
    dtype = torch.promote_types(z.dtype, torch.float32)
    p = p.to(dtype)
    X = (z.to(dtype) * p.unsqueeze(-1)).view(b, k, 1, d)
    ones = torch.ones(b, k, 1, 1, dtype=dtype, device=z.device)
    init = initial.to(dtype).view(b, 1, d, 1) if initial is not None else None
    y, final = ssd_chunked(X, torch.log1p(-p).unsqueeze(-1), ones, ones, chunk_size, init, True)
    if return_final:
        return y.view(b, k, d), final.view(b, d)
    return y.view(b, k, d)
