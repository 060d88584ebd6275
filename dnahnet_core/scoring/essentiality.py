"""Zero-shot gene essentiality by in-silico knockout (design §2, publication protocol).

For each single-interval CDS: a window of ``window`` bp centred on the gene and oriented 5'→3'
along it (reverse complement for minus-strand genes); on a circular replicon the window wraps at
the origin, on a linear one it is shifted inward at the ends (never padded), and a replicon shorter
than the window is used whole. The knockout overwrites ``len(cassette)`` bases starting ``offset``
bases after the first base of the start codon (default: TAATAATAATAGTGA, five in-frame stops, 12 nt
in); the length is unchanged. Score = LL(wild type) − LL(knockout), natural log, summed over the
window in float64: larger = the model finds the knockout less natural = more likely essential.

Exactness shortcut: the model is causal, so the knockout's log-probabilities before the cassette
equal the wild type's. Both windows are still scored in full (there is no state to reuse), but the
sums use the wild-type prefix for both: ``score`` is the sum of the differences at and after the
cassette, and ``ko_ll = wt_ll − score``. This is the same number in exact arithmetic and removes
float noise from the prefix when a gene's two windows land in different batches.

Genes that cannot be scored get a status instead of a score, and are never dropped:
``multi_interval``, ``unknown_contig``, ``no_strand``, ``out_of_range``, ``too_long``,
``too_short``, ``non_acgt`` (an N or other ambiguity code where the cassette goes).

The recipe :func:`knock_out_genes` reads an annotation (and a genome FASTA, or the annotation's own
sequence) and scores every CDS in annotation order across the ranks of a
:class:`~.session.ScoringSession`::

    with ScoringSession.open(device="cpu") as session:
        run = knock_out_genes(session, "genes.gbk")
        for s in run.results:  # GeneScore, one per CDS
            print(s.gene.locus_tag, s.status, s.score)
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass
from typing import Iterator, Mapping, Sequence

import numpy as np

from ..data.annotation import Annotation, Gene, read_annotation
from ..data.fasta import read_fasta
from ..errors import ConfigError, InputError, InputWarning
from ..vocab import ACGT, reverse_complement_ids, tokenize

from .knockout_defaults import DEFAULT_CASSETTE, DEFAULT_OFFSET, DEFAULT_WINDOW
from .session import RecipeRun, ScoringSession

OK = "ok"
MULTI_INTERVAL = "multi_interval"
UNKNOWN_CONTIG = "unknown_contig"
NO_STRAND = "no_strand"
OUT_OF_RANGE = "out_of_range"
TOO_LONG = "too_long"
TOO_SHORT = "too_short"
NON_ACGT = "non_acgt"
CIRCULAR_MODES = ("auto", "yes", "no")
PROTOCOLS = ("local", "centred")


@dataclass(frozen=True)
class KnockoutConfig:
    """The protocol's assumptions, each one a command-line flag."""

    window: int = DEFAULT_WINDOW
    offset: int = DEFAULT_OFFSET
    cassette: str = DEFAULT_CASSETTE
    circular: str = "auto"  # auto: the annotation's topology where it gives one, else circular
    #: local: the shared wild-type state at the cassette, the knockout's suffix only (see
    #: :func:`score_genes`); centred: the publication's whole windows.
    protocol: str = "local"
    left_context: int = 2048  # local: at least this many bases before the cassette
    downstream: int = 256  # local: bases after the gene's end in each suffix

    def __post_init__(self) -> None:
        problems = []
        if self.window < 1:
            problems.append(f"window must be >= 1, got {self.window}")
        if self.offset < 0:
            problems.append(f"offset must be >= 0, got {self.offset}")
        if not self.cassette or any(c not in "ACGTacgt" for c in self.cassette):
            problems.append(f"cassette must be a non-empty A/C/G/T string, got {self.cassette!r}")
        if self.protocol not in PROTOCOLS:
            problems.append(f"protocol must be one of {', '.join(PROTOCOLS)}, got {self.protocol!r}")
        if self.left_context < 0 or self.downstream < 0:
            problems.append(f"left_context and downstream must be >= 0, got {self.left_context}, {self.downstream}")
        if self.circular not in CIRCULAR_MODES:
            problems.append(f"circular must be one of {', '.join(CIRCULAR_MODES)}, got {self.circular!r}")
        if problems:
            raise ConfigError(problems)

    @property
    def cassette_ids(self) -> np.ndarray:
        return tokenize(self.cassette.upper())


