"""One H-Net stage, recursive: encoder -> route -> inner stage on chunks -> dechunk -> decoder."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from ..backend import Backend
from ..config import ModelConfig
from ..layers.stack import Stack
from .routing import Dechunk, RoutingInfo, RoutingModule, downsample, straight_through
from .state import StackState, StageState, put, take


@dataclass
class StageOutput:
    hidden: torch.Tensor  # (B, L, D_s) fp32
    routing: list[RoutingInfo]  # this stage's and every inner stage's, outer first


@dataclass
class StepDecisions:
    """One step's boundary decisions at every chunking stage, outer first, for the n stepped rows.
    A stage a row did not reach this step (its outer stage started no chunk) has p NaN, b False."""

    prob: list[torch.Tensor]  # (n,) fp32
    mask: list[torch.Tensor]  # (n,) bool


class HNetStage(nn.Module):
    def __init__(self, config: ModelConfig, stage: int, backend: Backend) -> None:
        super().__init__()
        self.stage = stage
        self.is_innermost = stage == config.n_stages
        self.backend = backend
        #: Chunking stages from this one inwards (0 for the innermost network).
        self.depth = config.n_stages - stage
        stacks = config.stage_stacks(stage)
        if self.is_innermost:
            self.main = Stack(stacks[0], config, stage, backend)
            return
        d, d_inner = config.d_model[stage], config.d_model[stage + 1]
        self.encoder = Stack(stacks[0], config, stage, backend)
        self.router = RoutingModule(d)
        self.main = HNetStage(config, stage + 1, backend)
        self.dechunk = Dechunk(backend, config.ssm_chunk_size)
        self.decoder = Stack(stacks[1], config, stage, backend)
        # Zero-initialised so the untrained model starts as "decoder(inner output)".
        self.residual_proj = nn.Linear(d, d)
        nn.init.zeros_(self.residual_proj.weight)
        nn.init.zeros_(self.residual_proj.bias)
        # A wider inner stage sees the chunk vectors extended by a learned (zero-init) vector.
        self.pad_dimension = nn.Parameter(torch.zeros(d_inner - d)) if d_inner > d else None
        #: Training only: the probability that a window's residual path is dropped, so that the
        #: decoder must predict from what the inner stages hand back (set by the trainer; never
        #: active in eval mode, not part of the checkpoint).
        self.residual_dropout = 0.0

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> StageOutput:
        """x (B, L, D_s), mask (B, L) bool -> hidden (B, L, D_s)."""
        if self.is_innermost:
            return StageOutput(hidden=self.main(x), routing=[])
        h = self.encoder(x)  # (B, L, D_s)
        routing = self.router(h, mask)
        chunks = downsample(h, routing)  # (B, L', D_s)
        inner_x = chunks.x
        if self.pad_dimension is not None:
            inner_x = torch.cat([inner_x, self.pad_dimension.expand(*inner_x.shape[:-1], -1)], dim=-1)
        inner = self.main(inner_x, chunks.mask)  # (B, L', D_{s+1})
        z = inner.hidden[..., : h.size(-1)]  # back to this stage's width
        y = self.dechunk(z, chunks, routing)  # (B, L, D_s)
        with torch.autocast(x.device.type, enabled=False):  # the residual path stays fp32
            residual = self.residual_proj(h.float())
            if self.training and self.residual_dropout > 0:
                keep = torch.rand(residual.size(0), 1, 1, device=residual.device) >= self.residual_dropout
                residual = residual * keep
            y = y + residual
        return StageOutput(hidden=self.decoder(y), routing=[routing] + inner.routing)

    # ---- incremental inference (design §1.5b) ----------------------------------------------------
    def allocate(self, batch: int, device: torch.device) -> StageState | StackState:
        if self.is_innermost:
            return self.main.allocate(batch, device)
        d = self.residual_proj.in_features
        return StageState(
            encoder=self.encoder.allocate(batch, device), decoder=self.decoder.allocate(batch, device),
            inner=self.main.allocate(batch, device),
            router_prev=torch.zeros(batch, d, device=device), started=torch.zeros(batch, dtype=torch.bool, device=device),
            dechunk_last=torch.zeros(batch, d, device=device),
        )

    def _widen(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad_dimension is None:
            return x
        return torch.cat([x, self.pad_dimension.expand(*x.shape[:-1], -1)], dim=-1)

    def prefill(self, x: torch.Tensor, state: StageState | StackState, lengths: torch.Tensor) -> StageOutput:
        """x (B, L, D_s): each row's next ``lengths`` positions (right-padded), continuing ``state``
        -> hidden (B, L, D_s) and this block's routing at every stage; ``state`` moves to each row's
        last real position. From an empty state this is :meth:`forward`, up to float rounding."""
        if self.is_innermost:
            return StageOutput(hidden=self.main.prefill(x, state, lengths), routing=[])
        mask = torch.arange(x.size(1), device=x.device)[None, :] < lengths[:, None]
        h = self.encoder.prefill(x, state.encoder, lengths)  # (B, L, D_s)
        routing = self.router.continue_probs(h, state.router_prev, state.started, mask)
        chunks = downsample(h, routing)  # (B, L', D_s): the chunks that start inside this block
        counts = chunks.mask.sum(1)
        inner = self.main.prefill(self._widen(chunks.x), state.inner, counts)
        z = inner.hidden[..., : h.size(-1)]
        y, state.dechunk_last = self.dechunk(z, chunks, routing, last=state.dechunk_last)
        with torch.autocast(x.device.type, enabled=False):
            y = y + self.residual_proj(h.float())
        last = (lengths - 1).clamp(min=0)
        seen = lengths > 0
        state.router_prev = torch.where(seen[:, None], h[torch.arange(h.size(0), device=h.device), last].float(), state.router_prev)
        state.started = state.started | seen
        return StageOutput(hidden=self.decoder.prefill(y, state.decoder, lengths), routing=[routing] + inner.routing)

    def step(
        self, x: torch.Tensor, state: StageState | StackState, rows: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, StepDecisions]:
        """x (n, D_s): one new position for each of the state rows ``rows`` (all, in order, when
        None) -> (hidden (n, D_s), decisions). The inner stage runs only for the rows whose position
        starts a chunk."""
        if self.is_innermost:
            return self.main.step(x, state, rows), StepDecisions(prob=[], mask=[])
        n = x.size(0)
        h = self.encoder.step(x, state.encoder, rows)  # (n, D_s)
        one = torch.ones(n, 1, dtype=torch.bool, device=x.device)
        routing = self.router.continue_probs(h[:, None], take(state.router_prev, rows), take(state.started, rows), one)
        p, b = routing.boundary_prob[:, 0], routing.boundary_mask[:, 0]
        put(state.router_prev, rows, h.float())
        put(state.started, rows, one[:, 0])
        depth = self.depth
        probs = [p] + [p.new_full((n,), float("nan")) for _ in range(depth - 1)]
        masks = [b] + [b.new_zeros(n) for _ in range(depth - 1)]
        count = int(b.sum())
        if count:
            every = count == n
            sel = slice(None) if every else b.nonzero().squeeze(1)
            sub = rows if every else (sel if rows is None else rows[sel])
            z, inner = self.main.step(self._widen(h if every else h[sel]), state.inner, sub)
            P = (p if every else p[sel]).clamp(1e-4, 1 - 1e-4)[:, None]
            put(state.dechunk_last, sub, P * z[..., : h.size(-1)].float() + (1 - P) * take(state.dechunk_last, sub))
            for s, (ip, im) in enumerate(zip(inner.prob, inner.mask), start=1):
                probs[s][sel], masks[s][sel] = ip, im
        up = take(state.dechunk_last, rows)
        if torch.is_grad_enabled():  # the STE is 1 in value: only its gradient matters
            up = up * straight_through(routing)[:, :1]
        with torch.autocast(x.device.type, enabled=False):
            y = up + self.residual_proj(h.float())
        return self.decoder.step(y, state.decoder, rows), StepDecisions(prob=probs, mask=masks)
