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
from ..model.state import MambaState, put
from ..ops.ssd import ssd_step_torch
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

    # ---- incremental inference (design §1.5b) ----------------------------------------------------
    def allocate(self, batch: int, device: torch.device) -> MambaState:
        conv_dim, width = self.conv1d.weight.shape[0], self.conv1d.weight.shape[-1]
        return MambaState(conv=torch.zeros(batch, conv_dim, width - 1, device=device),
                          ssm=torch.zeros(batch, self.nheads, self.headdim, self.d_state, device=device))

    def prefill(self, u: torch.Tensor, state: MambaState, lengths: torch.Tensor) -> torch.Tensor:
        """u (b, l, d): each row's next ``lengths`` positions (right-padded), continuing ``state``,
        which is left at each row's last real position (padding has dt = 0: no decay, no input)."""
        b, l, _ = u.shape
        z, xBC, dt = torch.split(self.in_proj(u), [self.d_inner, self.d_inner + 2 * self.d_state, self.nheads], dim=-1)
        width = self.conv1d.weight.shape[-1]
        full = torch.cat([state.conv.to(xBC.dtype), xBC.transpose(1, 2)], dim=-1)  # (b, conv_dim, width-1 + l)
        conv = F.conv1d(full, self.conv1d.weight, self.conv1d.bias, groups=full.size(1))  # (b, conv_dim, l)
        idx = (lengths[:, None] + torch.arange(width - 1, device=u.device))[:, None, :].expand(-1, full.size(1), -1)
        state.conv = full.gather(-1, idx).float()  # the inputs up to each row's last real position
        xBC = F.silu(conv.transpose(1, 2))
        x, B, C = torch.split(xBC, [self.d_inner, self.d_state, self.d_state], dim=-1)
        real = torch.arange(l, device=u.device)[None, :] < lengths[:, None]
        dt = F.softplus(dt.float() + self.dt_bias.float()) * real[..., None]  # (b, l, nheads)
        A = -torch.exp(self.A_log.float())
        x = x.reshape(b, l, self.nheads, self.headdim)
        y, state.ssm = self.backend.ssd_scan(x, dt, A, B.unsqueeze(2), C.unsqueeze(2), self.chunk_size,
                                             initial_state=state.ssm, return_final_state=True)
        y = y + x.float() * self.D.float()[:, None]
        y = self.norm(y.reshape(b, l, self.d_inner), z)
        return self.out_proj(y)

    def step(self, u: torch.Tensor, state: MambaState, rows: torch.Tensor | None = None) -> torch.Tensor:
        """u (n, d): one new position for each of the state rows ``rows`` (all when None) -> (n, d).

        The recurrent form of :meth:`forward` (what mamba_ssm's ``step`` computes), written with as
        few tensor operations as possible: at batch 1 a step costs operation dispatch, not FLOPs."""
        n = u.size(0)
        z, xBC, dt = torch.split(F.linear(u, self.in_proj.weight), [self.d_inner, self.d_inner + 2 * self.d_state, self.nheads], dim=-1)
        w_past, w_now, dt_bias, A, D = self._step_constants()
        past = state.conv if rows is None else state.conv[rows]  # (n, conv_dim, width - 1)
        conv = torch.addcmul(self.conv1d.bias, xBC, w_now) + (past * w_past).sum(-1)
        new_conv = torch.cat([past[:, :, 1:], xBC[:, :, None]], dim=-1)
        x, B, C = torch.split(F.silu(conv), [self.d_inner, self.d_state, self.d_state], dim=-1)
        dt = F.softplus(dt + dt_bias)  # (n, nheads)
        x = x.reshape(n, self.nheads, self.headdim)
        y, new = ssd_step_torch(state.ssm if rows is None else state.ssm[rows], x, dt, A, B, C)
        if rows is None:
            state.conv, state.ssm = new_conv, new
        else:
            put(state.conv, rows, new_conv)
            put(state.ssm, rows, new)
        y = torch.addcmul(y, x, D).reshape(n, self.d_inner)
        g = y * F.silu(z)
        g = F.rms_norm(g, (self.d_inner,), self.norm.weight, self.norm.eps)
        return F.linear(g, self.out_proj.weight)

    def _step_constants(self) -> tuple[torch.Tensor, ...]:
        """Tensors derived from the weights that every decoding step needs, recomputed only when a
        weight changes (a step is dominated by per-operation overhead, not arithmetic)."""
        params = (self.conv1d.weight, self.dt_bias, self.A_log, self.D)
        key = tuple((p.data_ptr(), p._version) for p in params)
        cached = getattr(self, "_constants", None)
        if cached is None or cached[0] != key or torch.is_grad_enabled():
            w = self.conv1d.weight[:, 0, :]  # (conv_dim, width): taps for the past inputs, then the new one
            value = (w[:, :-1], w[:, -1], self.dt_bias.float(), -torch.exp(self.A_log.float()), self.D.float()[:, None])
            if torch.is_grad_enabled():
                return value
            self._constants = (key, value)
            return value
        return cached[1]
