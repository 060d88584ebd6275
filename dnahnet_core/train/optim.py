"""AdamW parameter groups (per stage x decay) and the warmup + cosine learning-rate schedule."""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from ..model.dnahnet import DnaHNet


def stage_of_parameters(model: DnaHNet) -> dict[str, int]:
    """Map every parameter name to its H-Net stage (0 = outermost; embeddings and head are 0)."""
    stages: dict[str, int] = {}
    node, prefix, s = model.backbone, "backbone.", 0
    while True:
        inner = None if node.is_innermost else node.main
        for name, _ in node.named_parameters():
            if inner is None or not name.startswith("main."):
                stages[prefix + name] = s
        if inner is None:
            break
        node, prefix, s = inner, prefix + "main.", s + 1
    for name, _ in model.named_parameters():
        stages.setdefault(name, 0)
    return stages


def no_weight_decay(name: str, param: nn.Parameter) -> bool:
    """Norm weights, biases, embeddings and SSM scalars (1-D) are not decayed; nor routing."""
    return param.dim() < 2 or getattr(param, "_no_weight_decay", False) or name.startswith("embeddings.")


def param_groups(model: DnaHNet, lr: float, weight_decay: float, multipliers: list[float]) -> list[dict]:
    """One group per (stage, decay) with lr = base lr x that stage's multiplier."""
    stages = stage_of_parameters(model)
    groups: dict[tuple[int, bool], dict] = {}
    for name, p in model.named_parameters():
        s, nd = stages[name], no_weight_decay(name, p)
        g = groups.setdefault(
            (s, nd),
            {"params": [], "names": [], "stage": s, "lr": lr * multipliers[s], "lr_mult": multipliers[s],
             "weight_decay": 0.0 if nd else weight_decay},
        )
        g["params"].append(p)
        g["names"].append(name)
    return [groups[k] for k in sorted(groups)]


def make_optimizer(model: DnaHNet, lr: float, weight_decay: float, multipliers: list[float]) -> torch.optim.AdamW:
    groups = param_groups(model, lr, weight_decay, multipliers)
    fused = next(model.parameters()).is_cuda
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95), eps=1e-8, fused=fused)


def lr_factor(step: int, warmup: int, total: int, min_ratio: float) -> float:
    """Linear warmup to 1, then cosine decay to ``min_ratio`` at ``total`` steps."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def make_scheduler(optimizer: torch.optim.Optimizer, warmup: int, total: int, min_ratio: float):
    # LambdaLR multiplies each group's own initial lr, so the stage multipliers persist.
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, warmup, total, min_ratio))
