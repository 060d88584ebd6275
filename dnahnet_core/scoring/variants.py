"""Variant effect scoring (design §2): log-likelihood ratio of ALT vs REF in a reference window.

For a variant whose REF occupies ``[p, p + len(REF))`` (0-based) on a contig of length L, the
reference window holds W bases around it, centred on it and shifted inward at the contig ends
(never padded); a contig shorter than W is used whole. The alt window is the same flanks with REF
replaced by ALT, so indels change its length. LLR = LL(alt) - LL(ref), where LL sums the engine's
log-probabilities over the window's A/C/G/T positions in float64. Negative LLR = ALT less likely.

Strands: the reverse strand scores the reverse complement of its windows. When ``W - len(REF)`` is
odd a window cannot be exactly centred; each strand then gives the spare base to its own downstream
(3') flank, so the forward window and the reverse strand's window are mirror images and scoring a
variant on a genome or its reverse-complement twin on the reverse-complemented genome gives the
same strand-averaged LLR.

Reference windows are scored once: within a call to :meth:`VariantScorer.score` they are
de-duplicated, and their log-likelihoods are kept in a bounded cache keyed by
``(contig, start, end, strand)`` for later calls.

Reference FASTA reading lives here too; VCF reading is in :mod:`dnahnet_core.data.vcf`.
"""

from __future__ import annotations

import os
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from ..data.reference import open_reference
from ..data.vcf import Variant
from ..errors import InputError
from ..vocab import reverse_complement_ids, tokenize
from .engine import LikelihoodEngine

#: Per-ALT statuses, in the order the checks are applied (the first that applies wins).
OK = "ok"
UNKNOWN_CONTIG = "unknown_contig"
NON_ACGT = "non_acgt"
REF_MISMATCH = "ref_mismatch"
SYMBOLIC_ALLELE = "symbolic_allele"
TOO_LONG = "too_long"
#: A record whose ALT is '.' (a reference-only call): nothing to score, but it still gets a TSV row.
NO_ALT = "no_alt"
STATUSES: tuple[str, ...] = (OK, REF_MISMATCH, UNKNOWN_CONTIG, SYMBOLIC_ALLELE, NON_ACGT, TOO_LONG)

REF_MISMATCH_POLICIES: tuple[str, ...] = ("flag", "skip", "error")
STRAND_MODES: tuple[str, ...] = ("both", "forward")

_ACGT = re.compile(r"^[ACGTacgt]+$")


# --------------------------------------------------------------------------------------------
# Data types


@dataclass
class AlleleScore:
    """The result for one ALT: ``llr`` is None unless ``status`` is ``ok``."""

    alt: str
    status: str
    llr: float | None = None


@dataclass
class VariantScore:
    """The results of one record, one :class:`AlleleScore` per ALT, in ALT order.

    ``window`` is the forward-strand reference window ``(start, end)`` (0-based, half-open) when
    at least one ALT was scored; ``expected_ref`` holds the reference bases under REF on a
    ``ref_mismatch`` (possibly shorter than REF where it runs off the contig).
    """

    variant: Variant
    alleles: list[AlleleScore]
    window: tuple[int, int] | None = None
    expected_ref: str | None = None

    @property
    def statuses(self) -> list[str]:
        return [a.status for a in self.alleles]


@dataclass
class ReferenceGenome:
    """Contigs of a reference FASTA as token arrays: a dict, or (:meth:`from_fasta`) a mapping that
    decodes contigs through the FASTA index when they are needed (large references)."""

    contigs: Mapping[str, np.ndarray]
    path: str | None = None
    lengths: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.lengths:
            self.lengths = {name: int(len(ids)) for name, ids in self.contigs.items()}

    @classmethod
    def from_fasta(cls, path: str | os.PathLike[str]) -> "ReferenceGenome":
        contigs, lengths = open_reference(path)
        return cls(contigs, str(path), lengths)

    def __contains__(self, name: object) -> bool:
        return name in self.contigs

    def bases(self, chrom: str, start: int, end: int) -> str:
        """Reference letters of ``[start, end)`` (clipped to the contig)."""
        ids = self.contigs[chrom][max(0, start) : max(0, end)]
        return "".join("ACGTN"[i] for i in ids.tolist())


# --------------------------------------------------------------------------------------------
# Windows


