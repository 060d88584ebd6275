"""Causal multi-head self-attention with rotary position embeddings.

Positions are the stage's own (chunk index for inner stages). An optional sliding window limits
each query to the last ``window`` keys. ``scaled_dot_product_attention`` picks a fused kernel by
itself (flash on GPU).
"""

from __future__ import annotations

import torch

from ..model.state import KVCache, put, take
import torch.nn as nn
import torch.nn.functional as F


def rotary(x: torch.Tensor, base: float, positions: torch.Tensor | None = None) -> torch.Tensor:
    """Rotate-half rotary embedding of x (b, heads, l, dh) at positions 0..l-1, or at ``positions``
    (b, l) (a row continuing from a cache starts at its cache length), in fp32."""
    b, h, l, dh = x.shape
    half = dh // 2
    inv_freq = base ** (-torch.arange(0, half, device=x.device, dtype=torch.float32) / half)
    if positions is None:
        angles = torch.arange(l, device=x.device, dtype=torch.float32)[:, None] * inv_freq  # (l, half)
    else:
        angles = (positions.to(torch.float32)[..., None] * inv_freq)[:, None]  # (b, 1, l, half)
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

    # ---- incremental inference (design §1.5b) ----------------------------------------------------
    def allocate(self, batch: int, device: torch.device) -> KVCache:
        dh = self.Wqkv.in_features // self.num_heads
        empty = torch.zeros(batch, self.num_heads, 0, dh, device=device)
        return KVCache(k=empty, v=empty.clone(), length=torch.zeros(batch, dtype=torch.long, device=device))

    def prefill(self, x: torch.Tensor, cache: KVCache, lengths: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
        """x (b, l, d): a block of each row's next ``lengths`` positions (right-padded), attending to
        the cache and causally within the block; appends the real positions to the cache.
        ``rows`` (b,) picks the cache rows the block continues (default: all, in order)."""
        b, l, d = x.shape
        dev = x.device
        rows = torch.arange(b, device=dev) if rows is None else rows
        qkv = self.Wqkv(x).view(b, l, 3, self.num_heads, d // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (b, heads, l, dh)
        past = cache.length[rows]  # (b,)
        pos = past[:, None] + torch.arange(l, device=dev)  # (b, l) absolute positions
        q, k = rotary(q, self.rope_base, pos), rotary(k, self.rope_base, pos)
        T = int(past.max()) if b else 0
        ck, cv = cache.k[rows, :, :T].to(k.dtype), cache.v[rows, :, :T].to(v.dtype)
        keys, values = torch.cat([ck, k], dim=2), torch.cat([cv, v], dim=2)  # (b, heads, T + l, dh)
        key_pos = torch.cat([torch.arange(T, device=dev).expand(b, T), pos], dim=1)  # (b, T + l)
        key_ok = torch.cat([torch.arange(T, device=dev)[None, :] < past[:, None],
                            torch.arange(l, device=dev)[None, :] < lengths[:, None]], dim=1)
        mask = key_ok[:, None, :] & (key_pos[:, None, :] <= pos[:, :, None])  # (b, l, T + l)
        if self.window:
            mask &= key_pos[:, None, :] > pos[:, :, None] - self.window
        # A padding query may see no key at all; its own key keeps softmax finite (output unused).
        mask[:, :, T:] |= torch.eye(l, dtype=torch.bool, device=dev)
        y = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask[:, None])
        # Append each row's real keys/values to the cache.
        cache.ensure_capacity(int((past + lengths).max()) if b else 0)
        if cache.k.dtype != k.dtype:
            cache.k, cache.v = cache.k.to(k.dtype), cache.v.to(v.dtype)
        for i in range(b):
            n = int(lengths[i])
            if n:
                r, start = int(rows[i]), int(past[i])
                cache.k[r, :, start : start + n] = k[i, :, :n]
                cache.v[r, :, start : start + n] = v[i, :, :n]
        cache.length[rows] = past + lengths
        return self.out_proj(y.transpose(1, 2).reshape(b, l, d))

    def step(self, x: torch.Tensor, cache: KVCache, rows: torch.Tensor | None = None) -> torch.Tensor:
        """x (n, d): one new position for each of the cache rows ``rows`` (all when None) -> (n, d)."""
        n, d = x.shape
        dev = x.device
        qkv = self.Wqkv(x).view(n, 1, 3, self.num_heads, d // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (n, heads, 1, dh)
        past = take(cache.length, rows)  # (n,)
        q, k = rotary(q, self.rope_base, past[:, None]), rotary(k, self.rope_base, past[:, None])
        hi, lo = int(past.max()), int(past.min())
        cache.ensure_capacity(hi + 1)
        if cache.k.dtype != k.dtype:
            cache.k, cache.v = cache.k.to(k.dtype), cache.v.to(v.dtype)
        at = torch.arange(n, device=dev) if rows is None else rows
        cache.k[at, :, past] = k[:, :, 0]
        cache.v[at, :, past] = v[:, :, 0]
        put(cache.length, rows, past + 1)
        T = hi + 1
        # Every row's keys up to T (a view when all rows step; a gather otherwise).
        keys = cache.k[:, :, :T] if rows is None else cache.k[rows, :, :T]
        values = cache.v[:, :, :T] if rows is None else cache.v[rows, :, :T]
        first = max(0, lo + 1 - self.window) if self.window else 0
        if hi == lo and (not self.window or first == max(0, hi + 1 - self.window)):
            y = F.scaled_dot_product_attention(q, keys[:, :, first:], values[:, :, first:])  # every key visible
        else:
            key_pos = torch.arange(T, device=dev)
            mask = key_pos[None, :] <= past[:, None]
            if self.window:
                mask &= key_pos[None, :] > past[:, None] - self.window
            y = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask[:, None, None])
        return self.out_proj(y.reshape(n, d))
