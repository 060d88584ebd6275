"""SwiGLU feed-forward layer."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class SwiGLU(nn.Module):
    def __init__(self, d_model: int, d_intermediate: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(d_model, 2 * d_intermediate, bias=False)  # value and gate together
        self.fc2 = nn.Linear(d_intermediate, d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        value, gate = self.fc1(x).chunk(2, dim=-1)
        return self.fc2(value * F.silu(gate))
