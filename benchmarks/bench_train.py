"""Training throughput (bp/s of one optimizer step: forward, backward, AdamW) per preset.

    python benchmarks/bench_train.py --presets tiny small --seq-len 8192 --batch-size 2
    python benchmarks/bench_train.py --presets small --profile 15   # where one step's time goes
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time

import torch

from dnahnet_core import DnaHNet, ModelConfig
from dnahnet_core.losses import total_loss
from dnahnet_core.train.optim import make_optimizer


def step_time(preset: str, seq_len: int, batch: int, device: torch.device, steps: int, profile: int = 0) -> dict:
    torch.manual_seed(0)
    cfg = ModelConfig.preset(preset)
    model = DnaHNet(cfg).to(device)
    opt = make_optimizer(model, 1e-3, 0.05, [3.0, 1.7, 0.9][: cfg.n_stages + 1])
    ids = torch.randint(0, 4, (batch, seq_len + 1), device=device)
    ids[:, 0] = 5
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext()
    times = []
    for i in range(steps + 1):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        with autocast:
            out = model(ids)
        total_loss(out, ids, cfg.ratio_targets, 0.02).total.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i:  # the first step pays one-off allocation costs
            times.append(time.perf_counter() - t0)
    if profile:
        # One more step under the profiler: the operators that dominate the step's CPU time.
        from torch.profiler import ProfilerActivity, profile as torch_profile

        with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
            with autocast:
                out = model(ids)
            total_loss(out, ids, cfg.ratio_targets, 0.02).total.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=profile), flush=True)
    t = sorted(times)[len(times) // 2]
    return {"preset": preset, "params": model.num_parameters(), "seq_len": seq_len, "batch": batch,
            "step_s": t, "bp_per_s": batch * seq_len / t, "selected": [round(r.selected_fraction, 3) for r in out.routing]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", nargs="+", default=["tiny", "small"])
    ap.add_argument("--seq-len", type=int, default=8192)
    ap.add_argument("--batch-size", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--profile", type=int, default=0, metavar="N", help="also print the N most expensive operators of one step")
    args = ap.parse_args()
    for preset in args.presets:
        print(json.dumps(step_time(preset, args.seq_len, args.batch_size, torch.device(args.device), args.steps, args.profile)), flush=True)


if __name__ == "__main__":
    main()