@dataclass
class GeneWindow:
    """A gene's window, oriented 5'→3' along the gene.

    ``left0``: genomic 0-based position (+ strand) of the window's leftmost base; the window covers
    ``(left0 + i) % chrom_length`` for i < len(ids). ``gene_at``: index in ``ids`` of the first
    base of the start codon. ``wraps``: the window crosses the origin of a circular replicon.
    """

    ids: np.ndarray
    left0: int
    strand: str
    gene_at: int
    wraps: bool

    def genomic_positions(self, chrom_length: int) -> np.ndarray:
        """0-based genomic (+ strand) position of every base of ``ids``, in window order."""
        pos = (self.left0 + np.arange(len(self.ids))) % chrom_length
        return pos[::-1] if self.strand == "-" else pos


@dataclass
class GeneScore:
    """One output row: the gene, its status and, when scored (status 'ok'), the likelihoods."""

    gene: Gene
    status: str
    wt_ll: float | None = None
    ko_ll: float | None = None
    score: float | None = None
    essential: int | None = None  # filled by assign_essential

    @property
    def scored(self) -> bool:
        return self.score is not None


def is_circular(chrom: str, mode: str, topology: Mapping[str, str]) -> bool:
    """yes/no force it; auto takes the annotation's topology when it gives one, else circular
    (prokaryotic chromosomes and plasmids usually are)."""
    if mode == "yes":
        return True
    if mode == "no":
        return False
    return topology.get(chrom, "circular") != "linear"


def gene_window(genome: np.ndarray, gene: Gene, window: int, circular: bool) -> GeneWindow:
    """The gene-centred, gene-oriented window (the gene must fit: length <= min(window, len))."""
    L = len(genome)
    W = min(window, L)
    g = gene.length
    up = (W - g) // 2  # upstream flank (5' of the gene); the downstream flank gets the odd base
    left = gene.start0 - up if gene.strand == "+" else gene.end0 + up - W
    if not circular:
        left = min(max(left, 0), L - W)  # shifted inward at the ends, never padded
    gene_at = gene.start0 - left if gene.strand == "+" else left + W - gene.end0
    left %= L
    idx = (left + np.arange(W)) % L
    ids = genome[idx]
    if gene.strand == "-":
        ids = reverse_complement_ids(ids)
    return GeneWindow(ids=np.ascontiguousarray(ids, dtype=np.uint8), left0=int(left), strand=gene.strand,
                      gene_at=int(gene_at), wraps=bool(circular and left + W > L))


def knockout(wt: np.ndarray, at: int, cassette_ids: np.ndarray) -> np.ndarray:
    """A copy of ``wt`` with ``cassette_ids`` written over positions [at, at + len(cassette))."""
    if at < 0 or at + len(cassette_ids) > len(wt):
        raise ValueError(f"cassette at {at} (+{len(cassette_ids)}) does not fit a window of {len(wt)}")
    ko = wt.copy()
    ko[at : at + len(cassette_ids)] = cassette_ids
    return ko


