"""Forward (scoring) throughput and peak memory: dnaHNet vs isotropic Transformer and Mamba-2.

The baselines use the same blocks (attention+SwiGLU `T`, or Mamba-2 `m`) at the innermost width,
with depth chosen to match dnaHNet's parameter count. All models run in the same process and run,
batch 1, inference mode, fp32 on CPU / bf16 autocast on CUDA.

    python benchmarks/bench_forward.py --preset small --min-log2 12 --max-log2 16
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import count_params, isolated, isotropic, peak_rss_mib, timed  # noqa: E402

from dnahnet_core import DnaHNet, ModelConfig  # noqa: E402


def measure(config: ModelConfig, L: int, device: torch.device, repeats: int, seed: int) -> dict:
    torch.manual_seed(seed)
    model = DnaHNet(config).to(device).eval()
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, 4, (1, L), generator=gen)
    ids[0, 0] = 5
    ids = ids.to(device)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")

    def forward():
        with torch.inference_mode(), autocast:
            return model(ids)

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        base = peak_rss_mib()
    seconds = timed(forward, device, repeats)
    out = forward()
    peak = (torch.cuda.max_memory_allocated() - base) / 2**20 if device.type == "cuda" else peak_rss_mib() - base
    return {
        "model": config.name,
        "params": count_params(config),
        "L": L,
        "seconds": seconds,
        "bp_per_s": L / seconds,
        "peak_mib": peak,
        "selected": [round(r.selected_fraction, 3) for r in out.routing],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="small")
    ap.add_argument("--min-log2", type=int, default=12)
    ap.add_argument("--max-log2", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, help="also write the rows as JSON lines here")
    args = ap.parse_args()
    device = torch.device(args.device)

    hnet = ModelConfig.preset(args.preset)
    models = [hnet, isotropic("T", hnet), isotropic("m", hnet)]
    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}", file=sys.stderr)
    rows = []
    for log2 in range(args.min_log2, args.max_log2 + 1):
        L = 2**log2
        for cfg in models:
            job = lambda: measure(cfg, L, device, args.repeats, args.seed)  # noqa: E731
            row = isolated(job) if device.type == "cpu" else job()
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
            if args.json:
                with open(args.json, "a") as f:
                    f.write(json.dumps(row) + "\n")

    # Markdown table: throughput, memory and the speed-up of dnaHNet over each baseline.
    names = [m.name for m in models]
    print("| L | " + " | ".join(f"{n} bp/s" for n in names) + " | " + " | ".join(f"{n} peak MiB" for n in names)
          + " | speed-up vs " + " | speed-up vs ".join(names[1:]) + " |")
    print("|" + "---|" * (1 + 2 * len(names) + len(names) - 1))
    for log2 in range(args.min_log2, args.max_log2 + 1):
        L = 2**log2
        r = {row["model"]: row for row in rows if row["L"] == L}
        if any("error" in r.get(n, {"error": 1}) for n in names):
            continue
        cells = [f"{r[n]['bp_per_s']:,.0f}" for n in names] + [f"{r[n]['peak_mib']:,.0f}" for n in names]
        cells += [f"{r[names[0]]['bp_per_s'] / r[n]['bp_per_s']:.2f}x" for n in names[1:]]
        print(f"| 2^{log2} | " + " | ".join(cells) + " |")
    print("params: " + ", ".join(f"{m.name} {count_params(m):,}" for m in models))


if __name__ == "__main__":
    main()
