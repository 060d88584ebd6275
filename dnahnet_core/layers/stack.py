"""Pre-norm residual blocks and the layer stacks that the layout strings describe."""

from __future__ import annotations

import torch
import torch.nn as nn

from ..backend import Backend
from ..config import ModelConfig, parse_stack
from ..model.state import StackState
from .attention import CausalSelfAttention
from .mamba2 import Mamba2
from .mlp import SwiGLU
from .norm import RMSNorm


class Block(nn.Module):
    """x + mixer(norm(x)) [+ mlp(norm(x))], with the residual stream kept in fp32."""

    def __init__(self, mixer: nn.Module, d_model: int, d_intermediate: int, norm_eps: float) -> None:
        super().__init__()
        self.norm1 = RMSNorm(d_model, norm_eps)
        self.mixer = mixer
        self.norm2 = RMSNorm(d_model, norm_eps) if d_intermediate else None
        self.mlp = SwiGLU(d_model, d_intermediate) if d_intermediate else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.mixer(self.norm1(x)).float()
        if self.mlp is not None:
            x = x + self.mlp(self.norm2(x)).float()
        return x

    def _mlp(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mlp(self.norm2(x)).float() if self.mlp is not None else x

    def prefill(self, x: torch.Tensor, state, lengths: torch.Tensor) -> torch.Tensor:
        return self._mlp(x + self.mixer.prefill(self.norm1(x), state, lengths).float())

    def step(self, x: torch.Tensor, state, rows: torch.Tensor | None) -> torch.Tensor:
        return self._mlp(x + self.mixer.step(self.norm1(x), state, rows).float())


class Stack(nn.Module):
    """The layers of one stack string (e.g. ``"T1m4"``) followed by a final RMSNorm."""

    def __init__(self, spec: str, config: ModelConfig, stage: int, backend: Backend) -> None:
        super().__init__()
        d = config.d_model[stage]
        blocks = []
        for letter in parse_stack(spec):
            if letter in "mM":
                mixer: nn.Module = Mamba2(
                    d,
                    d_state=config.d_state,
                    headdim=config.ssm_headdim,
                    expand=config.ssm_expand,
                    d_conv=config.d_conv,
                    chunk_size=config.ssm_chunk_size,
                    norm_eps=config.norm_eps,
                    backend=backend,
                )
            else:
                mixer = CausalSelfAttention(d, config.num_heads[stage], config.attn_window[stage], config.rope_base)
            blocks.append(Block(mixer, d, config.d_intermediate[stage] if letter in "MT" else 0, config.norm_eps))
        self.layers = nn.ModuleList(blocks)
        self.norm = RMSNorm(d, config.norm_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float()
        for layer in self.layers:
            x = layer(x)
        return self.norm(x)

    # ---- incremental inference (design §1.5b) ----------------------------------------------------
    def allocate(self, batch: int, device: torch.device) -> StackState:
        return StackState(layers=[layer.mixer.allocate(batch, device) for layer in self.layers])

    def prefill(self, x: torch.Tensor, state: StackState, lengths: torch.Tensor) -> torch.Tensor:
        """x (b, l, d) continuing ``state`` for each row's ``lengths`` real positions -> (b, l, d)."""
        x = x.float()
        for layer, st in zip(self.layers, state.layers):
            x = layer.prefill(x, st, lengths)
        return self.norm(x)

    def step(self, x: torch.Tensor, state: StackState, rows: torch.Tensor | None) -> torch.Tensor:
        """x (n, d): one position for the state rows ``rows`` -> (n, d)."""
        x = x.float()
        for layer, st in zip(self.layers, state.layers):
            x = layer.step(x, st, rows)
        return self.norm(x)
