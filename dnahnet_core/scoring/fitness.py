"""Zero-shot fitness of a variant library of one target (design §2; the dnaHNet paper's MaveDB task).

Every variant of the library (HGVS edits of the target, or a whole mutant sequence) becomes a
mutant of the wild type (WT). Both are scored as whole sequences, in coding orientation (a target
on the minus strand is reverse-complemented first), with optional genomic flanks around them:

    window(seq) = left flank + seq + right flank
    LL(seq)     = sum of log p(x_t | BOS, x_<t) over the window's A/C/G/T bases (natural log)
    delta       = LL(mutant window) - LL(WT window)

Negative delta = the model finds the mutant less likely = predicted less fit; the Spearman
correlation of delta with the measured scores is the benchmark number (signed).

Windows longer than ``context`` are tiled as ``dnahnet score`` tiles records (each base predicted
once, with at least ``context - stride`` bases of left context). Mutants are scored in chunks,
one engine call per chunk; the engine computes identical windows once.

Exactness: the model is causal, so when the WT and a mutant window each fit in one window, the
mutant's log-probabilities before the first changed base equal the WT's. ``delta`` is then the
sum of the differences from that base on (``mut_ll = wt_ll + delta``), which keeps float noise of
the shared prefix out of it; a mutant equal to the WT gets exactly 0.

Rows never stop a run: a row that cannot be scored gets a status (see :data:`STATUSES`) and a
one-line note.

The recipe is :func:`score_library` (``dnahnet fitness``)::

    with ScoringSession.open(device="cpu") as session:
        run = score_library(session, "library.tsv", "geneJ.fa")
        deltas = [r.delta for r in run.results]
"""

from __future__ import annotations

import itertools
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Sequence

import numpy as np

from ..data.fasta import read_fasta
from ..data.hgvs import (BAD_HGVS, OUT_OF_RANGE, OVERLAPPING_EDITS, REF_MISMATCH, UNSUPPORTED, HgvsError, Numbering,
                         apply_hgvs, parse_hgvs)
from ..data.library import Library, LibraryRow, read_library
from ..errors import InputError
from ..vocab import tokenize
from .engine import LikelihoodEngine
from .session import RecipeRun, ScoringSession
from .windows import tile

OK = "ok"
#: A sequence cell with letters other than A/C/G/T (N, IUPAC codes, U).
NON_ACGT = "non_acgt"
#: An empty variant cell.
NO_VARIANT = "no_variant"
#: Every status, in the order the summary lists them.
STATUSES: tuple[str, ...] = (OK, REF_MISMATCH, OUT_OF_RANGE, OVERLAPPING_EDITS, BAD_HGVS, UNSUPPORTED, NON_ACGT, NO_VARIANT)

DEFAULT_CONTEXT = 8192
DEFAULT_CHUNK = 64

_LETTERS = re.compile(r"^[A-Za-z]+$")
_ACGT = re.compile(r"^[ACGTacgt]+$")
_IUPAC = re.compile(r"^[ACGTUNRYKMSWBDHVacgtunrykmswbdhv]+$")
_COMPLEMENT = str.maketrans("ACGTN", "TGCAN")
_LETTER_OF = np.frombuffer(b"ACGTN", dtype=np.uint8)


def reverse_complement(seq: str) -> str:
    return seq.translate(_COMPLEMENT)[::-1]


def ids_to_text(ids: np.ndarray) -> str:
    """Token ids (A/C/G/T/N) as an upper-case string."""
    return _LETTER_OF[np.asarray(ids, dtype=np.intp)].tobytes().decode("ascii")


# ------------------------------------------------------------------------------------- the target


@dataclass(frozen=True)
class FitnessTarget:
    """The wild type in coding orientation, its HGVS numbering, and the flanks scored around it.

    ``left_flank``/``right_flank``: genomic bases 5'/3' of the target in coding orientation (empty
    without ``--flank``); they are part of every window, WT and mutant alike.
    """

    name: str
    sequence: str
    numbering: Numbering
    strand: str = "+"
    left_flank: str = ""
    right_flank: str = ""

    def window(self, seq: str) -> np.ndarray:
        return tokenize(self.left_flank + seq + self.right_flank)