def plan_gene(gene: Gene, genomes: Mapping[str, np.ndarray], topology: Mapping[str, str],
              cfg: KnockoutConfig) -> tuple[str, GeneWindow | None]:
    """Status of a gene and, when it can be scored, its wild-type window."""
    if gene.n_parts > 1:
        return MULTI_INTERVAL, None
    genome = genomes.get(gene.chrom)
    if genome is None:
        return UNKNOWN_CONTIG, None
    if gene.strand not in ("+", "-"):
        return NO_STRAND, None
    circular = is_circular(gene.chrom, cfg.circular, topology)
    L = len(genome)
    # A GFF3 CDS may run past the end of a circular sequence (it crosses the origin).
    if gene.start0 >= L or gene.length > L or (gene.end0 > L and not circular):
        return OUT_OF_RANGE, None
    if gene.length > cfg.window:
        return TOO_LONG, None
    if cfg.offset + len(cfg.cassette) > gene.length:
        return TOO_SHORT, None
    win = gene_window(genome, gene, cfg.window, circular)
    at = win.gene_at + cfg.offset
    if not np.isin(win.ids[at : at + len(cfg.cassette)], ACGT).all():
        return NON_ACGT, None
    return OK, win


def score_genes(genes: Sequence[Gene], genomes: Mapping[str, np.ndarray], topology: Mapping[str, str],
                engine, cfg: KnockoutConfig) -> list[GeneScore]:
    """Score a chunk of genes, one GeneScore per gene, in order.

    centred: the wild-type and knockout windows of all of them go to the engine in one
    ``log_probs`` call (it batches them). local: see :func:`score_genes_local`."""
    if cfg.protocol == "local":
        return score_genes_local(genes, genomes, topology, engine, cfg)
    cassette = cfg.cassette_ids
    plans = [plan_gene(g, genomes, topology, cfg) for g in genes]
    windows: list[np.ndarray] = []
    for status, win in plans:
        if win is not None:
            windows.append(win.ids)
            windows.append(knockout(win.ids, win.gene_at + cfg.offset, cassette))
    log_probs = engine.log_probs(windows) if windows else []
    out: list[GeneScore] = []
    k = 0
    for gene, (status, win) in zip(genes, plans):
        if win is None:
            out.append(GeneScore(gene, status))
            continue
        wt, ko = log_probs[k], log_probs[k + 1]
        k += 2
        at = win.gene_at + cfg.offset
        prefix = float(np.nansum(wt[:at], dtype=np.float64))
        wt_suffix = float(np.nansum(wt[at:], dtype=np.float64))
        ko_suffix = float(np.nansum(ko[at:], dtype=np.float64))
        score = wt_suffix - ko_suffix
        out.append(GeneScore(gene, OK, wt_ll=prefix + wt_suffix, ko_ll=prefix + ko_suffix, score=score))
    return out


def score_genes_local(genes: Sequence[Gene], genomes: Mapping[str, np.ndarray], topology: Mapping[str, str],
                      engine, cfg: KnockoutConfig) -> list[GeneScore]:
    """The local protocol: each gene read 5'->3' on its strand with the left context of the
    variant protocol (at least ``left_context`` bases before the cassette, from the strand's
    1,024-nt block grid); the wild type is run once per block as a carried state, and at each
    cassette the state is forked: wt_ll and ko_ll sum the log-probabilities of the wild-type and
    knockout suffixes (the cassette, the rest of the gene and ``downstream`` bases after it, clipped
    at the sequence end), score = wt_ll - ko_ll. Contexts do not wrap at the origin: a gene that
    crosses it is ``out_of_range``."""
    from .local_variants import LocalVariantScorer, Site
    from .variants import ReferenceGenome

    cassette = cfg.cassette_ids
    plans = [plan_gene(g, genomes, topology, cfg) for g in genes]
    out = [GeneScore(g, status) for g, (status, _) in zip(genes, plans)]
    sites: dict[str, list] = {"forward": [], "reverse": []}
    for i, (gene, (status, _)) in enumerate(zip(genes, plans)):
        if status != OK:
            continue
        L = len(genomes[gene.chrom])
        if gene.end0 > L:
            out[i].status = OUT_OF_RANGE
            continue
        contig, c = genomes[gene.chrom], len(cassette)
        if gene.strand == "+":
            strand, q, end = "forward", gene.start0 + cfg.offset, gene.end0
            ref = contig[q : q + c]
        else:  # the reverse strand's coordinates: x there is L - 1 - x here
            strand, q, end = "reverse", L - gene.end0 + cfg.offset, L - gene.start0
            ref = reverse_complement_ids(contig[L - q - c : L - q])
        down = end - (q + len(cassette)) + cfg.downstream
        sites[strand].append((gene.chrom, Site(i, 0, q, np.ascontiguousarray(ref, dtype=np.uint8), cassette, down)))
    scorer = LocalVariantScorer(engine, ReferenceGenome(dict(genomes)), left_context=cfg.left_context)
    for strand, items in sites.items():
        if items:
            for (i, _), (wt, _, ko, _) in scorer.score_sites(strand, items).items():
                out[i].wt_ll, out[i].ko_ll, out[i].score = wt, ko, wt - ko
    return out


