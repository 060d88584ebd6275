"""Generation speed: the incremental state cache against recomputing the forward pass every step.

Both run side by side in one process on the same model, prompt and seed. "cached" is
``dnahnet_core.generate.generate`` (prefill once, then one ``step`` per nucleotide). "recompute" is
what a model without a cache must do: a full forward over BOS + everything so far, for every new
nucleotide. Recomputing is too slow to run to 10,000 nt, so it is timed at evenly spaced lengths and
integrated over the run (trapezoid rule; the measured lengths are in the JSON). State memory is the
size of the state tensors (KV caches at their allocated capacity) after each length.

    python benchmarks/bench_generate.py --lengths 2000 10000 --batches 1 16 --json benchmarks/results_generate_cpu.json
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from dnahnet_core.checkpoint import load_model
from dnahnet_core.generate import GenerationConfig, Prompt, generate
from dnahnet_core.scoring.model_io import embedded_model_path
from dnahnet_core.vocab import BOS


def cached_rate(model, length: int, batch: int, repeats: int) -> float:
    """Median over ``repeats`` runs (a decoding step is short: timings jitter by ~10%)."""
    cfg = GenerationConfig(length=length, num_samples=batch, batch_size=batch, seed=0)
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        n = sum(len(g.ids) for g in generate(model, [Prompt("p", np.zeros(0, dtype=np.uint8))], cfg))
        rates.append(n / (time.perf_counter() - t0))
    return float(np.median(rates))


@torch.inference_mode()
def recompute_rate(model, length: int, batch: int, points: int) -> tuple[float, list[dict]]:
    """Nucleotides per second when each step re-runs the forward pass over the whole sequence."""
    rng = np.random.default_rng(0)
    measured = []
    for L in np.linspace(1, length, points).astype(int):
        ids = torch.from_numpy(np.concatenate([[BOS], rng.integers(0, 4, L - 1)])).long()[None].repeat(batch, 1)
        model(ids)  # warm-up at this shape
        t0 = time.perf_counter()
        model(ids)
        measured.append({"length": int(L), "seconds": time.perf_counter() - t0})
    xs = np.array([m["length"] for m in measured], dtype=float)
    ys = np.array([m["seconds"] for m in measured])
    total = float(np.sum((ys[1:] + ys[:-1]) / 2 * np.diff(xs)))  # seconds for steps 1..length
    return batch * length / total, measured


@torch.inference_mode()
def state_memory(model, lengths: list[int]) -> list[dict]:
    rng = np.random.default_rng(1)
    rows = []
    for L in lengths:
        ids = torch.from_numpy(np.concatenate([[BOS], rng.integers(0, 4, L)])).long()[None]
        _, state = model.prefill(ids)
        rows.append({"length": L, "state_bytes": state.nbytes})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(embedded_model_path()))
    ap.add_argument("--lengths", type=int, nargs="+", default=[2000, 10000])
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 16])
    ap.add_argument("--points", type=int, default=6, help="lengths at which recomputation is timed")
    ap.add_argument("--threads", type=int, default=1, help="intra-op threads (1 is fastest for decoding)")
    ap.add_argument("--repeats", type=int, default=3, help="cached runs per setting (median reported)")
    ap.add_argument("--json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(args.model, device="cpu", backend="torch").eval()
    rows = []
    for length in args.lengths:
        for batch in args.batches:
            cached = cached_rate(model, length, batch, args.repeats if length * batch <= 40_000 else 1)
            recompute, measured = recompute_rate(model, length, batch, args.points)
            row = {"length": length, "batch": batch, "cached_nt_per_s": cached, "recompute_nt_per_s": recompute,
                   "speedup": cached / recompute, "recompute_timings": measured}
            rows.append(row)
            print(f"L={length} batch={batch}: cached {cached:,.0f} nt/s, recompute {recompute:,.1f} nt/s, "
                  f"speed-up {cached / recompute:,.0f}x", flush=True)
    memory = state_memory(model, [1000, 2000, 5000, 10000, 20000])
    for m in memory:
        print(f"state after {m['length']:,} nt: {m['state_bytes'] / 2**20:.2f} MiB")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": args.threads, "model": args.model, "rows": rows, "state_memory": memory}, f, indent=1)


if __name__ == "__main__":
    main()
