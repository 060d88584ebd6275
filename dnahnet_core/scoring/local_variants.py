"""Variant scoring that reuses the reference (design §2, "local" protocol; Scoring v2).

Protocol, per strand read 5'->3' (the reverse strand reads the reverse-complemented contig):

* the contig is cut into blocks of ``block`` bases (a fixed grid, so a variant's result never
  depends on the other variants of the file); a variant whose REF starts at q, in block k, is read
  with the left context ``[k*block - left_context, q)`` (between ``left_context`` and
  ``left_context + block - 1`` bases, fewer at the contig start);
* LL(allele) sums log p over the allele's bases and the next ``downstream`` reference bases after
  REF (clipped at the contig end), every term conditioned on that same left context;
* LLR = LL(ALT) - LL(REF), averaged over the strands (``--normalize``: each LL divided by its
  number of A/C/G/T bases first).

Why it is fast: the reference of a block is run once, as a state carried along the block
(:meth:`DnaHNet.prefill`); at each variant position the state is forked, and only the allele and
its ``downstream`` bases are computed for each ALT (and once for REF). Why the downstream bases
stop at D: the model's prediction of a base far downstream barely depends on the variant, so those
terms add noise (flipped chunk decisions) rather than signal; D is chosen by measurement
(benchmarks/README.md, "Variant protocol").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from ..data.vcf import Variant
from ..vocab import BOS, N, reverse_complement_ids
from .engine import LikelihoodEngine
from .variants import OK, REF_MISMATCH, AlleleScore, VariantScore, VariantScorer, _tokens


@dataclass
class Site:
    """One (record, ALT) on one strand, in that strand's coordinates."""

    record: int
    allele: int
    q: int  # 0-based start of REF on this strand
    ref: np.ndarray  # REF tokens on this strand
    alt: np.ndarray
    downstream: int | None = None  # reference bases after REF in each LL (None: the scorer's)


@dataclass
class _Stop:
    """A position of a block where continuations are forked: q and the continuations to run."""

    q: int
    conts: list[np.ndarray] = field(default_factory=list)  # distinct continuation token arrays
    index: dict[bytes, int] = field(default_factory=dict)

    def add(self, tokens: np.ndarray) -> int:
        key = tokens.tobytes()
        if key not in self.index:
            self.index[key] = len(self.conts)
            self.conts.append(tokens)
        return self.index[key]


