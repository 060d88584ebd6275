"""Validation: bits per base over A/C/G/T targets and the realised selection fraction per stage."""

from __future__ import annotations

import math
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Iterable

import torch

from ..data.windows import Batch
from ..losses import lm_loss
from ..model.dnahnet import DnaHNet
from ..distributed import DistInfo, all_reduce_sum


@dataclass
class EvalResult:
    bits_per_base: float
    n_scored: int
    selected: list[float]  # realised boundary fraction per stage, outer first


@torch.no_grad()
def evaluate(model: DnaHNet, batches: Iterable[Batch], info: DistInfo, autocast: AbstractContextManager) -> EvalResult:
    was_training = model.training
    model.eval()
    nll, scored = 0.0, 0
    n_stages = model.config.n_stages
    chosen, positions = [0.0] * n_stages, [0.0] * n_stages
    for batch in batches:
        batch = batch.to(info.device)
        with autocast:
            out = model(batch.ids, lengths=batch.lengths)
        loss = lm_loss(out, batch.ids)
        nll += float(loss.nll_sum)
        scored += loss.n_scored
        for s, r in enumerate(out.routing):
            chosen[s] += float(r.boundary_mask.sum())
            positions[s] += float(r.mask.sum())
    totals = all_reduce_sum([nll, float(scored), *chosen, *positions], info)
    nll, scored = totals[0], int(totals[1])
    chosen, positions = totals[2 : 2 + n_stages], totals[2 + n_stages :]
    model.train(was_training)
    return EvalResult(
        bits_per_base=nll / max(scored, 1) / math.log(2),
        n_scored=scored,
        selected=[c / max(p, 1) for c, p in zip(chosen, positions)],
    )
