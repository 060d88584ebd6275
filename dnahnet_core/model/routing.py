"""H-Net dynamic chunking (design §1.2 steps 2-7): routing, downsampling and dechunking.

Tensors are right-padded batches: a (B, L) bool ``mask`` marks real positions. Every operation here
is causal, so padding after a sequence never changes its outputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..backend import Backend


@dataclass
class RoutingInfo:
    """One stage's boundary decisions, at that stage's resolution (B, L_s)."""

    boundary_prob: torch.Tensor  # p_t in [0, 1], fp32, differentiable
    boundary_mask: torch.Tensor  # b_t = p_t > 0.5 (first position forced), False on padding
    mask: torch.Tensor  # real (non-padding) positions

    @property
    def selected_fraction(self) -> float:
        """Realised fraction of real positions that start a chunk."""
        return float(self.boundary_mask.sum() / self.mask.sum().clamp(min=1))


@dataclass
class Chunks:
    """Boundary rows gathered into a right-padded batch (B, L', D)."""

    x: torch.Tensor
    mask: torch.Tensor  # (B, L') real chunks
    prob: torch.Tensor  # (B, L') boundary probability at each chunk's start position


class RoutingModule(nn.Module):
    """p_t = (1 - cos(W_q x_t, W_k x_{t-1})) / 2; projections start as the identity."""

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.q_proj = nn.Linear(d_model, d_model, bias=False)
        self.k_proj = nn.Linear(d_model, d_model, bias=False)
        with torch.no_grad():
            self.q_proj.weight.copy_(torch.eye(d_model))
            self.k_proj.weight.copy_(torch.eye(d_model))
        for p in (self.q_proj.weight, self.k_proj.weight):
            p._no_weight_decay = True  # type: ignore[attr-defined]

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> RoutingInfo:
        with torch.autocast(x.device.type, enabled=False):  # routing decisions in fp32
            x = x.float()
            cos = F.cosine_similarity(self.q_proj(x[:, 1:]), self.k_proj(x[:, :-1]), dim=-1)  # (B, L-1)
            p = ((1 - cos) / 2).clamp(0.0, 1.0)
            # The first position of every sequence always starts a chunk.
            # (built from a fresh column: p[:, :1] is empty when a stage sees a single position)
            p = torch.cat([p.new_ones(p.size(0), 1), p], dim=1)  # (B, L)
        return RoutingInfo(boundary_prob=p, boundary_mask=(p > 0.5) & mask, mask=mask)

    def continue_probs(self, x: torch.Tensor, prev: torch.Tensor, started: torch.Tensor, mask: torch.Tensor) -> RoutingInfo:
        """Routing of a block x (B, L, D) that continues rows whose last encoder vector was ``prev``
        (B, D); a row that has not ``started`` gets p = 1 at its first position, as in forward."""
        with torch.autocast(x.device.type, enabled=False):
            x = x.float()
            # (B, L, D): each position's predecessor (one position: just the previous vector)
            before = prev.float()[:, None] if x.size(1) == 1 else torch.cat([prev.float()[:, None], x[:, :-1]], dim=1)
            cos = F.cosine_similarity(self.q_proj(x), self.k_proj(before), dim=-1)  # (B, L)
            p = ((1 - cos) / 2).clamp(0.0, 1.0)
            p[:, 0] = torch.where(started, p[:, 0], torch.ones_like(p[:, 0]))
        return RoutingInfo(boundary_prob=p, boundary_mask=(p > 0.5) & mask, mask=mask)


def downsample(x: torch.Tensor, routing: RoutingInfo) -> Chunks:
    """Keep the rows that start a chunk, in order: (B, L, D) -> (B, L', D), L' = max chunk count."""
    b = routing.boundary_mask
    counts = b.sum(dim=1)
    n_chunks = max(int(counts.max()), 1)
    # A stable sort puts the kept positions first, in their original order.
    order = torch.argsort((~b).to(torch.uint8), dim=1, stable=True)[:, :n_chunks]  # (B, L')
    kept = torch.gather(x, 1, order.unsqueeze(-1).expand(-1, -1, x.size(-1)))
    mask = torch.arange(n_chunks, device=x.device)[None, :] < counts[:, None]
    return Chunks(x=kept, mask=mask, prob=torch.gather(routing.boundary_prob, 1, order))


def straight_through(routing: RoutingInfo) -> torch.Tensor:
    """STE(c_t) (B, L): 1 in the forward pass (up to rounding), gradient to the confidence c_t."""
    p, b = routing.boundary_prob, routing.boundary_mask
    confidence = torch.where(b, p, 1 - p)
    return confidence + (1 - confidence).detach()


def dechunk(
    z: torch.Tensor,
    chunks: Chunks,
    routing: RoutingInfo,
    backend: Backend,
    chunk_size: int,
    last: torch.Tensor | None = None,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Smooth the chunk outputs, spread them back over positions and apply the STE confidence.

    z (B, L', D) -> (B, L, D), fp32. With ``last`` (B, D), the block continues a state: smoothing
    starts from it, positions before the block's first chunk read it, padding chunks leave it
    unchanged, and (output, new last value) is returned.
    """
    with torch.autocast(z.device.type, enabled=False):
        P = chunks.prob.float().clamp(1e-4, 1 - 1e-4)
        if last is None:
            smoothed = backend.ema(z.float(), P, chunk_size)  # z̄_k = P_k ẑ_k + (1 - P_k) z̄_{k-1}
            # Position t reads the latest chunk that started at or before t.
            idx = (torch.cumsum(routing.boundary_mask.long(), dim=1) - 1).clamp(min=0)  # (B, L)
        else:
            P = torch.where(chunks.mask, P, torch.zeros_like(P))  # padding: decay 1, no input
            smoothed, new_last = backend.ema(z.float(), P, chunk_size, initial=last.float(), return_final=True)
            smoothed = torch.cat([last.float()[:, None], smoothed], dim=1)  # index 0: the chunk before the block
            idx = torch.cumsum(routing.boundary_mask.long(), dim=1)
        up = torch.gather(smoothed, 1, idx.unsqueeze(-1).expand(-1, -1, smoothed.size(-1)))
        out = up * straight_through(routing).unsqueeze(-1)
        return out if last is None else (out, new_last)


class Dechunk(nn.Module):
    """:func:`dechunk` as a parameter-free module, so its output (what the inner stages hand back
    to this stage) has a name: diagnostics replace it through a forward hook."""

    def __init__(self, backend: Backend, chunk_size: int) -> None:
        super().__init__()
        self.backend = backend
        self.chunk_size = chunk_size

    def forward(self, z: torch.Tensor, chunks: Chunks, routing: RoutingInfo, last: torch.Tensor | None = None):
        return dechunk(z, chunks, routing, self.backend, self.chunk_size, last)