def make_target(name: str, record: str, strand: str = "+", cds: tuple[int, int] | None = None,
                flanks: tuple[str, str] = ("", "")) -> FitnessTarget:
    """The target of a FASTA record (letters as in the file).

    ``strand`` '-': the record is the reverse complement of the coding strand; it is reverse-
    complemented, so HGVS positions and REF bases refer to the coding strand. ``cds``: 1-based
    inclusive (start, end) on the record as written (start <= end, as in GFF3; on '-' the CDS's
    first base is ``end``), which sets ``c.1``; default: ``c.1`` is the target's first base.
    ``flanks``: (left, right) genomic bases next to the record as written (see :func:`genomic_flanks`).
    """
    if strand not in ("+", "-"):
        raise ValueError(f"strand must be '+' or '-', got {strand!r}")
    record = record.upper()
    L = len(record)
    left, right = flanks
    if cds is None:
        numbering = Numbering(L)
    else:
        start, end = cds
        if not 1 <= start <= end <= L:
            raise InputError(f"CDS {start}..{end} does not lie within the target (1..{L})", record=name)
        numbering = Numbering(L, start - 1, end) if strand == "+" else Numbering(L, L - end, L - start + 1)
    if strand == "-":
        record, left, right = reverse_complement(record), reverse_complement(right), reverse_complement(left)
    return FitnessTarget(name=name, sequence=record, numbering=numbering, strand=strand, left_flank=left, right_flank=right)


@dataclass(frozen=True)
class FlankSource:
    """Where the target sits in the genome: contig, 0-based half-open [start, end), and whether the
    record matches the genome's forward strand ('+') or its reverse complement ('-')."""

    contig: str
    start: int
    end: int
    orientation: str


def genomic_flanks(record: str, genome: Mapping[str, str], flank: int) -> tuple[tuple[str, str], FlankSource]:
    """``flank`` genomic bases on each side of ``record`` (as written), found by exact search.

    The record must occur exactly once in the genome (either strand), else :class:`InputError`.
    Flanks are clipped at contig ends (no wrapping at the origin). Returns ((left, right), source),
    left/right next to the record as written.
    """
    record = record.upper()
    rc = reverse_complement(record)
    hits: list[FlankSource] = []
    for contig, seq in genome.items():
        for text, orient in ((record, "+"), (rc, "-")) if rc != record else ((record, "+"),):
            i = seq.find(text)
            while i != -1 and len(hits) < 2:
                hits.append(FlankSource(contig, i, i + len(text), orient))
                i = seq.find(text, i + 1)
        if len(hits) > 1:
            break
    if not hits:
        raise InputError("the target does not occur in the genome (either strand); --flank needs an exact copy of it")
    if len(hits) > 1:
        a, b = hits[:2]
        raise InputError(f"the target occurs more than once in the genome ({a.contig}:{a.start + 1}, {b.contig}:{b.start + 1}); "
                         "its flanks are ambiguous")
    h = hits[0]
    seq = genome[h.contig]
    before, after = seq[max(0, h.start - flank) : h.start], seq[h.end : h.end + flank]
    if h.orientation == "+":
        return (before, after), h
    return (reverse_complement(after), reverse_complement(before)), h


# ------------------------------------------------------------------------------------ the mutants


@dataclass
class FitnessResult:
    """One library row: ``mut_ll``, ``wt_ll`` and ``delta`` are None unless ``status`` is ``ok``."""

    row: LibraryRow
    status: str
    note: str = ""
    mut_ll: float | None = None
    wt_ll: float | None = None
    delta: float | None = None


