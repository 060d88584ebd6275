"""Inference state of a dnaHNet (design §1.5b): what incremental inference carries from one call to
the next, per layer and per stage, for a batch whose rows may stand at different positions.

* Mamba-2 layer: the last ``d_conv - 1`` inputs of its convolution and its SSM state.
* Attention layer: its key/value cache (rotary already applied) and how many entries each row has.
* Chunking stage: the router's previous encoder vector (the k side of the next cosine), whether the
  row has started (its first position always starts a chunk), and the dechunk's last smoothed value
  (what positions read until the next chunk starts).

Every state is a tree of tensors with the batch first, so :meth:`InferenceState.select`,
:meth:`~InferenceState.repeat` and :meth:`~InferenceState.clone` branch many continuations from one
shared prefix. ``prefill`` and ``step`` update a state in place and return it: clone first to keep it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Union

import torch


@dataclass
class MambaState:
    conv: torch.Tensor  # (B, conv_dim, d_conv - 1): the last inputs of the causal convolution
    ssm: torch.Tensor  # (B, nheads, headdim, d_state) fp32


@dataclass
class KVCache:
    k: torch.Tensor  # (B, heads, capacity, head_dim), rotary applied; rows valid up to ``length``
    v: torch.Tensor
    length: torch.Tensor  # (B,) int64 entries (= the next position of each row)

    def ensure_capacity(self, needed: int) -> None:
        """Grow the buffers (geometrically, so appending one entry a step stays O(1) amortised)."""
        cap = self.k.size(2)
        if needed <= cap:
            return
        new_cap = max(needed, 2 * cap, 16)
        pad = (0, 0, 0, new_cap - cap)
        self.k = torch.nn.functional.pad(self.k, pad)
        self.v = torch.nn.functional.pad(self.v, pad)


LayerState = Union[MambaState, KVCache, None]


@dataclass
class StackState:
    layers: list[LayerState]


@dataclass
class StageState:
    encoder: StackState
    decoder: StackState
    inner: Union["StageState", StackState]
    router_prev: torch.Tensor  # (B, D_s) fp32: encoder output at the row's last position
    started: torch.Tensor  # (B,) bool: the row has seen a position at this stage
    dechunk_last: torch.Tensor  # (B, D_s) fp32: smoothed value of the row's latest chunk


def take(t: torch.Tensor, rows: torch.Tensor | None) -> torch.Tensor:
    """Rows ``rows`` of a state tensor (all of them, without a copy, when ``rows`` is None)."""
    return t if rows is None else t[rows]


def put(t: torch.Tensor, rows: torch.Tensor | None, value: torch.Tensor) -> None:
    """Write ``value`` into rows ``rows`` of a state tensor, in place (all rows when None)."""
    if rows is None:
        t.copy_(value)
    else:
        t[rows] = value.to(t.dtype)


def _map(obj: Any, fn: Callable[[torch.Tensor], torch.Tensor]) -> Any:
    """Apply ``fn`` to every tensor of a state tree, returning a new tree."""
    if isinstance(obj, torch.Tensor):
        return fn(obj)
    if isinstance(obj, list):
        return [_map(o, fn) for o in obj]
    if dataclasses.is_dataclass(obj):
        return type(obj)(**{f.name: _map(getattr(obj, f.name), fn) for f in dataclasses.fields(obj)})
    return obj


def _tensors(obj: Any) -> list[torch.Tensor]:
    out: list[torch.Tensor] = []
    _map(obj, lambda t: out.append(t) or t)
    return out


@dataclass
class InferenceState:
    """The whole model's state: ``backbone`` (stage 0) and ``position`` (B,) tokens consumed per row."""

    backbone: Union[StageState, StackState]
    position: torch.Tensor

    @property
    def batch_size(self) -> int:
        return int(self.position.numel())

    def clone(self) -> "InferenceState":
        return _map(self, lambda t: t.clone())

    def select(self, rows: torch.Tensor | list[int]) -> "InferenceState":
        """A new state holding only ``rows`` (in that order; repeats allowed)."""
        idx = torch.as_tensor(rows, dtype=torch.long, device=self.position.device)
        return _map(self, lambda t: t.index_select(0, idx))

    def repeat(self, n: int) -> "InferenceState":
        """Each row repeated ``n`` times in place: rows (a, b) -> (a, a, ..., b, b, ...)."""
        return _map(self, lambda t: t.repeat_interleave(n, dim=0))

    def to(self, device: torch.device | str) -> "InferenceState":
        return _map(self, lambda t: t.to(device))

    @property
    def nbytes(self) -> int:
        """Memory held by the state (KV caches at their current capacity)."""
        return sum(t.numel() * t.element_size() for t in _tensors(self))
