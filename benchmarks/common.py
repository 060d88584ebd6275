"""Helpers shared by the benchmark scripts: matched baselines, timing and peak memory."""

from __future__ import annotations

import multiprocessing as mp
import resource
import time
from typing import Any, Callable

import torch

from dnahnet_core import DnaHNet, ModelConfig


def count_params(config: ModelConfig) -> int:
    with torch.device("meta"):
        return DnaHNet(config).num_parameters()


def isotropic(letter: str, like: ModelConfig) -> ModelConfig:
    """An isotropic model of the same blocks at the innermost width, depth chosen to match the
    parameter count of ``like`` as closely as possible."""
    target = count_params(like)
    d = like.d_model[-1]
    base = dict(d_model=[d], d_intermediate=[like.d_intermediate[-1]], num_heads=[like.num_heads[-1]],
                attn_window=[0], ratio_targets=[], d_state=like.d_state, ssm_headdim=like.ssm_headdim,
                ssm_chunk_size=like.ssm_chunk_size)
    best = min(
        (ModelConfig(layout=[f"{letter}{n}"], name=f"isotropic-{letter}{n}", **base) for n in range(1, 64)),
        key=lambda c: abs(count_params(c) - target),
    )
    return best.validate()


def _child(fn: Callable[[], dict[str, Any]], queue: Any) -> None:
    try:
        queue.put(fn())
    except Exception as err:  # report, do not hang the parent
        queue.put({"error": f"{type(err).__name__}: {err}"})


def isolated(fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run ``fn`` in a forked child so its peak RSS is its own (CPU peak-memory measurement)."""
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(fn, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _one_run(fn: Callable[[], Any], device: torch.device) -> float:
    """Wall time of one call, with the GPU's queued work included."""
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def timed(fn: Callable[[], Any], device: torch.device, repeats: int) -> float:
    """Median wall time of ``fn`` over ``repeats`` runs after one warm-up.

    A warm-up slower than 20 s is itself the measurement: at that size one run is long enough to be
    stable, and repeating a minutes-long quadratic-attention pass buys nothing.
    """
    warm = _one_run(fn, device)
    if warm > 20:
        return warm
    times = sorted(_one_run(fn, device) for _ in range(repeats))
    return times[len(times) // 2]
