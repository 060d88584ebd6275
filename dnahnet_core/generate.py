"""Sampling DNA from a dnaHNet with the incremental state (design §1.5b).

Each prompt is prefilled once; its state is repeated for every sample, and all rows then advance
one nucleotide per step: the stage-0 encoder and decoder step every time, stage 1 only for rows
whose nucleotide starts a chunk, the innermost network only when that chunk also starts a stage-2
chunk. Only A/C/G/T are ever sampled (N and BOS are never emitted).

Reproducibility: every sample draws its uniforms from its own generator, seeded from (seed, prompt
index, sample index), and picks a token by inverting its categorical CDF. The same seed therefore
gives the same sequences whatever the batch size (up to a uniform landing within float rounding of a
CDF step, which the tests guard against on real data).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable, Iterator, Sequence

import numpy as np
import torch

from .errors import ConfigError
from .model.dnahnet import DnaHNet
from .vocab import BOS

#: Tokens that may be sampled: A, C, G, T (ids 0-3).
N_BASES = 4


@dataclass
class GenerationConfig:
    length: int = 1000
    num_samples: int = 1
    temperature: float = 1.0  # 0 = greedy (argmax)
    top_k: int = 0  # 0 = off; otherwise keep the k most likely bases (k <= 4)
    top_p: float = 1.0  # nucleus sampling: keep the smallest set of bases with mass >= top_p
    seed: int = 0
    batch_size: int = 16  # rows stepped together

    def problems(self) -> list[str]:
        out = []
        if self.length < 1:
            out.append(f"length = {self.length}: must be >= 1")
        if self.num_samples < 1:
            out.append(f"num_samples = {self.num_samples}: must be >= 1")
        if self.temperature < 0:
            out.append(f"temperature = {self.temperature}: must be >= 0 (0 = greedy)")
        if not 0 <= self.top_k <= N_BASES:
            out.append(f"top_k = {self.top_k}: must be between 0 (off) and {N_BASES}")
        if not 0 < self.top_p <= 1:
            out.append(f"top_p = {self.top_p}: must be in (0, 1]")
        if self.seed < 0:
            out.append(f"seed = {self.seed}: must be >= 0")
        if self.batch_size < 1:
            out.append(f"batch_size = {self.batch_size}: must be >= 1")
        return out

    def validate(self) -> "GenerationConfig":
        problems = self.problems()
        if problems:
            raise ConfigError(problems)
        return self

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Prompt:
    name: str
    ids: np.ndarray  # uint8 token ids, no BOS (may be empty: start from BOS alone)


@dataclass
class GeneratedSequence:
    prompt: str  # the prompt's name
    sample: int  # 0-based sample index of that prompt
    ids: np.ndarray  # uint8 generated token ids (A/C/G/T), without the prompt
    log_prob: float  # sum of log p of the sampled tokens under the (unfiltered) model
    #: Per stage, outer first: p and decision of every generated nucleotide at stage 1 (length L);
    #: at stage s > 1 one entry per generated stage-(s-1) chunk start, in order.
    boundary_prob: list[np.ndarray] = field(default_factory=list)
    boundary_mask: list[np.ndarray] = field(default_factory=list)

    @property
    def sequence(self) -> str:
        return "".join("ACGTN"[i] for i in self.ids.tolist())


def filtered_probs(logits: torch.Tensor, cfg: GenerationConfig) -> torch.Tensor:
    """Sampling distribution over A/C/G/T (n, 4) from next-token logits (n, vocab)."""
    logits = logits[:, :N_BASES].float()
    if cfg.temperature == 0:
        return torch.nn.functional.one_hot(logits.argmax(-1), N_BASES).float()
    probs = torch.softmax(logits / cfg.temperature, dim=-1)
    if cfg.top_k:
        kth = probs.topk(cfg.top_k, dim=-1).values[:, -1:]
        probs = torch.where(probs >= kth, probs, torch.zeros_like(probs))
    if cfg.top_p < 1:
        sorted_p, order = probs.sort(dim=-1, descending=True)
        before = sorted_p.cumsum(-1) - sorted_p  # mass of the more likely bases
        keep_sorted = before < cfg.top_p * sorted_p.sum(-1, keepdim=True)
        keep = torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)
        probs = torch.where(keep, probs, torch.zeros_like(probs))
    return probs / probs.sum(-1, keepdim=True)


def _sample(probs: torch.Tensor, uniforms: torch.Tensor) -> torch.Tensor:
    """Invert each row's CDF at its uniform: (n, 4), (n,) -> (n,) token ids."""
    cdf = probs.cumsum(-1)
    cdf[:, -1] = 1.0
    return torch.searchsorted(cdf, uniforms[:, None].to(cdf.dtype), right=True).squeeze(1).clamp(max=N_BASES - 1)