def mutant_sequence(variant: str, target: FitnessTarget) -> tuple[str, str, str | None]:
    """(status, note, mutant) of one variant cell: HGVS edits applied to the WT, or a whole
    mutant sequence (a cell of letters only, in coding orientation, like the WT after --strand)."""
    v = variant.strip()
    if not v or v in ("NA", "N/A", "nan", "NaN", "None", "-", "_na"):  # MaveDB writes NA where a row has no nucleotide variant
        return NO_VARIANT, "empty variant cell" if not v else f"no nucleotide variant ({v!r})", None
    if _LETTERS.match(v):
        if _ACGT.match(v):
            return OK, "", v.upper()
        if _IUPAC.match(v):
            return NON_ACGT, "the mutant sequence holds letters other than A/C/G/T", None
        return BAD_HGVS, "neither an HGVS variant (c./n.) nor an A/C/G/T sequence", None
    try:
        return OK, "", apply_hgvs(target.sequence, parse_hgvs(v), target.numbering)
    except HgvsError as err:
        return err.status, str(err), None


def _window_log_probs(windows: Sequence[np.ndarray], engine: LikelihoodEngine, context: int, stride: int) -> list[np.ndarray]:
    """Per-base log p of whole windows, tiled like :func:`~.sequences.per_base_log_probs`, all in
    one engine call (the engine batches them and computes identical tiles once)."""
    plans = [tile(len(w), context, stride) if len(w) else [] for w in windows]
    flat = [w[t.start : t.end] for w, tiles in zip(windows, plans) for t in tiles]
    lps = engine.log_probs(flat) if flat else []
    out, k = [], 0
    for w, tiles in zip(windows, plans):
        lp = np.empty(len(w), dtype=np.float32)
        for t in tiles:
            lp[t.score_from : t.end] = lps[k][t.offset :]
            k += 1
        out.append(lp)
    return out


def _ll(lp: np.ndarray) -> float:
    return float(np.nansum(lp, dtype=np.float64))


def _common_prefix(a: np.ndarray, b: np.ndarray) -> int:
    n = min(len(a), len(b))
    diff = np.flatnonzero(a[:n] != b[:n])
    return int(diff[0]) if diff.size else n


