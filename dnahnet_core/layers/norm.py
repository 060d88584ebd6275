"""RMSNorm and the gated RMSNorm of Mamba-2, both computed in fp32."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, d: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x * rsqrt(mean(x^2) + eps) * weight, as one ATen call (fewer dispatches per decoding step).
        return F.rms_norm(x.float(), (x.size(-1),), self.weight.float(), self.eps)


class GatedRMSNorm(RMSNorm):
    """``rmsnorm(x * silu(z))`` (mamba_ssm's RMSNormGated with norm_before_gate=False, one group)."""

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return super().forward(x.float() * F.silu(z.float()))
