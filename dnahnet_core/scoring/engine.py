"""The common primitive of every scoring recipe: per-position log-likelihoods of windows.

LL(window) = sum of log p(x_t | BOS, x_<t) over its A/C/G/T targets, from one causal forward pass.
Windows are sorted by length and packed into right-padded batches under a token budget; the model
is causal and padding is masked, so results do not depend on batch size or on batch-mates (up to
float rounding, ~1e-6). Identical windows are computed once.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from ..errors import DnaHNetError
from ..model.dnahnet import DnaHNet, ModelOutput
from ..vocab import BOS, N


@dataclass
class WindowRouting:
    """Boundary decisions of one window, mapped to its nucleotides (BOS excluded).

    stage_prob[s] / stage_mask[s]: for stage 1 (s = 0), one entry per nucleotide; for deeper
    stages, one entry per chunk of the previous stage, with ``stage_pos[s]`` giving the nucleotide
    index (0-based in the window) where that chunk starts.
    """

    stage_prob: list[np.ndarray]
    stage_mask: list[np.ndarray]
    stage_pos: list[np.ndarray]


def resolve_device(name: str) -> torch.device:
    """auto/cpu/cuda; under torchrun, CUDA means this rank's own GPU (LOCAL_RANK)."""
    from ..distributed import resolve_device as resolve

    device = resolve(name, int(os.environ.get("LOCAL_RANK", "0")))
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DnaHNetError("--device cuda: no CUDA device is available (use --device cpu or auto)")
        torch.cuda.set_device(device)
    return device


@dataclass
class ForwardBatch:
    ids: torch.Tensor  # (b, L) long: BOS + window tokens, N-padded
    lengths: torch.Tensor  # (b,) real tokens per row, BOS included
    out: ModelOutput


class LikelihoodEngine:
    """Batched, padding-invariant inference over token windows (uint8 arrays, no BOS)."""

    def __init__(self, model: DnaHNet, device: str | torch.device = "auto", batch_size: int = 8, max_tokens: int | None = None) -> None:
        self.device = resolve_device(device) if isinstance(device, str) else device
        self.model = model.to(self.device).eval()
        self.batch_size = max(1, batch_size)
        # Token budget per batch (the memory knob): GPUs take far more than CPUs.
        self.max_tokens = max_tokens or (262_144 if self.device.type == "cuda" else 65_536)

    def autocast(self):
        """bf16 autocast on CUDA, nothing on CPU (fp32: bf16 matmuls are slow on CPUs)."""
        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def batches(self, lengths: list[int]) -> list[list[int]]:
        """Window indices grouped into forward passes: longest first, at most ``batch_size`` windows
        and ``max_tokens`` padded tokens each."""
        order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
        batches, current = [], []
        for i in order:
            longest = lengths[current[0]] + 1 if current else lengths[i] + 1
            if current and (len(current) >= self.batch_size or (len(current) + 1) * longest > self.max_tokens):
                batches.append(current)
                current = []
            current.append(i)
        if current:
            batches.append(current)
        return batches

    def forward_batch(self, windows: Sequence[np.ndarray], idx: list[int]) -> ForwardBatch:
        """One padded forward pass over ``windows[i]`` for i in ``idx`` (BOS prepended)."""
        L = max(len(windows[i]) for i in idx) + 1
        ids = torch.full((len(idx), L), N, dtype=torch.long)
        ids[:, 0] = BOS
        for row, i in enumerate(idx):
            ids[row, 1 : len(windows[i]) + 1] = torch.from_numpy(windows[i].astype(np.int64))
        lengths = torch.tensor([len(windows[i]) + 1 for i in idx])
        with torch.inference_mode(), self.autocast():
            out = self.model(ids.to(self.device), lengths=lengths.to(self.device))
        return ForwardBatch(ids=ids, lengths=lengths, out=out)

    def log_probs(self, windows: Sequence[np.ndarray]) -> list[np.ndarray]:
        """For each window w: float32 array of log p(w[i] | BOS, w[:i]); NaN where w[i] is N."""
        unique: dict[bytes, int] = {}  # identical windows (same tokens) are computed once
        keys = [unique.setdefault(np.ascontiguousarray(w, dtype=np.uint8).tobytes(), len(unique)) for w in windows]
        distinct = [None] * len(unique)
        for w, k in zip(windows, keys):
            distinct[k] = w
        results: list[np.ndarray | None] = [None] * len(distinct)
        for idx in self.batches([len(w) for w in distinct]):
            fb = self.forward_batch(distinct, idx)
            ids, out = fb.ids, fb.out
            logp = torch.log_softmax(out.logits[:, :-1].float(), dim=-1)
            target = logp.gather(-1, ids[:, 1:].to(logp.device).unsqueeze(-1)).squeeze(-1).cpu().numpy()
            for row, i in enumerate(idx):
                n = len(distinct[i])
                lp = target[row, :n].astype(np.float32)
                lp[distinct[i] == N] = np.nan
                results[i] = lp
        return [results[k] for k in keys]

    def routing(self, windows: Sequence[np.ndarray]) -> list[WindowRouting]:
        """Boundary probabilities and decisions of every stage, in nucleotide coordinates."""
        results: list[WindowRouting | None] = [None] * len(windows)
        for idx in self.batches([len(w) for w in windows]):
            fb = self.forward_batch(windows, idx)
            lengths, out = fb.lengths, fb.out
            for row, i in enumerate(idx):
                n = int(lengths[row]) - 1
                # Stage 1 runs on [BOS, x_0 .. x_{n-1}]; nucleotide j is token j + 1.
                pos = np.arange(-1, n)  # nucleotide index of every stage-1 position (-1 = BOS)
                probs, masks, positions = [], [], []
                for r in out.routing:
                    m = r.mask[row].cpu().numpy()
                    p = r.boundary_prob[row].float().cpu().numpy()[m]
                    b = r.boundary_mask[row].cpu().numpy()[m]
                    probs.append(p[1:] if not positions else p)
                    masks.append(b[1:] if not positions else b)
                    positions.append(pos[1:] if not positions else pos)
                    pos = pos[b]  # positions of the chunks this stage selects, for the next stage
                # Deeper stages: drop the chunk that starts at BOS (it is not a nucleotide).
                for s in range(1, len(probs)):
                    keep = positions[s] >= 0
                    probs[s], masks[s], positions[s] = probs[s][keep], masks[s][keep], positions[s][keep]
                results[i] = WindowRouting(stage_prob=probs, stage_mask=masks, stage_pos=positions)
        return results  # type: ignore[return-value]