@dataclass
class LocalVariantScorer(VariantScorer):
    """Scores variants with the local protocol; statuses as :class:`VariantScorer` (``window``
    only bounds allele lengths: ``too_long``)."""

    left_context: int = 2048
    downstream: int = 32
    block: int = 1024
    #: Records per call: a block's left context is computed once per call, so larger chunks
    #: share it among more variants (dense VCFs: ~85 positions of a block per call).
    chunk: int = 256
    #: Forward passes run (reference advances + continuation forks), for benchmarks.
    n_calls: int = 0
    _rc: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("left_context", "downstream"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.block < 1:
            raise ValueError(f"block must be >= 1, got {self.block}")

    def _contig(self, chrom: str, strand: str) -> np.ndarray:
        ids = self.reference.contigs[chrom]
        if strand == "forward":
            return ids
        if chrom not in self._rc:
            self._rc.clear()  # one reverse-complemented contig at a time (VCFs are sorted)
            self._rc[chrom] = reverse_complement_ids(ids)
        return self._rc[chrom]

    def score(self, variants: Sequence[Variant]) -> list[VariantScore]:
        strands = ("forward", "reverse") if self.strands == "both" else ("forward",)
        results: list[VariantScore] = []
        sites: dict[str, list[tuple[str, Site]]] = {s: [] for s in strands}
        for i, v in enumerate(variants):
            statuses = self.statuses(v)
            res = VariantScore(variant=v, alleles=[AlleleScore(alt=a, status=s) for a, s in zip(v.alts, statuses)])
            if REF_MISMATCH in statuses:
                res.expected_ref = self.expected_ref(v)
            for j, allele in enumerate(res.alleles):
                if allele.status != OK:
                    continue
                if allele.alt.upper() == v.ref.upper():
                    allele.llr = 0.0  # identical alleles: exactly zero, no model call needed
                    continue
                ref, alt = _tokens(v.ref), _tokens(allele.alt)
                length = self.reference.lengths[v.chrom]
                for strand in strands:
                    if strand == "forward":
                        sites[strand].append((v.chrom, Site(i, j, v.start, ref, alt)))
                    else:
                        q = length - (v.start + len(ref))
                        sites[strand].append((v.chrom, Site(i, j, q, reverse_complement_ids(ref), reverse_complement_ids(alt))))
            results.append(res)
        llrs: dict[tuple[int, int], list[float]] = {}
        for strand, items in sites.items():
            for key, (l_ref, n_ref, l_alt, n_alt) in self.score_sites(strand, items).items():
                if self.normalize:
                    value = l_alt / n_alt - l_ref / n_ref if n_alt and n_ref else float("nan")
                else:
                    value = l_alt - l_ref
                llrs.setdefault(key, []).append(value)
        for (i, j), values in llrs.items():
            results[i].alleles[j].llr = float(np.mean(np.asarray(values, dtype=np.float64)))
        return results

    # -- one strand -----------------------------------------------------------------------------

    def score_sites(self, strand: str, items: list[tuple[str, "Site"]]) -> dict[tuple[int, int], tuple[float, int, float, int]]:
        """(LL REF, its A/C/G/T bases, LL ALT, its bases) of every (contig, site) of one strand,
        keyed by (record, allele): blocks are run as batch rows, in lock-step rounds."""
        blocks: dict[tuple[str, int], list[Site]] = {}
        for chrom, site in items:
            blocks.setdefault((chrom, site.q // self.block), []).append(site)
        rows = []  # (contig tokens, start, stops, sites by stop with (ref cont, alt cont) indices)
        for (chrom, k), block_sites in blocks.items():
            contig = self._contig(chrom, strand)
            stops: dict[int, _Stop] = {}
            pairs = []
            for site in block_sites:
                stop = stops.setdefault(site.q, _Stop(site.q))
                d = self.downstream if site.downstream is None else site.downstream
                down = contig[site.q + len(site.ref) : site.q + len(site.ref) + d]
                r = stop.add(np.concatenate([site.ref, down]).astype(np.uint8))
                a = stop.add(np.concatenate([site.alt, down]).astype(np.uint8))
                pairs.append((site, site.q, r, a))
            start = max(0, k * self.block - self.left_context)
            rows.append((contig, start, sorted(stops.values(), key=lambda s: s.q), pairs))
        ll: dict[tuple[int, int, int], tuple[float, int]] = {}  # (row, q, cont) -> (LL, n)
        for group in self._row_groups(rows):
            self._run_rows([rows[g] for g in group], group, ll)
        return {(site.record, site.allele): (*ll[(r, q, ri)], *ll[(r, q, ai)])
                for r, (_, _, _, pairs) in enumerate(rows) for site, q, ri, ai in pairs}

    def _row_groups(self, rows: list) -> list[list[int]]:
        """Blocks run together: at most ``batch_size`` rows per group."""
        n = self.engine.batch_size
        return [list(range(i, min(i + n, len(rows)))) for i in range(0, len(rows), n)]

    @torch.inference_mode()
    def _run_rows(self, rows: list, ids: list[int], ll: dict) -> None:
        """Run blocks ``rows`` as one batch. Each row's reference is advanced to its first stop
        (BOS + left context), then stops are taken in groups of nearby positions: every
        continuation of a group is forked from the state at the group's first stop and reads the
        reference up to its own stop first (one call per group instead of one per stop), and the
        reference is then advanced to the next group."""
        engine: LikelihoodEngine = self.engine
        model, dev = engine.model, engine.device
        B = len(rows)
        state = model.allocate_state(B, dev)
        last = torch.zeros(B, model.lm_head.out_features, device=dev)  # logits predicting token pos[b]
        groups = [self._group(stops) for _, _, stops, _ in rows]
        first = [np.concatenate([[BOS], contig[start : g[0][0].q]]) for (contig, start, _, _), g in zip(rows, groups)]
        self._advance(state, last, first)
        pos = [g[0][0].q for g in groups]
        for t in range(max(len(g) for g in groups)):
            forks = []  # (row, stop q, cont index, tokens, offset of the continuation)
            for b, (contig, _, _, _) in enumerate(rows):
                if t < len(groups[b]):
                    for stop in groups[b][t]:
                        seg = contig[pos[b] : stop.q]
                        forks += [(b, stop.q, c, np.concatenate([seg, cont]), len(seg)) for c, cont in enumerate(stop.conts)]
            budget = max(1, engine.max_tokens // max(len(f[3]) for f in forks))
            for lo in range(0, len(forks), budget):
                self._fork(state, last, forks[lo : lo + budget], ids, ll)
            nxt = [groups[b][t + 1][0].q if t + 1 < len(groups[b]) else pos[b] for b in range(B)]
            if any(n != p for n, p in zip(nxt, pos)):
                self._advance(state, last, [rows[b][0][pos[b] : nxt[b]] for b in range(B)])
                pos = nxt

    def _group(self, stops: list[_Stop]) -> list[list[_Stop]]:
        """Consecutive stops, at most 16 per group and spanning at most 32 nt (the extra bases each
        fork reads to reach its stop)."""
        groups: list[list[_Stop]] = []
        for stop in stops:
            if groups and len(groups[-1]) < 16 and stop.q - groups[-1][0].q <= 32:
                groups[-1].append(stop)
            else:
                groups.append([stop])
        return groups

    def _advance(self, state, last: torch.Tensor, blocks: list[np.ndarray]) -> None:
        """Consume each row's block of reference tokens (empty: the row stays) into ``state``."""
        engine, model, dev = self.engine, self.engine.model, self.engine.device
        lengths = [len(b) for b in blocks]
        if not max(lengths):
            return
        block = np.full((len(blocks), max(lengths)), N, dtype=np.int64)
        for b, tokens in enumerate(blocks):
            block[b, : len(tokens)] = tokens
        with engine.autocast():
            out, _ = model.prefill(torch.from_numpy(block).to(dev), state, torch.tensor(lengths, device=dev))
        self.n_calls += 1
        for b, n in enumerate(lengths):
            if n:
                last[b] = out.logits[b, n - 1].float()

    def _fork(self, state, last: torch.Tensor, part: list, ids: list[int], ll: dict) -> None:
        """Run continuations from copies of their rows' states; LL over each continuation part."""
        engine, model, dev = self.engine, self.engine.model, self.engine.device
        rows = [f[0] for f in part]
        sub = state.select(rows)
        L = max(len(f[3]) for f in part)
        block = np.full((len(part), L), N, dtype=np.int64)
        for r, f in enumerate(part):
            block[r, : len(f[3])] = f[3]
        tokens = torch.from_numpy(block).to(dev)
        with engine.autocast():
            out, _ = model.prefill(tokens, sub, torch.tensor([len(f[3]) for f in part], device=dev))
        self.n_calls += 1
        # the prediction of each token: the row's last reference logits for the first, then the
        # fork's own outputs (B, L, vocab)
        pred = torch.cat([last[rows][:, None], out.logits[:, :-1].float()], dim=1)
        logp = torch.log_softmax(pred, dim=-1).gather(-1, tokens.clamp(max=pred.size(-1) - 1)[..., None])[..., 0]
        logp = logp.double().cpu().numpy()
        for r, (b, q, c, toks, off) in enumerate(part):
            cont = toks[off:]
            scored = cont != N
            ll[(ids[b], q, c)] = (float(logp[r, off : len(toks)][scored].sum()), int(scored.sum()))
