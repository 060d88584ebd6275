"""Mamba-2 mixer with mamba_ssm's parameter names and shapes, so weights move between backends.

in_proj -> causal depthwise conv (width d_conv) + SiLU -> SSD scan (heads of ssm_headdim, a scalar
decay per head) + D skip -> gated RMSNorm -> out_proj. The scan kernel comes from the backend.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..backend import Backend
from .norm import GatedRMSNorm


class Mamba2(nn.Module):
    def __init__(
        self,
        d_model: int,
        d_state: int = 16,
        headdim: int = 64,
        expand: int = 2,
        d_conv: int = 4,
        chunk_size: int = 64,
        norm_eps: float = 1e-5,
        backend: Backend | None = None,
        dt_min: float = 1e-3,
        dt_max: float = 0.1,
        dt_floor: float = 1e-4,
    ) -> None:
        super().__init__()
        self.d_inner = expand * d_model
        self.d_state = d_state
        self.headdim = headdim
        self.nheads = self.d_inner // headdim
        self.chunk_size = chunk_size
        self.backend = backend or Backend()
        conv_dim = self.d_inner + 2 * d_state  # x, B, C (one group)
        self.in_proj = nn.Linear(d_model, 2 * self.d_inner + 2 * d_state + self.nheads, bias=False)
        self.conv1d = nn.Conv1d(conv_dim, conv_dim, d_conv, groups=conv_dim, padding=d_conv - 1, bias=True)
        # Same initialisation as mamba_ssm: dt log-uniform in [dt_min, dt_max], A in [1, 16].
        dt = torch.exp(torch.rand(self.nheads) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
        dt = dt.clamp(min=dt_floor)
        self.dt_bias = nn.Parameter(dt + torch.log(-torch.expm1(-dt)))  # inverse softplus
        self.A_log = nn.Parameter(torch.log(torch.empty(self.nheads).uniform_(1, 16)))
        self.D = nn.Parameter(torch.ones(self.nheads))
        self.norm = GatedRMSNorm(self.d_inner, eps=norm_eps)
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=False)
        for p in (self.dt_bias, self.A_log, self.D):
            p._no_weight_decay = True  # type: ignore[attr-defined]

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        b, l, _ = u.shape
        z, xBC, dt = torch.split(self.in_proj(u), [self.d_inner, self.d_inner + 2 * self.d_state, self.nheads], dim=-1)
        # Causal depthwise conv: pad d_conv-1 on both sides, keep the first l outputs.
        xBC = F.silu(self.conv1d(xBC.transpose(1, 2))[..., :l].transpose(1, 2))
        x, B, C = torch.split(xBC, [self.d_inner, self.d_state, self.d_state], dim=-1)
        dt = F.softplus(dt.float() + self.dt_bias.float())  # (b, l, nheads)
        A = -torch.exp(self.A_log.float())
        x = x.reshape(b, l, self.nheads, self.headdim)
        y = self.backend.ssd_scan(x, dt, A, B.unsqueeze(2), C.unsqueeze(2), self.chunk_size)
        y = y + x.float() * self.D.float()[:, None]
        y = self.norm(y.reshape(b, l, self.d_inner), z)
        return self.out_proj(y)  # autocast (CUDA) casts to bf16 here; CPU stays fp32
