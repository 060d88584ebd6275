"""Is the hierarchy carrying the prediction? (design §1.5a)

A dnaHNet can meet its ratio targets while its chunking stages carry nothing: the decoder learns to
ignore what the inner stages hand back and the routers follow local composition. Three measures:

* **hierarchy gap** of stage s: bits per base with the output of stage s's dechunk (everything the
  inner stages hand back to stage s-1) replaced by its mean over the window's real positions, or by
  another window's output, minus the normal bits per base. A collapsed hierarchy loses nothing.
* **inner-network health**: the share of the innermost residual stream's norm that varies with
  position (a near-constant output has share ~0), and, in training, the gradient norm per stage.
* **codon phasing against a frame-free control**: stage-1 chunk-start rates at codon positions
  1/2/3 of genes read 5'->3' (minus-strand genes on the reverse-complement reading), next to the
  rates a rule that sees only the last k bases, and no reading frame, would give on the same bases.

Used by training evaluation (``metrics.jsonl``), ``dnahnet info --eval`` and
``benchmarks/hierarchy_screen.py``.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
import torch

from .data.windows import Batch
from .losses import lm_loss
from .model.dnahnet import DnaHNet
from .model.hnet import HNetStage
from .model.routing import Chunks, RoutingInfo

LN2 = math.log(2)


def chunking_stages(model: DnaHNet) -> list[HNetStage]:
    """The model's chunking stages, outer first (stage s of the list is chunking stage s+1)."""
    stages, node = [], model.backbone
    while not node.is_innermost:
        stages.append(node)
        node = node.main
    return stages


def innermost_stack(model: DnaHNet) -> torch.nn.Module:
    node = model.backbone
    while not node.is_innermost:
        node = node.main
    return node.main


# ---- hierarchy gap and inner-network health -----------------------------------------------------


@dataclass
class StageGap:
    """Bits per base when chunking stage ``stage`` (1 = outer) hands back a signal with no content."""

    stage: int
    bpb_mean: float  # its dechunk output replaced by the per-window mean over real positions
    bpb_swap: float  # ... by the output of another window of the batch (NaN for a batch of one)
    gap_mean: float  # bpb_mean - normal bits per base
    gap_swap: float


@dataclass
class InnerHealth:
    """The innermost network's residual stream (input of its final norm) over real chunks."""

    rms: float  # root mean square of all its entries
    varying_rms: float  # rms after subtracting each window's mean vector
    varying_share: float  # varying_rms / rms: 0 = a constant output, 1 = no constant part


@dataclass
class HierarchyDiagnostics:
    bits_per_base: float
    n_scored: int
    gaps: list[StageGap]
    inner: InnerHealth
    selected: list[float] = field(default_factory=list)  # realised selection per stage
    n_windows: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        parts = [f"bpb {self.bits_per_base:.4f}"]
        parts += [f"gap s{g.stage} mean {g.gap_mean:+.4f} swap {g.gap_swap:+.4f}" for g in self.gaps]
        parts.append(f"inner varying share {self.inner.varying_share:.3f} (rms {self.inner.rms:.2f})")
        return " | ".join(parts)