def _generators(cfg: GenerationConfig, prompt_index: int, samples: Sequence[int]) -> list[torch.Generator]:
    gens = []
    for j in samples:
        seed = int(np.random.SeedSequence([cfg.seed, prompt_index, j]).generate_state(1)[0])
        gens.append(torch.Generator().manual_seed(seed))
    return gens


@torch.inference_mode()
def generate(
    model: DnaHNet,
    prompts: Sequence[Prompt],
    cfg: GenerationConfig,
    device: torch.device | str = "cpu",
    progress: Callable[[int], None] | None = None,
    skip: int = 0,
) -> Iterator[GeneratedSequence]:
    """Yield ``cfg.num_samples`` sequences per prompt, in prompt order then sample order, leaving out
    the first ``skip`` of them (already generated by an interrupted run: every sample has its own
    random stream, so the rest come out exactly as they would have).
    ``progress(n)`` is called with the number of nucleotides generated since its last call."""
    cfg.validate()
    model.eval()
    device = torch.device(device)
    n_stages = model.config.n_stages
    for pi, prompt in enumerate(prompts):
        first = max(0, skip - pi * cfg.num_samples)  # this prompt's first sample still to make (batch-aligned when resuming)
        if first >= cfg.num_samples:
            continue
        ids = torch.from_numpy(np.concatenate([[BOS], prompt.ids]).astype(np.int64)).to(device)[None]
        out, base = model.prefill(ids)
        first_logits = out.logits[:, -1]  # (1, vocab): the prediction of the first new nucleotide
        for lo in range(first, cfg.num_samples, cfg.batch_size):
            samples = list(range(lo, min(cfg.num_samples, lo + cfg.batch_size)))
            n = len(samples)
            state = base.repeat(n)
            gens = _generators(cfg, pi, samples)
            logits = first_logits.expand(n, -1)
            # Per step tensors, converted once at the end (a step is dominated by per-call overhead).
            toks, logps = [], []
            probs_t = [[] for _ in range(n_stages)]
            masks_t = [[] for _ in range(n_stages)]
            for t in range(cfg.length):
                probs = filtered_probs(logits, cfg)
                u = torch.stack([torch.rand((), generator=g) for g in gens]).to(device)
                tok = _sample(probs, u)
                logps.append(torch.log_softmax(logits.float(), dim=-1).gather(1, tok[:, None])[:, 0])
                toks.append(tok)
                step, state = model.step(tok, state)
                logits = step.logits
                for s_ in range(n_stages):
                    probs_t[s_].append(step.decisions.prob[s_])
                    masks_t[s_].append(step.decisions.mask[s_])
                if progress is not None:
                    progress(n)
            tokens = torch.stack(toks, 1).cpu().numpy().astype(np.uint8)  # (n, length)
            log_prob = torch.stack(logps, 1).double().sum(1).cpu().numpy()
            stage_p = [torch.stack(p_, 1).cpu().numpy() for p_ in probs_t]  # (n, length), NaN where not reached
            stage_b = [torch.stack(b_, 1).cpu().numpy() for b_ in masks_t]
            for r, j in enumerate(samples):
                reached = [~np.isnan(stage_p[s_][r]) for s_ in range(n_stages)]
                yield GeneratedSequence(
                    prompt=prompt.name, sample=j, ids=tokens[r], log_prob=float(log_prob[r]),
                    boundary_prob=[stage_p[s_][r][reached[s_]].astype(np.float32) for s_ in range(n_stages)],
                    boundary_mask=[stage_b[s_][r][reached[s_]].astype(bool) for s_ in range(n_stages)],
                )