def variant_window(contig_length: int, start: int, ref_length: int, window: int, reverse: bool = False) -> tuple[int, int]:
    """The ``(start, end)`` reference window (0-based, half-open) of a REF at ``[start, start +
    ref_length)``: ``window`` bases centred on REF, shifted inward at the contig ends; the whole
    contig when it is shorter than ``window``.

    When the spare ``window - ref_length`` bases are odd, the extra base goes to the downstream
    flank of the strand being read: right of REF for the forward strand, left of it for the
    reverse strand (``reverse=True``), so the two strands' windows are mirror images.
    """
    if contig_length <= window:
        return 0, contig_length
    spare = max(0, window - ref_length)
    left = spare - spare // 2 if reverse else spare // 2
    begin = min(max(start - left, 0), contig_length - window)
    return begin, begin + window


def _tokens(allele: str) -> np.ndarray:
    return tokenize(allele.upper())


# --------------------------------------------------------------------------------------------
# Scoring


@dataclass
class _Job:
    """One (record, ALT, strand) to score."""

    record: int
    allele: int
    strand: str
    ref_key: tuple[str, int, int, str]
    ref_window: np.ndarray
    alt_window: np.ndarray


@dataclass
class VariantScorer:
    """Scores variants against a reference with a :class:`LikelihoodEngine`.

    ``window``: reference window length W; ``strands``: ``both`` (forward and reverse-complement
    LLRs averaged) or ``forward``; ``normalize``: report LL(alt)/n_alt - LL(ref)/n_ref, each window's
    log-likelihood divided by its number of scored (A/C/G/T) bases, instead of the summed LLR.
    """

    engine: LikelihoodEngine
    reference: ReferenceGenome
    window: int = 8192
    strands: str = "both"
    normalize: bool = False
    cache_size: int = 65536
    #: Records per call that ``score-vcf`` hands to :meth:`score` (one engine call per chunk).
    chunk: int = 64
    #: Log-likelihoods of reference windows: (contig, start, end, strand) -> (LL, n scored).
    ref_cache: "OrderedDict[tuple[str, int, int, str], tuple[float, int]]" = field(default_factory=OrderedDict)
    #: How many reference windows were sent to the engine (each distinct window once).
    n_ref_windows_computed: int = 0

    def __post_init__(self) -> None:
        if self.window < 1:
            raise ValueError(f"window must be at least 1, got {self.window}")
        if self.strands not in STRAND_MODES:
            raise ValueError(f"strands must be one of {STRAND_MODES}, got {self.strands!r}")

    # -- statuses ----------------------------------------------------------------------------

    def expected_ref(self, variant: Variant) -> str | None:
        """The reference bases under REF when they differ from REF (None when REF matches, or
        when it cannot be checked: unknown contig, or REF with letters other than A/C/G/T)."""
        if variant.chrom not in self.reference or not _ACGT.match(variant.ref):
            return None
        contig = self.reference.contigs[variant.chrom]
        begin, end = variant.start, variant.start + len(variant.ref)
        if begin < 0 or end > len(contig):
            return self.reference.bases(variant.chrom, begin, end)
        if not np.array_equal(contig[begin:end], _tokens(variant.ref)):
            return self.reference.bases(variant.chrom, begin, end)
        return None

    def statuses(self, variant: Variant) -> list[str]:
        """The status of each ALT before any scoring (``ok`` = scorable)."""
        if variant.chrom not in self.reference:
            return [UNKNOWN_CONTIG] * len(variant.alts)
        if not _ACGT.match(variant.ref):
            return [NON_ACGT] * len(variant.alts)
        if self.expected_ref(variant) is not None:
            return [REF_MISMATCH] * len(variant.alts)
        out = []
        for alt in variant.alts:
            if alt in ("*", ".", "") or alt.startswith("<") or "[" in alt or "]" in alt:
                out.append(SYMBOLIC_ALLELE)
            elif not _ACGT.match(alt):
                out.append(NON_ACGT)
            elif max(len(variant.ref), len(alt)) > self.window:
                out.append(TOO_LONG)
            else:
                out.append(OK)
        return out

    # -- scoring -----------------------------------------------------------------------------

    def _strand_windows(self, variant: Variant, alt: str, strand: str) -> tuple[tuple[str, int, int, str], np.ndarray, np.ndarray]:
        contig = self.reference.contigs[variant.chrom]
        p, r = variant.start, len(variant.ref)
        begin, end = variant_window(len(contig), p, r, self.window, reverse=strand == "reverse")
        ref_win = contig[begin:end]
        alt_win = np.concatenate([contig[begin:p], _tokens(alt), contig[p + r : end]])
        if strand == "reverse":
            ref_win, alt_win = reverse_complement_ids(ref_win), reverse_complement_ids(alt_win)
        return (variant.chrom, begin, end, strand), ref_win, alt_win

    def _cache_put(self, key: tuple[str, int, int, str], value: tuple[float, int]) -> None:
        self.ref_cache[key] = value
        self.ref_cache.move_to_end(key)
        while len(self.ref_cache) > self.cache_size:
            self.ref_cache.popitem(last=False)

    def score(self, variants: Sequence[Variant]) -> list[VariantScore]:
        """Score a chunk of records: one engine call for all their windows (reference windows
        not yet cached, each once, and every alt window)."""
        strands = ("forward", "reverse") if self.strands == "both" else ("forward",)
        results: list[VariantScore] = []
        jobs: list[_Job] = []
        for i, v in enumerate(variants):
            statuses = self.statuses(v)
            alleles = [AlleleScore(alt=a, status=s) for a, s in zip(v.alts, statuses)]
            res = VariantScore(variant=v, alleles=alleles)
            if REF_MISMATCH in statuses:
                res.expected_ref = self.expected_ref(v)
            for j, allele in enumerate(alleles):
                if allele.status != OK:
                    continue
                if res.window is None:
                    contig_len = self.reference.lengths[v.chrom]
                    res.window = variant_window(contig_len, v.start, len(v.ref), self.window)
                if allele.alt.upper() == v.ref.upper():
                    allele.llr = 0.0  # identical windows: exactly zero, no model call needed
                    continue
                for strand in strands:
                    key, ref_win, alt_win = self._strand_windows(v, allele.alt, strand)
                    jobs.append(_Job(i, j, strand, key, ref_win, alt_win))
            results.append(res)
        if not jobs:
            return results

        # Reference windows not cached yet, each once; then every alt window.
        missing: dict[tuple[str, int, int, str], np.ndarray] = {}
        for job in jobs:
            if job.ref_key in self.ref_cache:
                self.ref_cache.move_to_end(job.ref_key)
            elif job.ref_key not in missing:
                missing[job.ref_key] = job.ref_window
        ref_keys = list(missing)
        log_probs = self.engine.log_probs([missing[k] for k in ref_keys] + [job.alt_window for job in jobs])
        self.n_ref_windows_computed += len(ref_keys)
        ref_ll = {k: _window_ll(lp) for k, lp in zip(ref_keys, log_probs)}
        for k, v in ref_ll.items():
            self._cache_put(k, v)

        llrs: dict[tuple[int, int], list[float]] = {}
        for job, lp in zip(jobs, log_probs[len(ref_keys) :]):
            ll_ref, n_ref = ref_ll[job.ref_key] if job.ref_key in ref_ll else self.ref_cache[job.ref_key]
            ll_alt, n_alt = _window_ll(lp)
            if self.normalize:
                llr = ll_alt / n_alt - ll_ref / n_ref if n_alt and n_ref else float("nan")
            else:
                llr = ll_alt - ll_ref
            llrs.setdefault((job.record, job.allele), []).append(llr)
        for (i, j), values in llrs.items():
            results[i].alleles[j].llr = float(np.mean(np.asarray(values, dtype=np.float64)))
        return results


def _window_ll(log_probs: np.ndarray) -> tuple[float, int]:
    """(sum of log-probabilities over A/C/G/T positions in float64, number of such positions)."""
    scored = ~np.isnan(log_probs)
    return float(np.sum(log_probs[scored], dtype=np.float64)), int(scored.sum())


# --------------------------------------------------------------------------------------------
# VCF input


def ref_mismatch_error(variant: Variant, expected: str, vcf_path: str | os.PathLike[str], reference: ReferenceGenome) -> InputError:
    """The one-line error for ``--ref-mismatch error``."""
    exp = repr(expected) if expected else "nothing (REF lies outside the contig)"
    return InputError(
        f"REF {variant.ref!r} does not match the reference {reference.path or ''} (expected {exp} at "
        f"{variant.chrom}:{variant.pos}-{variant.pos + len(variant.ref) - 1}, 1-based)",
        path=str(vcf_path),
        record=variant.label,
    )