class FitnessScorer:
    """Scores chunks of library rows against one target with a :class:`LikelihoodEngine`."""

    def __init__(self, target: FitnessTarget, engine: LikelihoodEngine, context: int = DEFAULT_CONTEXT,
                 stride: int | None = None) -> None:
        self.target = target
        self.engine = engine
        self.context = context
        self.stride = stride if stride is not None else max(1, context // 2)
        if not 0 < self.stride <= self.context:
            raise ValueError(f"need 0 < stride <= context, got stride {self.stride}, context {self.context}")
        self.wt_window = target.window(target.sequence)
        self._wt_lp: np.ndarray | None = None

    @property
    def wt_log_probs(self) -> np.ndarray:
        if self._wt_lp is None:
            self._wt_lp = _window_log_probs([self.wt_window], self.engine, self.context, self.stride)[0]
        return self._wt_lp

    @property
    def wt_ll(self) -> float:
        return _ll(self.wt_log_probs)

    def score(self, rows: Sequence[LibraryRow]) -> list[FitnessResult]:
        """One result per row, in order; all the chunk's mutant windows go to one engine call."""
        results: list[FitnessResult] = []
        todo: list[tuple[int, np.ndarray]] = []
        for row in rows:
            status, note, mutant = mutant_sequence(row.variant, self.target)
            results.append(FitnessResult(row=row, status=status, note=note))
            if mutant is not None:
                todo.append((len(results) - 1, self.target.window(mutant)))
        if not todo:
            return results
        wt_lp, wt_ll = self.wt_log_probs, self.wt_ll
        single = len(self.wt_window) <= self.context
        lps = _window_log_probs([w for _, w in todo], self.engine, self.context, self.stride)
        for (i, window), lp in zip(todo, lps):
            res = results[i]
            if single and len(window) <= self.context:
                k = _common_prefix(self.wt_window, window)  # before k both windows are one and the same
                delta = _ll(lp[k:]) - _ll(wt_lp[k:])
                res.mut_ll = wt_ll + delta
            else:
                res.mut_ll = _ll(lp)
                delta = res.mut_ll - wt_ll
            res.wt_ll, res.delta = wt_ll, delta
        return results


def score_rows(rows: Iterable[LibraryRow], target: FitnessTarget, engine: LikelihoodEngine,
               context: int = DEFAULT_CONTEXT, stride: int | None = None, chunk: int = DEFAULT_CHUNK) -> Iterator[FitnessResult]:
    """Yield one :class:`FitnessResult` per row, in input order, scoring ``chunk`` rows per engine call
    (one process; :func:`score_library` is the recipe, which reads the files and splits across ranks)."""
    scorer = FitnessScorer(target, engine, context, stride)
    buffer: list[LibraryRow] = []
    for row in rows:
        buffer.append(row)
        if len(buffer) >= chunk:
            yield from scorer.score(buffer)
            buffer = []
    if buffer:
        yield from scorer.score(buffer)


# ------------------------------------------------------------------------------------ the recipe


@dataclass
class FitnessRun(RecipeRun[FitnessResult]):
    """What :func:`score_library` returns: one :class:`FitnessResult` per library row after the
    first ``skip``, in input order. ``parameters``: library, variant_column, score_column,
    assay_column, target, strand, numbering, window, context, delta, log_base."""

    library: Library  # the rows as read, and the columns used
    target: FitnessTarget  # the WT in coding orientation, with its numbering and flanks
    flank_source: FlankSource | None  # where --flank found the target in the genome; None without flanks
    accessions: list[str]  # the distinct accession prefixes of the HGVS variants (NM_x:c.76A>T), sorted
    skip: int


def score_library(session: ScoringSession, library: str | os.PathLike[str], target: str | os.PathLike[str],
                  record: str | None = None, strand: str = "+", cds: tuple[int, int] | None = None,
                  variant_column: str | None = None, score_column: str | None = None, assay_column: str | None = None,
                  genome: str | os.PathLike[str] | None = None, flank: int = 0, context: int = DEFAULT_CONTEXT,
                  chunk: int = DEFAULT_CHUNK, skip: int = 0) -> FitnessRun:
    """Score a variant library (TSV/CSV, see :func:`~dnahnet_core.data.library.read_library`)
    against the wild type: record ``record`` of the FASTA ``target`` (None: its only record),
    on ``strand`` ('-': reverse-complemented first), numbered from ``cds`` (1-based inclusive on
    the record as written; None: c.1 is the target's first base), with ``flank`` genomic bases on
    each side from the FASTA ``genome``.

    The files are read now: a problem with them is an :class:`InputError` from this call, before
    any scoring. Rows are split across the session's ranks in chunks of ``chunk`` per rank (one
    engine call each); ``skip`` leaves out the first rows.
    """
    if flank < 0:
        raise ValueError(f"flank must be >= 0, got {flank}")
    if (flank > 0) != (genome is not None):
        raise ValueError("flanks need both a genome and flank > 0")
    library, target = Path(library), Path(target)
    lib = read_library(library, variant_column, score_column, assay_column)
    if not target.exists():
        raise InputError("no such file", path=str(target))
    records = {r.name: r.ids for r in read_fasta(target)}
    if record is None:
        if len(records) > 1:
            names = list(records)
            raise InputError(f"{len(records)} records; name the target with --record ({', '.join(names[:5])}{', ...' if len(names) > 5 else ''})",
                             path=str(target))
        record = next(iter(records))
    elif record not in records:
        raise InputError(f"no record {record!r} (records: {', '.join(list(records)[:5])})", path=str(target))
    wt_text = ids_to_text(records[record])
    if cds is not None and cds[1] > len(wt_text):
        raise InputError(f"--cds {cds[0]}..{cds[1]} runs past the end of the target ({len(wt_text)} bases)",
                         path=str(target), record=record)
    flanks, source = ("", ""), None
    if genome is not None:
        genome = Path(genome)
        if not genome.exists():
            raise InputError("no such file", path=str(genome))
        contigs = {r.name: ids_to_text(r.ids) for r in read_fasta(genome)}
        try:
            flanks, source = genomic_flanks(wt_text, contigs, flank)
        except InputError as err:
            raise InputError(err.detail, path=str(genome), record=record) from None
    tgt = make_target(record, wt_text, strand, cds, flanks)

    accessions = set()
    for row in lib.rows:
        try:
            acc = parse_hgvs(row.variant).accession
        except HgvsError:
            continue
        if acc:
            accessions.add(acc)

    n = tgt.numbering
    if cds is None:
        numbering = "c.1 = n.1 = the target's first base (coding orientation)"
    else:
        numbering = (f"c.1 = record position {cds[0] if tgt.strand == '+' else cds[1]} (CDS {cds[0]}..{cds[1]}, "
                     f"strand {tgt.strand}; n.{n.cds_start + 1}); n.1 = the target's first base (coding orientation)")
    window = f"the whole target ({len(tgt.sequence)} bases)"
    if source is not None:
        window += (f" + {len(tgt.left_flank)} / {len(tgt.right_flank)} flanking bases 5' / 3' from {genome} "
                   f"({source.contig}:{source.start + 1}-{source.end}, {'same' if source.orientation == '+' else 'opposite'} strand as the record)")
    parameters = {
        "library": str(library),
        "variant_column": lib.variant_column,
        "score_column": lib.score_column or "none",
        "assay_column": lib.assay_column or "none",
        "target": f"{target} record {record} ({len(wt_text)} bases)",
        "strand": "+ (record as written)" if tgt.strand == "+" else "- (record reverse-complemented)",
        "numbering": numbering,
        "window": window,
        "context": context,
        "delta": "LL(mutant) - LL(wild type), natural log, summed over the window's A/C/G/T bases",
        "log_base": "e (natural log)",
    }
    scorer = FitnessScorer(tgt, session.engine, context)
    results = session.map(itertools.islice(lib.rows, skip, None), scorer.score, chunk=chunk)
    return FitnessRun(parameters=parameters, results=results, library=lib, target=tgt, flank_source=source,
                      accessions=sorted(accessions), skip=skip)


# -------------------------------------------------------------------------------- the benchmark


@dataclass(frozen=True)
class Correlation:
    """Spearman's rho of delta against the measured score over one assay's ``ok`` rows that have
    a score (``n`` of them); NaN when n < 2 or either side is constant."""

    assay: str
    n: int
    rho: float


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation: Pearson's r of the average ranks (ties share their mean rank;
    pandas' own method="spearman" needs scipy, which this project does not depend on)."""
    import pandas as pd

    if len(x) != len(y):
        raise ValueError(f"x and y differ in length ({len(x)} vs {len(y)})")
    if len(x) < 2:
        return math.nan
    rx = pd.Series(np.asarray(x, dtype=np.float64)).rank(method="average")
    ry = pd.Series(np.asarray(y, dtype=np.float64)).rank(method="average")
    if rx.nunique() < 2 or ry.nunique() < 2:
        return math.nan
    return float(rx.corr(ry, method="pearson"))


def correlations(results: Iterable[FitnessResult]) -> list[Correlation]:
    """One :class:`Correlation` per assay, in order of first appearance (assay "" = no assay column)."""
    pairs: dict[str, tuple[list[float], list[float]]] = {}
    for r in results:
        xs, ys = pairs.setdefault(r.row.assay, ([], []))
        if r.status == OK and r.delta is not None and r.row.score is not None:
            xs.append(r.delta)
            ys.append(r.row.score)
    return [Correlation(assay, len(xs), spearman(xs, ys)) for assay, (xs, ys) in pairs.items()]
