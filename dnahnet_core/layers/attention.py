"""Causal multi-head self-attention with rotary position embeddings.

Positions are the stage's own (chunk index for inner stages). An optional sliding window limits
each query to the last ``window`` keys. ``scaled_dot_product_attention`` picks a fused kernel by
itself (flash on GPU).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


def rotary(x: torch.Tensor, base: float) -> torch.Tensor:
    """Rotate-half rotary embedding of x (b, heads, l, dh) at positions 0..l-1, in fp32."""
    b, h, l, dh = x.shape
    half = dh // 2
    inv_freq = base ** (-torch.arange(0, half, device=x.device, dtype=torch.float32) / half)
    angles = torch.arange(l, device=x.device, dtype=torch.float32)[:, None] * inv_freq  # (l, half)
    cos, sin = angles.cos(), angles.sin()
    x1, x2 = x.float()[..., :half], x.float()[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1).to(x.dtype)


class CausalSelfAttention(nn.Module):
    def __init__(self, d_model: int, num_heads: int, window: int = 0, rope_base: float = 10000.0) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.window = window
        self.rope_base = rope_base
        self.Wqkv = nn.Linear(d_model, 3 * d_model, bias=False)
        self.out_proj = nn.Linear(d_model, d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, l, d = x.shape
        qkv = self.Wqkv(x).view(b, l, 3, self.num_heads, d // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (b, heads, l, dh)
        q, k = rotary(q, self.rope_base), rotary(k, self.rope_base)
        if self.window and self.window < l:
            i = torch.arange(l, device=x.device)
            offset = i[:, None] - i[None, :]
            mask = (offset >= 0) & (offset < self.window)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        else:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.out_proj(y.transpose(1, 2).reshape(b, l, d))