class ContigMismatchWarning(InputWarning):
    """No sequence name of the annotation matches a genome record: every gene is unknown_contig."""


@dataclass
class KnockoutRun(RecipeRun[GeneScore]):
    """What :func:`knock_out_genes` returns: ``results`` are the GeneScore of ``genes[skip:]``, in
    annotation order (lazy: the knockouts are scored while it is iterated)."""

    annotation: Annotation  # the parsed annotation: genes in output order, format, topology
    genomes: Mapping[str, np.ndarray]  # token ids per sequence name (GENOME, or the annotation's own)
    genome_path: str | None  # the genome FASTA read; None when the annotation carries the sequence
    config: KnockoutConfig
    circular: list[str]  # sequence names with genes, read as circular replicons (sorted)
    linear: list[str]  # ... and as linear ones
    chunk: int  # genes per rank and scoring call; a resumable output commits at multiples of it
    #: Genes finished by an interrupted run: results start after them. Read when ``results`` is
    #: first iterated, so a writer may set it after opening its output (keep it a multiple of chunk).
    skip: int = 0

    @property
    def genes(self) -> list[Gene]:
        return self.annotation.genes


def knock_out_genes(session: ScoringSession, annotation: str | os.PathLike[str] | Annotation,
                    genome: str | os.PathLike[str] | None = None, config: KnockoutConfig = KnockoutConfig(),
                    skip: int = 0) -> KnockoutRun:
    """Score every CDS of ``annotation`` (a GFF3 or GenBank path, or one already read) by in-silico
    knockout with ``config``'s protocol, split across ``session``'s ranks (``session.map``, chunks
    of ``max(2, batch size)`` genes).

    ``genome``: a FASTA whose record names match the annotation's sequence names; None: the
    sequence the annotation carries (GenBank ORIGIN, GFF3 ``##FASTA``). The inputs are read now
    (an :class:`InputError` for a missing file, or for no genome at all; a
    :class:`ContigMismatchWarning` when no gene's sequence name is a genome record); the scoring
    happens while ``results`` is iterated. ``parameters`` hold the provenance lines of the
    essentiality TSV (genome, annotation, protocol, window, offset, cassette, circular,
    coordinates, score)."""
    ann = annotation if isinstance(annotation, Annotation) else read_annotation(annotation)
    if genome is not None:
        if not os.path.exists(genome):
            raise InputError("no such file", path=str(genome))
        genomes = {rec.name: rec.ids for rec in read_fasta(genome)}
        genome_path = genome_source = str(genome)
    elif ann.sequences:
        genomes, genome_path, genome_source = ann.sequences, None, f"sequence in {ann.path}"
    else:
        raise InputError("no GENOME given and the annotation carries no sequence; give a genome FASTA", path=ann.path)
    if not any(g.chrom in genomes for g in ann.genes):
        warnings.warn(f"no annotation sequence name ({_names(sorted({g.chrom for g in ann.genes}), 3)}) matches a genome "
                      f"record ({_names(sorted(genomes), 3)}); every gene will be unknown_contig", ContigMismatchWarning,
                      stacklevel=2)
    cfg = config
    chroms = sorted({g.chrom for g in ann.genes if g.chrom in genomes})
    circ = [c for c in chroms if is_circular(c, cfg.circular, ann.topology)]
    lin = [c for c in chroms if c not in circ]
    parameters = {
        "genome": genome_source,
        "annotation": f"{ann.path} ({ann.format})",
        "protocol": (f"local (left context >= {cfg.left_context} nt in 1,024-nt blocks; suffix = cassette to {cfg.downstream} nt past the gene)"
                     if cfg.protocol == "local" else f"centred (window {cfg.window} nt)"),
        "window": cfg.window, "offset": cfg.offset, "cassette": cfg.cassette,
        "circular": f"{cfg.circular}; circular: {_names(circ)}; linear: {_names(lin)}",
        "coordinates": "start/end 1-based, inclusive end (as in GFF3/GenBank); windows read 5'->3' along each gene",
        "score": "wt_ll - ko_ll (natural log, summed over the " + ("suffix" if cfg.protocol == "local" else "window") + "); larger = more likely essential",
    }
    run = KnockoutRun(parameters=parameters, results=iter(()), annotation=ann, genomes=genomes, genome_path=genome_path,
                      config=cfg, circular=circ, linear=lin, chunk=max(2, session.batch_size), skip=skip)

    def results() -> Iterator[GeneScore]:  # a generator: run.skip is read at the first next()
        score = lambda part: score_genes(part, genomes, ann.topology, session.engine, cfg)  # noqa: E731
        yield from session.map(ann.genes[run.skip :], score, chunk=run.chunk)

    run.results = results()
    return run


