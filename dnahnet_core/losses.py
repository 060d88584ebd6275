"""Training objective (design §1.5): next-nucleotide cross-entropy + alpha * sum of ratio losses.

Only A/C/G/T targets count (N targets are masked and counted as ``n_masked``) so bits per base are
comparable across genomes; padding is masked everywhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .model.dnahnet import ModelOutput
from .model.routing import RoutingInfo
from .vocab import N


@dataclass
class LMLoss:
    loss: torch.Tensor  # mean negative log-likelihood per scored target, nats (differentiable)
    nll_sum: torch.Tensor  # summed NLL over scored targets, nats (float64, detached)
    n_scored: int  # A/C/G/T targets
    n_masked: int  # N targets inside the real sequence

    @property
    def bits_per_base(self) -> float:
        return float(self.nll_sum) / max(self.n_scored, 1) / math.log(2)


def scored_mask(ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Targets that count: real (non-padding) positions whose token is A/C/G/T. (B, L-1)."""
    targets = ids[:, 1:]
    return mask[:, 1:] & (targets < N)


def lm_loss(out: ModelOutput, ids: torch.Tensor) -> LMLoss:
    valid = scored_mask(ids, out.mask)
    nll = F.cross_entropy(out.logits[:, :-1].float().transpose(1, 2), ids[:, 1:], reduction="none")  # (B, L-1)
    nll = torch.where(valid, nll, torch.zeros_like(nll))  # a non-finite masked value must not leak
    n_scored = int(valid.sum())
    n_masked = int((out.mask[:, 1:] & (ids[:, 1:] == N)).sum())
    return LMLoss(
        loss=nll.sum() / max(n_scored, 1),
        nll_sum=nll.detach().sum(dtype=torch.float64),
        n_scored=n_scored,
        n_masked=n_masked,
    )


def ratio_loss(routing: RoutingInfo, target: float) -> torch.Tensor:
    """H-Net ratio loss N/(N-1) * ((N-1) F G + (1-F)(1-G)); equals 1 at F = G = 1/N.

    F = realised fraction of boundaries (no gradient), G = mean boundary probability, both over
    real positions only.
    """
    mask = routing.mask
    count = mask.sum().clamp(min=1)
    F_ = (routing.boundary_mask & mask).sum() / count
    G = (routing.boundary_prob * mask).sum() / count
    n = target
    return n / (n - 1) * ((n - 1) * F_.detach() * G + (1 - F_.detach()) * (1 - G))


@dataclass
class TotalLoss:
    total: torch.Tensor
    lm: LMLoss
    ratio: list[torch.Tensor]  # one per stage, outer first
    selected: list[float]  # realised selection fraction per stage


def total_loss(out: ModelOutput, ids: torch.Tensor, ratio_targets: list[float], alpha: float) -> TotalLoss:
    lm = lm_loss(out, ids)
    ratios = [ratio_loss(r, t) for r, t in zip(out.routing, ratio_targets)]
    total = lm.loss + alpha * sum(ratios, torch.zeros((), device=lm.loss.device))
    return TotalLoss(total=total, lm=lm, ratio=ratios, selected=[r.selected_fraction for r in out.routing])
