"""The one place that decides which kernels run: pure PyTorch or mamba_ssm's fused Triton kernels.

``auto`` picks the fused kernels for CUDA tensors when ``mamba_ssm`` imports, otherwise PyTorch.
``mamba_ssm`` is imported lazily: on a machine without its CUDA extensions the import fails, and
that must never break the CPU path.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import torch

from .errors import DnaHNetError
from .ops.ssd import ema_torch, ssd_scan_torch

BACKENDS = ("auto", "torch", "fused")


@functools.lru_cache(maxsize=1)
def _fused_scan() -> Callable | None:
    try:
        from mamba_ssm.ops.triton.ssd_combined import mamba_chunk_scan_combined
    except Exception:  # ImportError, or a missing/mismatched CUDA extension
        return None
    return mamba_chunk_scan_combined


def fused_available() -> bool:
    """True when CUDA is present and mamba_ssm's Triton SSD kernel imports."""
    return torch.cuda.is_available() and _fused_scan() is not None


@dataclass(frozen=True)
class Backend:
    """Kernel choice shared by every layer of a model (``model.set_backend`` swaps it)."""

    name: str = "auto"

    def __post_init__(self) -> None:
        if self.name not in BACKENDS:
            raise DnaHNetError(f"unknown backend {self.name!r} (choose from {', '.join(BACKENDS)})")
        if self.name == "fused" and not fused_available():
            raise DnaHNetError("backend 'fused' needs CUDA and the mamba-ssm package (pip install 'dnahnet[gpu]')")

    def use_fused(self, t: torch.Tensor) -> bool:
        return t.is_cuda and (self.name == "fused" or (self.name == "auto" and fused_available()))

    def ssd_scan(self, x, dt, A, B, C, chunk_size: int, initial_state=None, return_final_state: bool = False):
        """Mamba-2 scan: x (b,l,h,p), dt (b,l,h) post-softplus, A (h,) < 0, B/C (b,l,g,n).
        With ``return_final_state``: (y, state (b,h,p,n)); ``initial_state`` continues a state."""
        if self.use_fused(x):
            return _fused_scan()(x.contiguous(), dt.contiguous(), A, B.contiguous(), C.contiguous(), chunk_size,
                                 initial_states=initial_state, return_final_states=return_final_state)
        return ssd_scan_torch(x, dt, A, B, C, chunk_size, initial_state, return_final_state)

    def ema(self, z: torch.Tensor, p: torch.Tensor, chunk_size: int, initial=None, return_final: bool = False):
        """Dechunk smoothing out_k = p_k z_k + (1-p_k) out_{k-1}; z (b,k,d) fp32, p (b,k) in [0, 1).
        ``initial`` (b,d) is out_{-1}; with ``return_final``: (out, last value (b,d))."""
        if self.use_fused(z):
            # As the H-Net code does: decay exp(dt*A) = 1-p with dt = -log(1-p), A = -1, and
            # input dt * (z/dt) * B = p z with B = p, C = 1, one head of width d; p = 0 is padding.
            b, k, d = z.shape
            dt = -torch.log1p(-p)
            x = torch.where(dt.unsqueeze(-1) > 0, z / dt.clamp(min=1e-30).unsqueeze(-1), torch.zeros_like(z)).unsqueeze(2)
            A = -torch.ones(1, device=z.device, dtype=torch.float32)
            Bm = p.view(b, k, 1, 1).to(z.dtype)
            Cm = torch.ones_like(Bm)
            init = initial.view(b, 1, d, 1).float() if initial is not None else None
            out = _fused_scan()(x.contiguous(), dt.unsqueeze(-1).contiguous(), A, Bm, Cm, chunk_size,
                                initial_states=init, return_final_states=return_final)
            if return_final:
                y, final = out
                return y.squeeze(2).to(z.dtype), final.view(b, d)
            return out.squeeze(2).to(z.dtype)
        if return_final:
            y, final = ema_torch(z, p, chunk_size, initial, True)
            return y.to(z.dtype), final
        return ema_torch(z, p, chunk_size, initial).to(z.dtype)
