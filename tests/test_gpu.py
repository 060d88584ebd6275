"""CUDA checks: fused mamba_ssm kernels against the PyTorch reference, CUDA against CPU.

Skipped cleanly on machines without CUDA (CI) or without the mamba-ssm package.
"""

from __future__ import annotations

import pytest
import torch

from dnahnet_core import DnaHNet, ModelConfig, encode
from dnahnet_core.backend import Backend, fused_available
from dnahnet_core.ops.ssd import ema_torch, ssd_scan_torch

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
fused = pytest.mark.skipif(not fused_available(), reason="needs CUDA and mamba-ssm")


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).norm() / b.double().norm())


@fused
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_fused_scan_matches_reference(dtype):
    gen = torch.Generator(device="cuda").manual_seed(0)
    b, l, h, p, n = 2, 1000, 4, 64, 16
    x = torch.randn(b, l, h, p, device="cuda", generator=gen).to(dtype)
    dt = torch.nn.functional.softplus(torch.randn(b, l, h, device="cuda", generator=gen))
    A = -torch.rand(h, device="cuda", generator=gen) * 8
    B = torch.randn(b, l, 1, n, device="cuda", generator=gen).to(dtype)
    C = torch.randn(b, l, 1, n, device="cuda", generator=gen).to(dtype)
    ref = ssd_scan_torch(x.double(), dt.double(), A.double(), B.double(), C.double(), 64)
    got = Backend("fused").ssd_scan(x, dt, A, B, C, 64)
    assert torch.isfinite(got).all()
    assert rel_err(got, ref) < (1e-3 if dtype == torch.float32 else 2e-2)


@fused
def test_fused_ema_matches_reference():
    gen = torch.Generator(device="cuda").manual_seed(1)
    z = torch.randn(2, 3000, 96, device="cuda", generator=gen)
    p = torch.rand(2, 3000, device="cuda", generator=gen).clamp(1e-4, 1 - 1e-4)
    ref = ema_torch(z.double(), p.double(), 64)
    assert rel_err(Backend("fused").ema(z, p, 64), ref) < 1e-3


@fused
def test_fused_model_matches_torch_backend(phix):
    torch.manual_seed(0)
    model = DnaHNet(ModelConfig.preset("tiny"), backend="torch").cuda().eval()
    ids = encode(phix).unsqueeze(0).cuda()
    with torch.no_grad():
        ref = model(ids).logits
        model.set_backend("fused")
        got = model(ids).logits
    assert rel_err(got, ref) < 1e-3


@cuda
def test_cuda_matches_cpu_logits(phix):
    torch.manual_seed(0)
    model = DnaHNet(ModelConfig.preset("tiny"), backend="torch").eval()
    ids = encode(phix[:2000]).unsqueeze(0)
    with torch.no_grad():
        cpu = model(ids).logits
        model.cuda()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            gpu = model(ids.cuda()).logits.cpu()
    assert rel_err(gpu, cpu) < 2e-2
    assert (gpu.argmax(-1) == cpu.argmax(-1)).float().mean() > 0.95


@fused
def test_fused_scan_continues_a_state_like_the_reference():
    """prefill's path: the fused kernel with an initial state and its final state returned."""
    gen = torch.Generator(device="cuda").manual_seed(2)
    b, l, h, p, n = 2, 300, 4, 64, 16
    x = torch.randn(b, l, h, p, device="cuda", generator=gen)
    dt = torch.nn.functional.softplus(torch.randn(b, l, h, device="cuda", generator=gen))
    A = -torch.rand(h, device="cuda", generator=gen) * 8
    B = torch.randn(b, l, 1, n, device="cuda", generator=gen)
    C = torch.randn(b, l, 1, n, device="cuda", generator=gen)
    init = torch.randn(b, h, p, n, device="cuda", generator=gen)
    ref_y, ref_s = ssd_scan_torch(x.double(), dt.double(), A.double(), B.double(), C.double(), 64, init.double(), True)
    got_y, got_s = Backend("fused").ssd_scan(x, dt, A, B, C, 64, initial_state=init, return_final_state=True)
    assert rel_err(got_y, ref_y) < 1e-3 and rel_err(got_s, ref_s) < 1e-3


@fused
def test_fused_prefill_and_steps_match_the_forward_pass(phix):
    torch.manual_seed(0)
    model = DnaHNet(ModelConfig.preset("tiny"), backend="fused").cuda().eval()
    ids = encode(phix[:600]).unsqueeze(0).cuda()
    with torch.no_grad():
        ref = model(ids).logits
        out, state = model.prefill(ids[:, :300])
        _, state = model.prefill(ids[:, 300:500], state)
        steps = [model.step(ids[:, t], state)[0].logits for t in range(500, 601)]
    assert rel_err(out.logits, ref[:, :300]) < 1e-3
    assert rel_err(torch.stack(steps, 1), ref[:, 500:]) < 1e-3
