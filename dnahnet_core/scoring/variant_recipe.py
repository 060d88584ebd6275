"""The score-vcf recipe: every record of a VCF scored against its reference genome, in file order.

:func:`score_variants` reads the VCF and the reference (``--reference``, else the VCF's
``##reference=`` line), applies the REF-mismatch policy, scores with the chosen protocol
(:mod:`.local_variants`: the cached reference, default; :mod:`.variants`: the centred whole
window) across the session's ranks, and yields one :class:`ScoredRecord` per record kept.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from ..data.vcf import Variant, VcfReader
from ..errors import InputError
from .local_variants import LocalVariantScorer
from .session import RecipeRun, ScoringSession
from .variants import (NO_ALT, REF_MISMATCH_POLICIES, STRAND_MODES, AlleleScore, ReferenceGenome, VariantScorer,
                       ref_mismatch_error)

PROTOCOLS = ("local", "centred")


@dataclass
class VariantOptions:
    """How variants are scored (the score-vcf options; see its help for the protocols)."""

    protocol: str = "local"
    left_context: int = 2048  # local: at least this many reference bases before the variant
    downstream: int = 32  # local: reference bases after REF in each allele's LL
    window: int = 8192  # centred: the window; both: alleles longer than this are too_long
    strand: str = "both"  # both (forward and reverse-complement averaged) or forward
    normalize: bool = False  # LL per A/C/G/T base of each window instead of summed
    ref_mismatch: str = "flag"  # flag, skip or error

    def __post_init__(self) -> None:
        problems = []
        if self.protocol not in PROTOCOLS:
            problems.append(f"protocol must be one of {PROTOCOLS}, got {self.protocol!r}")
        if self.strand not in STRAND_MODES:
            problems.append(f"strand must be one of {STRAND_MODES}, got {self.strand!r}")
        if self.ref_mismatch not in REF_MISMATCH_POLICIES:
            problems.append(f"ref_mismatch must be one of {REF_MISMATCH_POLICIES}, got {self.ref_mismatch!r}")
        for name in ("left_context", "downstream"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.window < 1:
            problems.append(f"window must be >= 1, got {self.window}")
        if problems:
            raise ValueError("invalid variant options: " + "; ".join(problems))

    def describe(self) -> dict[str, object]:
        """The options as output provenance."""
        return {
            "protocol": (f"local (left context >= {self.left_context} nt in 1,024-nt blocks, allele + {self.downstream} downstream nt)"
                         if self.protocol == "local" else f"centred (window {self.window} nt)"),
            "window": self.window,
            "strand": "both (forward and reverse-complement averaged)" if self.strand == "both" else "forward",
            "normalize": "per-base (LL/n per window)" if self.normalize else "none (summed LLR)",
            "ref_mismatch": self.ref_mismatch,
            "log_base": "e (natural log)",
        }


@dataclass
class ScoredRecord:
    """One VCF record and its result per ALT (``alleles`` is empty when ALT is '.')."""

    variant: Variant
    line: str  # the record's VCF line as read, without its newline
    alleles: list[AlleleScore]

    @property
    def no_alt(self) -> bool:
        return not self.alleles


@dataclass
class VariantRun(RecipeRun[ScoredRecord]):
    reader: VcfReader  # the open VCF (its header; closed by :meth:`close`)
    reference: ReferenceGenome
    reference_path: Path
    chunk: int  # records per scoring call: resumable outputs commit at these boundaries
    skipped: Counter = field(default_factory=Counter)  # records left out, by reason (ref_mismatch)
    #: Records already finished (a resumed run): read but neither scored nor yielded. May be set
    #: after the call, before ``results`` is iterated (a resumable output knows it only once it
    #: has the run's reference).
    skip: int = 0

    def close(self) -> None:
        self.reader.close()


def resolve_reference(reader: VcfReader, reference: str | Path | None) -> Path:
    """``reference``, else the VCF's ``##reference=`` line as a readable local file."""
    if reference is not None:
        return Path(reference)
    path = reader.reference_path()
    if path is None:
        raise InputError("no reference genome: pass --reference FASTA (the VCF has no ##reference= line)", path=str(reader.path))
    if not path.is_file():
        raise InputError(f"##reference={reader.header_reference()} does not name a readable FASTA file ({path}: no such file); pass --reference FASTA",
                         path=str(reader.path))
    return path


def score_variants(session: ScoringSession, vcf: str | Path, reference: str | Path | None = None,
                   options: VariantOptions | None = None, skip: int = 0) -> VariantRun:
    """Score every ALT of every record of ``vcf``: LLR = LL(alt) - LL(ref), natural log.

    ``skip``: records already finished (a resumed run) are read but neither scored nor yielded
    (``run.skip`` can also be set before iterating).
    Records with a REF that differs from the reference are scored as ``ref_mismatch`` (policy
    flag), left out and counted in ``run.skipped`` (skip), or stop the run with an InputError
    (error). Results arrive in file order on rank 0; other ranks get none (see :func:`.session.drive`).
    """
    options = options or VariantOptions()
    reader = VcfReader(vcf)
    try:
        ref_path = resolve_reference(reader, reference)
        genome = ReferenceGenome.from_fasta(ref_path)
    except BaseException:
        reader.close()
        raise
    common = dict(window=options.window, strands=options.strand, normalize=options.normalize)
    scorer: VariantScorer = (LocalVariantScorer(session.engine, genome, left_context=options.left_context,
                                                downstream=options.downstream, **common)
                             if options.protocol == "local" else VariantScorer(session.engine, genome, **common))
    lines: deque[str] = deque()  # VCF lines waiting for their scores (rank 0 only)
    run = VariantRun(parameters={"reference": str(ref_path), **options.describe()}, results=iter(()),
                     reader=reader, reference=genome, reference_path=ref_path, chunk=scorer.chunk, skip=skip)

    def kept() -> Iterator[Variant]:
        for variant, line in reader.records():
            if variant.number <= run.skip:
                continue
            if options.ref_mismatch != "flag":
                expected = scorer.expected_ref(variant)
                if expected is not None:
                    if options.ref_mismatch == "error":
                        raise ref_mismatch_error(variant, expected, vcf, genome)
                    run.skipped["ref_mismatch"] += 1
                    continue
            if session.is_main:
                lines.append(line)
            yield variant

    def results() -> Iterator[ScoredRecord]:
        for res in session.map(kept(), scorer.score, chunk=scorer.chunk):
            yield ScoredRecord(variant=res.variant, line=lines.popleft(), alleles=res.alleles)

    run.results = results()
    return run


__all__ = ["NO_ALT", "PROTOCOLS", "ScoredRecord", "VariantOptions", "VariantRun", "resolve_reference", "score_variants"]