def _names(names: list[str], limit: int = 10) -> str:
    """``names`` for a provenance line or a message: the first ``limit``, then how many in all."""
    if not names:
        return "none"
    return ", ".join(names[:limit]) + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def assign_essential(scores: Sequence[GeneScore], fraction: float | None = 0.2, threshold: float | None = None) -> None:
    """Fill ``essential`` in place: with ``threshold``, 1 where score >= threshold; otherwise the
    top ``fraction`` of scored genes by score get 1 (k = round(fraction · n_scored), half up; genes
    tied with the k-th score are included), the other scored genes 0. Skipped genes stay None."""
    scored = [s for s in scores if s.scored]
    if threshold is not None:
        for s in scored:
            s.essential = int(s.score >= threshold)
        return
    if fraction is None or not 0.0 <= fraction <= 1.0:
        raise ConfigError([f"essential fraction must be within [0, 1], got {fraction}"])
    k = int(math.floor(fraction * len(scored) + 0.5))
    cut = sorted((s.score for s in scored), reverse=True)[k - 1] if k > 0 else math.inf
    for s in scored:
        s.essential = int(s.score >= cut)


def rank_average(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties given the average of the ranks they span."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="mergesort")
    sorted_vals = values[order]
    ranks = np.empty(len(values), dtype=np.float64)
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and sorted_vals[j + 1] == sorted_vals[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def auroc(values: Sequence[float], labels: Sequence[int]) -> float:
    """Area under the ROC curve of ``values`` for binary ``labels`` (1 = positive), from the
    Mann–Whitney U statistic with ties averaged; NaN when a class is empty."""
    y = np.asarray(labels, dtype=np.int64)
    n_pos = int((y == 1).sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = rank_average(np.asarray(values, dtype=np.float64))
    u = ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


@dataclass
class LabelSummary:
    auroc: float
    n_labelled: int  # scored genes with a label
    n_essential: int
    n_unmatched: int  # labels whose locus_tag matched no scored gene


def evaluate_labels(scores: Sequence[GeneScore], labels: Mapping[str, int]) -> LabelSummary:
    """AUROC of the scores of the scored genes whose locus_tag has a label."""
    pairs = [(s.score, labels[s.gene.locus_tag]) for s in scores if s.scored and s.gene.locus_tag in labels]
    matched = {s.gene.locus_tag for s in scores if s.scored and s.gene.locus_tag in labels}
    values = [p[0] for p in pairs]
    y = [p[1] for p in pairs]
    return LabelSummary(auroc=auroc(values, y), n_labelled=len(pairs), n_essential=int(sum(y)),
                        n_unmatched=len(set(labels) - matched))
