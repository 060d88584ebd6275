"""One H-Net stage, recursive: encoder -> route -> inner stage on chunks -> dechunk -> decoder."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from ..backend import Backend
from ..config import ModelConfig
from ..layers.stack import Stack
from .routing import Dechunk, RoutingInfo, RoutingModule, downsample


@dataclass
class StageOutput:
    hidden: torch.Tensor  # (B, L, D_s) fp32
    routing: list[RoutingInfo]  # this stage's and every inner stage's, outer first


class HNetStage(nn.Module):
    def __init__(self, config: ModelConfig, stage: int, backend: Backend) -> None:
        super().__init__()
        self.stage = stage
        self.is_innermost = stage == config.n_stages
        self.chunk_size = config.ssm_chunk_size
        self.backend = backend
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
            y = y + self.residual_proj(h.float())
        return StageOutput(hidden=self.decoder(y), routing=[routing] + inner.routing)
