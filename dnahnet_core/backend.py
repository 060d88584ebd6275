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

    def ssd_scan(self, x, dt, A, B, C, chunk_size: int) -> torch.Tensor:
        """Mamba-2 scan: x (b,l,h,p), dt (b,l,h) post-softplus, A (h,) < 0, B/C (b,l,g,n)."""
        if self.use_fused(x):
            return _fused_scan()(x.contiguous(), dt.contiguous(), A, B.contiguous(), C.contiguous(), chunk_size)
        return ssd_scan_torch(x, dt, A, B, C, chunk_size)

    def ema(self, z: torch.Tensor, p: torch.Tensor, chunk_size: int) -> torch.Tensor:
        """Dechunk smoothing out_k = p_k z_k + (1-p_k) out_{k-1}; z (b,k,d) fp32, p (b,k)."""
        if self.use_fused(z):
            # As the H-Net code does: decay exp(dt*A) = 1-p with dt = -log(1-p), A = -1, and
            # input dt * (z/dt) * B = p z with B = p, C = 1, one head of width d.
            dt = -torch.log1p(-p)
            x = (z / dt.unsqueeze(-1)).unsqueeze(2)  # (b,k,1,d)
            A = -torch.ones(1, device=z.device, dtype=torch.float32)
            Bm = p.view(*p.shape, 1, 1).to(z.dtype)
            Cm = torch.ones_like(Bm)
            y = _fused_scan()(x.contiguous(), dt.unsqueeze(-1).contiguous(), A, Bm, Cm, chunk_size)
            return y.squeeze(2).to(z.dtype)
        return ema_torch(z, p, chunk_size).to(z.dtype)