def _per_window_mean(y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over real positions of each window, (B, L, D) -> (B, 1, D)."""
    w = mask.unsqueeze(-1).to(y.dtype)
    return (y * w).sum(1, keepdim=True) / w.sum(1, keepdim=True).clamp(min=1)


def _replacement_hook(kind: str):
    """A forward hook for a Dechunk module that replaces its output (B, L, D) with no content."""

    def hook(module: torch.nn.Module, args: tuple[torch.Tensor, Chunks, RoutingInfo], y: torch.Tensor) -> torch.Tensor:
        mask = args[2].mask
        mean = _per_window_mean(y, mask)
        if kind == "mean":
            return mean.expand_as(y).clone()
        # Another window's output; where that window is padding, its mean.
        other, other_mask = y.roll(1, dims=0), mask.roll(1, dims=0)
        return torch.where(other_mask.unsqueeze(-1), other, mean.roll(1, dims=0).expand_as(y))

    return hook


@contextlib.contextmanager
def replaced_dechunk(model: DnaHNet, stage: int, kind: str) -> Iterator[None]:
    """Inside the block, chunking stage ``stage`` (1 = outer) hands back its mean ("mean") or another
    window's output ("swap") instead of its real dechunk output."""
    if kind not in ("mean", "swap"):
        raise ValueError(f"kind must be mean or swap, got {kind!r}")
    handle = chunking_stages(model)[stage - 1].dechunk.register_forward_hook(_replacement_hook(kind))
    try:
        yield
    finally:
        handle.remove()


@torch.no_grad()
def hierarchy_diagnostics(
    model: DnaHNet,
    batches: Iterable[Batch],
    device: torch.device | str = "cpu",
    autocast: contextlib.AbstractContextManager | None = None,
) -> HierarchyDiagnostics:
    """Hierarchy gap per chunking stage and inner-network health over ``batches``.

    Runs 1 + 2 x (chunking stages) forward passes per batch. The swap needs two windows in a batch;
    with batches of one window ``gap_swap`` is NaN.
    """
    autocast = autocast or contextlib.nullcontext()
    was_training = model.training
    model.eval()
    n_stages = model.config.n_stages
    nll = {("none", 0): 0.0, **{(k, s): 0.0 for k in ("mean", "swap") for s in range(1, n_stages + 1)}}
    swap_ok = True
    scored = n_windows = 0
    sq, sq_var, count = 0.0, 0.0, 0
    chosen, positions = [0.0] * n_stages, [0.0] * n_stages
    captured: dict[str, torch.Tensor] = {}
    inner = innermost_stack(model)
    handle = inner.norm.register_forward_hook(lambda m, args, out: captured.__setitem__("stream", args[0]))
    try:
        for batch in batches:
            batch = batch.to(device)
            n_windows += batch.ids.size(0)
            with autocast:
                out = model(batch.ids, lengths=batch.lengths)
            loss = lm_loss(out, batch.ids)
            nll[("none", 0)] += float(loss.nll_sum)
            scored += loss.n_scored
            for s, r in enumerate(out.routing):
                chosen[s] += float(r.boundary_mask.sum())
                positions[s] += float(r.mask.sum())
            # The innermost network sees one row per chunk of the last stage.
            stream = captured["stream"].float()  # (B, L_inner, D_inner)
            if out.routing:
                counts = out.routing[-1].boundary_mask.sum(1)
                inner_mask = torch.arange(stream.size(1), device=stream.device)[None, :] < counts[:, None]
            else:
                inner_mask = out.mask
            w = inner_mask.unsqueeze(-1).float()
            sq += float((stream.pow(2) * w).sum())
            sq_var += float(((stream - _per_window_mean(stream, inner_mask)).pow(2) * w).sum())
            count += int(inner_mask.sum()) * stream.size(-1)
            swap_ok &= batch.ids.size(0) > 1
            for s in range(1, n_stages + 1):
                for kind in ("mean", "swap"):
                    if kind == "swap" and batch.ids.size(0) < 2:
                        continue
                    with replaced_dechunk(model, s, kind), autocast:
                        nll[(kind, s)] += float(lm_loss(model(batch.ids, lengths=batch.lengths), batch.ids).nll_sum)
    finally:
        handle.remove()
        model.train(was_training)
    bpb = {k: v / max(scored, 1) / LN2 for k, v in nll.items()}
    base = bpb[("none", 0)]
    gaps = []
    for s in range(1, n_stages + 1):
        swap = bpb[("swap", s)] if swap_ok else float("nan")
        gaps.append(StageGap(stage=s, bpb_mean=bpb[("mean", s)], bpb_swap=swap,
                             gap_mean=bpb[("mean", s)] - base, gap_swap=swap - base))
    rms = math.sqrt(sq / max(count, 1))
    varying = math.sqrt(sq_var / max(count, 1))
    return HierarchyDiagnostics(
        bits_per_base=base, n_scored=scored, gaps=gaps,
        inner=InnerHealth(rms=rms, varying_rms=varying, varying_share=varying / rms if rms > 0 else 0.0),
        selected=[c / max(p, 1) for c, p in zip(chosen, positions)], n_windows=n_windows,
    )


def stage_grad_norms(model: DnaHNet) -> list[float]:
    """L2 norm of the current gradients of each stage's own parameters, outer stage first
    (embedding and LM head count as stage 0, as for the learning-rate multipliers)."""
    from .train.optim import stage_of_parameters

    stages = stage_of_parameters(model)
    sums = [0.0] * (model.config.n_stages + 1)
    for name, p in model.named_parameters():
        if p.grad is not None:
            sums[stages[name]] += float(p.grad.detach().float().pow(2).sum())
    return [math.sqrt(s) for s in sums]


# ---- codon phasing against a frame-free control -------------------------------------------------


@dataclass
class StrandPhasing:
    """Stage-1 chunk starts at codon positions 1/2/3 of the genes of one strand, read 5'->3'."""

    strand: str
    genes: int
    codons: int
    observed: list[float]  # chunk-start rate at codon position 1, 2, 3
    control: list[float]  # the frame-free rule's expected rate at the same bases
    excess: list[float]  # observed - control


@dataclass
class CodonPhasing:
    k: int  # the control sees the last k bases (positions t-k+1 .. t)
    genome_rate: float  # chunk starts per base over both readings
    strands: list[StrandPhasing]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _kmer_codes(ids: np.ndarray, k: int) -> np.ndarray:
    """Code of the k-mer ending at each position (ids 0-3 = ACGT); -1 where it is incomplete or has N."""
    n = ids.size
    code = np.zeros(n, dtype=np.int64)
    bad = np.zeros(n, dtype=bool)
    for j in range(k):  # base at t - j
        shifted = np.full(n, 4, dtype=np.int64)
        shifted[j:] = ids[: n - j] if j else ids
        bad |= shifted > 3
        code += np.where(shifted > 3, 0, shifted) * 4**j
    code[bad] = -1
    return code


def codon_phasing(
    ids: np.ndarray,
    starts_forward: np.ndarray,
    starts_reverse: np.ndarray,
    genes: Sequence[tuple[int, int, str]],
    k: int = 3,
) -> CodonPhasing:
    """Codon-position chunk-start rates per strand against a frame-free control.

    ``ids``: token ids of one contig (forward strand); ``starts_forward``/``starts_reverse``: bool
    stage-1 chunk starts of the forward reading and of the reverse-complement reading (in
    reverse-complement coordinates). ``genes``: (start0, end0, strand) single-interval CDS. A plus
    gene is read on the forward reading from start0; a minus gene on the reverse reading, where it
    occupies [L - end0, L - start0), so every gene is read 5'->3' by a model that sees its bases in
    the order a ribosome does. The control rate of a base is P(chunk start | the k bases ending at
    it), estimated over every base of both readings with no regard to genes or frame.
    """
    from .vocab import reverse_complement_ids

    L = ids.size
    readings = {"+": (ids, starts_forward.astype(bool)), "-": (reverse_complement_ids(ids), starts_reverse.astype(bool))}
    codes = {s: _kmer_codes(r[0], k) for s, r in readings.items()}
    hits = np.zeros(4**k)
    totals = np.zeros(4**k)
    for s, (_, mask) in readings.items():
        ok = codes[s] >= 0
        hits += np.bincount(codes[s][ok], weights=mask[ok].astype(np.float64), minlength=4**k)
        totals += np.bincount(codes[s][ok], minlength=4**k)
    rule = hits / np.maximum(totals, 1)
    genome_rate = float(readings["+"][1].mean() + readings["-"][1].mean()) / 2
    strands = []
    for strand in ("+", "-"):
        _, mask = readings[strand]
        obs, ctl, n = np.zeros(3), np.zeros(3), np.zeros(3)
        n_genes = 0
        for start0, end0, gene_strand in genes:
            if gene_strand != strand or end0 - start0 < 3:
                continue
            a, b = (start0, end0) if strand == "+" else (L - end0, L - start0)
            if a < 0 or b > L:
                continue
            n_genes += 1
            length = (b - a) // 3 * 3
            for pos in range(3):
                idx = np.arange(a + pos, a + length, 3)
                c = codes[strand][idx]
                ok = c >= 0
                obs[pos] += mask[idx][ok].sum()
                ctl[pos] += rule[c[ok]].sum()
                n[pos] += ok.sum()
        observed = (obs / np.maximum(n, 1)).tolist()
        control = (ctl / np.maximum(n, 1)).tolist()
        strands.append(StrandPhasing(strand=strand, genes=n_genes, codons=int(n[0]), observed=observed, control=control,
                                     excess=[o - c for o, c in zip(observed, control)]))
    return CodonPhasing(k=k, genome_rate=genome_rate, strands=strands)


def genome_codon_phasing(
    model: DnaHNet,
    ids: np.ndarray,
    genes: Sequence[tuple[int, int, str]],
    device: torch.device | str = "cpu",
    context: int = 8192,
    batch_size: int = 4,
    k: int = 3,
) -> CodonPhasing:
    """:func:`codon_phasing` with the stage-1 boundaries computed here, as ``dnahnet boundaries``
    computes them (windows of ``context``, stride ``context // 2``), on both readings of ``ids``."""
    forward, reverse = stage1_starts_both_readings(model, ids, device, context, batch_size)
    return codon_phasing(ids, forward, reverse, genes, k=k)


def stage1_starts_both_readings(
    model: DnaHNet,
    ids: np.ndarray,
    device: torch.device | str = "cpu",
    context: int = 8192,
    batch_size: int = 4,
) -> tuple[np.ndarray, np.ndarray]:
    """Stage-1 chunk-start masks (bool, (L,)) of the forward reading of ``ids`` and of its reverse
    complement (in reverse-complement coordinates), as ``dnahnet boundaries`` computes them."""
    from .data.fasta import FastaRecord
    from .scoring.boundaries import record_boundaries
    from .scoring.engine import LikelihoodEngine
    from .vocab import reverse_complement_ids

    engine = LikelihoodEngine(model, device if isinstance(device, torch.device) else torch.device(device), batch_size=batch_size)
    fwd = record_boundaries(FastaRecord("forward", "", ids), engine, context)
    rev = record_boundaries(FastaRecord("reverse", "", reverse_complement_ids(ids)), engine, context)
    return fwd.s1_mask, rev.s1_mask


def validation_diagnostics(
    model: DnaHNet,
    files: Sequence[str],
    windows: int = 16,
    seq_len: int = 8192,
    batch_size: int = 2,
    device: torch.device | str = "cpu",
) -> HierarchyDiagnostics:
    """:func:`hierarchy_diagnostics` over ``windows`` windows of ``seq_len`` spread evenly over the
    FASTA ``files`` (the same tiling as training evaluation)."""
    from .data.cache import TokenStore
    from .data.windows import EvalWindows

    store = TokenStore.from_files(files)
    batches = EvalWindows(store, seq_len, batch_size=batch_size, max_windows=windows)
    return hierarchy_diagnostics(model, batches, device)
