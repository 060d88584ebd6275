"""Figures drawn from dnahnet's output files (matplotlib, the optional ``plots`` extra).

Each function reads an output file, draws one PNG/PDF/SVG and returns the numbers it drew as a
dataclass, so what a picture claims can be checked (and tested) without looking at pixels.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import DnaHNetError, InputError


def _pyplot():
    """matplotlib.pyplot with a file-only backend, or one clear error line when it is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise DnaHNetError("plots need matplotlib, an optional extra: pip install 'dnahnet[plots]'") from None
    return plt


def _save(fig, out: Path) -> None:
    from .atomic import atomic_path

    suffix = Path(out).suffix.lower()
    if suffix not in (".png", ".pdf", ".svg"):
        raise InputError(f"cannot tell the figure format from {Path(out).name!r}: use .png, .pdf or .svg", path=str(out))
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format=suffix[1:], dpi=150, bbox_inches="tight")


# ---- boundaries ---------------------------------------------------------------------------------


@dataclass
class Region:
    chrom: str
    start0: int  # 0-based half-open
    end0: int

    @classmethod
    def parse(cls, text: str) -> "Region":
        """``chrom``, or ``chrom:start-end`` (1-based inclusive, as samtools and IGV write it;
        thousands separators allowed)."""
        chrom, _, span = text.rpartition(":") if ":" in text else (text, "", "")
        if not span:
            return cls(text, 0, -1)
        try:
            a, b = (int(x.replace(",", "")) for x in span.split("-"))
        except ValueError:
            raise InputError(f"region {text!r}: expected CHROM or CHROM:START-END (1-based, inclusive)") from None
        if not 1 <= a <= b:
            raise InputError(f"region {text!r}: need 1 <= START <= END")
        return cls(chrom, a - 1, b)


@dataclass
class BoundaryPlot:
    region: Region
    bin_size: int
    bin_starts: np.ndarray  # 0-based start of each bin
    rates: dict[str, np.ndarray]  # stage label (s1, s2) -> chunk starts per base in each bin
    n_genes: int  # genes drawn under the rates
    mean_rates: dict[str, float] = field(default_factory=dict)  # chunk starts per base over the region


@dataclass
class ChunkBed:
    starts: dict[str, dict[str, np.ndarray]]  # chrom -> stage label (s1, s2) -> sorted 0-based starts
    ends: dict[str, int]  # chrom -> end of its last chunk (the record length)


def read_chunk_bed(path: Path) -> ChunkBed:
    """``dnahnet boundaries`` BED6 (track/browser/# header lines skipped)."""
    import pandas as pd

    try:
        with open(path) as f:
            body = "".join(line for line in f if not line.startswith(("track", "browser", "#")))
        df = pd.read_csv(io.StringIO(body), sep="\t", header=None, usecols=[0, 1, 2, 3], dtype={0: str, 3: str})
        df[1], df[2] = df[1].astype(np.int64), df[2].astype(np.int64)
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise InputError(f"not a dnahnet boundaries BED file ({str(err).splitlines()[0]})", path=str(path)) from None
    starts: dict[str, dict[str, np.ndarray]] = {}
    for (chrom, label), group in df.groupby([0, 3], sort=False):
        starts.setdefault(chrom, {})[label] = np.sort(group[1].to_numpy())
    return ChunkBed(starts=starts, ends={str(k): int(v) for k, v in df.groupby(0, sort=False)[2].max().items()})


def plot_boundaries(bed: Path, out: Path, annotation: Path | None = None, region: str | None = None,
                    bin_size: int | None = None) -> BoundaryPlot:
    """Chunk-start rate per stage along a region (default: the first record, whole), with the
    annotation's genes drawn underneath as arrows (coding strand)."""
    bedfile = read_chunk_bed(Path(bed))
    chunks = bedfile.starts
    if not chunks:
        raise InputError("no chunks in the BED file", path=str(bed))
    reg = Region.parse(region) if region else Region(next(iter(chunks)), 0, -1)
    if reg.chrom not in chunks:
        raise InputError(f"region {reg.chrom!r}: no such record in the BED file (records: {', '.join(list(chunks)[:5])})", path=str(bed))
    stages = chunks[reg.chrom]
    if reg.end0 < 0 or reg.end0 > bedfile.ends[reg.chrom]:  # whole record, or clipped to it
        reg = Region(reg.chrom, reg.start0, bedfile.ends[reg.chrom])
    if reg.start0 >= reg.end0:
        raise InputError(f"region {region!r} lies beyond the end of {reg.chrom} ({bedfile.ends[reg.chrom]:,} nt)", path=str(bed))
    span = reg.end0 - reg.start0
    size = bin_size or max(10, int(round(span / 200, -1)) or 10)
    edges = np.arange(reg.start0, reg.end0 + size, size)
    edges[-1] = min(edges[-1], reg.end0)
    if edges[-2] == edges[-1]:
        edges = edges[:-1]
    widths = np.diff(edges)
    rates = {label: np.histogram(starts, bins=edges)[0] / widths for label, starts in sorted(stages.items())}
    mean_rates = {label: float(((st >= reg.start0) & (st < reg.end0)).sum() / span) for label, st in sorted(stages.items())}
    genes = []
    if annotation is not None:
        from .data.annotation import read_annotation

        genes = [g for g in read_annotation(annotation).genes if g.chrom == reg.chrom and g.end0 > reg.start0 and g.start0 < reg.end0]

    plt = _pyplot()
    fig, (ax, gx) = plt.subplots(2, 1, figsize=(10, 4.6), sharex=True, gridspec_kw={"height_ratios": [3, 1.3]})
    colors = {"s1": "#1f77b4", "s2": "#d62728"}
    for label, r in rates.items():
        ax.step(edges[:-1], r, where="post", color=colors.get(label), label=f"stage {label[1:]} chunk starts "
                f"(mean {len(stages[label][(stages[label] >= reg.start0) & (stages[label] < reg.end0)]) / span:.3f}/nt)")
    ax.set_ylabel(f"chunk starts per nt\n({size:,}-nt bins)")
    ax.set_title(f"dnaHNet chunk boundaries, {reg.chrom}:{reg.start0 + 1:,}-{reg.end0:,}")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    ax.set_ylim(bottom=0)
    lanes = _gene_lanes(genes)
    n_lanes = {st: max([lane for g, lane in zip(genes, lanes) if g.strand == st] + [0]) + 1 for st in "+-"}
    height = n_lanes["+"] + n_lanes["-"]
    for g, lane in zip(genes, lanes):
        # + strand genes above the line, − strand below; overlapping genes (phages!) in their own lanes
        y = n_lanes["-"] + lane + 0.5 if g.strand != "-" else n_lanes["-"] - lane - 0.5
        color = "#2ca02c" if g.strand != "-" else "#9467bd"
        a, b = max(g.start0, reg.start0), min(g.end0, reg.end0)
        x0, dx = (b, -(b - a)) if g.strand == "-" else (a, b - a)
        gx.add_patch(plt.matplotlib.patches.FancyArrow(x0, y, dx, 0, width=0.5, head_width=0.8, head_length=min(span / 80, b - a),
                                                       length_includes_head=True, color=color, lw=0))
        label = g.gene_name or g.locus_tag
        if label and (b - a) > span / 25:
            gx.text((a + b) / 2, y, label, ha="center", va="center", fontsize=6, color="white", clip_on=True)
    gx.set_ylim(0, max(height, 2))
    gx.axhline(n_lanes["-"], color="#cccccc", lw=0.5)
    gx.set_yticks([n_lanes["-"] / 2, n_lanes["-"] + n_lanes["+"] / 2], ["− strand", "+ strand"] if genes else ["", ""], fontsize=8)
    gx.set_xlim(reg.start0, reg.end0)
    gx.set_xlabel(f"{reg.chrom} position (0-based)")
    if annotation is None:
        gx.text(0.5, 0.5, "no annotation given (--annotation GFF3/GenBank)", transform=gx.transAxes, ha="center", va="center", fontsize=8, color="gray")
    _save(fig, out)
    plt.close(fig)
    return BoundaryPlot(region=reg, bin_size=size, bin_starts=edges[:-1], rates=rates, n_genes=len(genes), mean_rates=mean_rates)


def _gene_lanes(genes: list) -> list[int]:
    """A lane per gene so that genes of one strand that overlap never share a lane (greedy, by start)."""
    lanes = [0] * len(genes)
    ends: dict[str, list[int]] = {"+": [], "-": []}
    for i in sorted(range(len(genes)), key=lambda i: genes[i].start0):
        g = genes[i]
        used = ends["-" if g.strand == "-" else "+"]
        lane = next((k for k, end in enumerate(used) if end <= g.start0), len(used))
        if lane == len(used):
            used.append(0)
        used[lane] = g.end0
        lanes[i] = lane
    return lanes


# ---- essentiality -------------------------------------------------------------------------------


@dataclass
class EssentialityPlot:
    n_scored: int
    scores: np.ndarray  # scored genes' scores, ranked high to low
    labels: np.ndarray | None  # 0/1 per ranked gene where labelled, -1 where not; None without labels
    auroc: float | None


def plot_essentiality(table: Path, out: Path, labels: Path | None = None, top: int = 30) -> EssentialityPlot:
    """Score distribution (split by label when labels are given) and the genes ranked by score,
    with the top genes named."""
    import pandas as pd

    try:
        df = pd.read_csv(table, sep="\t", comment="#", dtype={"locus_tag": str, "gene_name": str, "status": str})
    except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise InputError(f"not a dnahnet essentiality table ({str(err).splitlines()[0]})", path=str(table)) from None
    missing = [c for c in ("locus_tag", "score", "status") if c not in df.columns]
    if missing:
        raise InputError(f"not a dnahnet essentiality table: no column {', '.join(missing)}", path=str(table))
    ok = df[df["status"] == "ok"].sort_values("score", ascending=False, kind="stable")
    if ok.empty:
        raise InputError("no scored genes (status ok) to plot", path=str(table))
    scores = ok["score"].to_numpy(dtype=float)
    lab = None
    auc = None
    if labels is not None:
        from .data.labels import read_labels
        from .scoring.essentiality import auroc

        known = read_labels(labels)
        lab = np.array([known.get(t, -1) for t in ok["locus_tag"].fillna("")], dtype=int)
        has = lab >= 0
        if has.any() and 0 < lab[has].sum() < has.sum():
            auc = auroc(scores[has], lab[has])

    plt = _pyplot()
    fig, (hx, rx) = plt.subplots(1, 2, figsize=(11, 4))
    bins = np.histogram_bin_edges(scores, bins=min(40, max(10, len(scores) // 5)))
    if lab is None:
        hx.hist(scores, bins=bins, color="#7f7f7f")
    else:
        for value, name, color in ((0, "non-essential", "#1f77b4"), (1, "essential", "#d62728"), (-1, "unlabelled", "#bbbbbb")):
            if (lab == value).any():
                hx.hist(scores[lab == value], bins=bins, alpha=0.6, color=color, label=f"{name} (n={int((lab == value).sum())})")
        hx.legend(fontsize=8, frameon=False)
    hx.set_xlabel("knockout score (wt_ll - ko_ll, nats; higher = more essential)")
    hx.set_ylabel("genes")
    hx.yaxis.get_major_locator().set_params(integer=True)
    hx.set_title(f"{len(scores)} scored genes" + (f", AUROC {auc:.3f}" if auc is not None else ""))
    rank = np.arange(1, len(scores) + 1)
    rx.plot(rank, scores, color="#333333", lw=1)
    if lab is not None:
        rx.scatter(rank[lab == 1], scores[lab == 1], s=10, color="#d62728", label="essential (label)", zorder=3)
        rx.legend(fontsize=8, frameon=False)
    names = (ok["gene_name"].fillna("").where(ok["gene_name"].fillna("") != "", ok["locus_tag"].fillna(""))).tolist()
    for i in range(min(top, len(scores), 12)):
        rx.annotate(names[i], (rank[i], scores[i]), fontsize=6, xytext=(4, -2), textcoords="offset points")
    rx.set_xscale("log")
    rx.set_xlabel("rank (log scale)")
    rx.set_ylabel("knockout score")
    rx.set_title("genes ranked by score (top 12 named)")
    _save(fig, out)
    plt.close(fig)
    return EssentialityPlot(n_scored=len(scores), scores=scores, labels=lab, auroc=auc)


# ---- variants -----------------------------------------------------------------------------------


@dataclass
class VariantPlot:
    status_counts: dict[str, int]
    n_scored: int
    groups: dict[str, np.ndarray] = field(default_factory=dict)  # --by value -> LLRs of its ok alleles


def _variant_rows(path: Path, by: str | None) -> list[tuple[str, float | None, str | None]]:
    """(status, llr, group) per ALT from a scored VCF/BCF or a score-vcf TSV."""
    name = path.name.lower()
    if name.endswith((".tsv", ".tsv.gz", ".txt")):
        if by is not None:
            raise InputError("--by needs the scored VCF (an INFO field); a TSV has no INFO", path=str(path))
        import gzip

        import pandas as pd

        try:
            with (gzip.open(path, "rt") if name.endswith(".gz") else open(path)) as f:
                # '# key: value' provenance lines go; the column line ('chrom' or '#chrom') stays.
                body = "".join(line.lstrip("#") for line in f if not line.startswith("# "))
            df = pd.read_csv(io.StringIO(body), sep="\t", dtype=str, keep_default_na=False)
        except (OSError, EOFError, UnicodeDecodeError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
            raise InputError(f"not a score-vcf TSV ({str(err).splitlines()[0]})", path=str(path)) from None
        if not {"llr", "status"} <= set(df.columns):
            raise InputError("not a score-vcf TSV: no llr and status columns", path=str(path))
        return [(s, float(v) if v not in ("NA", ".", "") else None, None) for s, v in zip(df["status"], df["llr"])]
    import pysam

    from .data.vcf import quiet_htslib

    quiet_htslib()
    rows = []
    try:
        with pysam.VariantFile(str(path)) as vcf:
            for info in ("DNAHNET_LLR", "DNAHNET_STATUS"):
                if info not in vcf.header.info:
                    raise InputError(f"no INFO {info}: not a VCF written by dnahnet score-vcf", path=str(path))
            if by is not None and by not in vcf.header.info:
                raise InputError(f"--by {by}: no such INFO field in the header (fields: {', '.join(list(vcf.header.info)[:12])})", path=str(path))
            pick = _group_picker(vcf.header, by) if by else None
            for rec in vcf:
                llrs = rec.info.get("DNAHNET_LLR") or ()
                statuses = rec.info.get("DNAHNET_STATUS") or ()
                for k, (llr, status) in enumerate(zip(llrs, statuses)):
                    rows.append((status, llr, pick(rec, k) if pick else None))
    except (OSError, ValueError) as err:
        raise InputError(f"cannot read the scored VCF ({err})", path=str(path)) from None
    return rows


#: Annotation fields whose entries are '|'-separated per transcript: (field, how to find the ALT's
#: entry, which sub-field is the consequence). VEP's CSQ names its sub-fields in the header.
_PIPE_FIELDS = {"ANN": (0, 1), "BCSQ": (None, 0), "CSQ": (0, None)}


def _group_picker(header, by: str):
    """(record, ALT index) -> the group label of ``by`` for that ALT: a Number=A field gives each
    ALT its own value; snpEff ANN, VEP CSQ and bcftools csq BCSQ give the consequence of the ALT's
    first entry (VEP: its 'Consequence' sub-field, located from the header)."""
    meta = header.info[by]
    number = meta.number
    if by in _PIPE_FIELDS:
        allele_at, field_at = _PIPE_FIELDS[by]
        if field_at is None:  # VEP: "... Format: Allele|Consequence|IMPACT|..."
            fmt = (meta.description or "").split("Format:")[-1].strip().split("|")
            field_at = fmt.index("Consequence") if "Consequence" in fmt else 1

        def pick(rec, k: int) -> str | None:
            entries = rec.info.get(by)
            if entries is None:
                return None
            entries = entries if isinstance(entries, tuple) else (entries,)
            alt = rec.alts[k] if rec.alts and k < len(rec.alts) else None
            for e in entries:
                parts = str(e).split("|")
                if allele_at is None or (len(parts) > allele_at and parts[allele_at] in (alt, "")) or len(rec.alts or ()) == 1:
                    return parts[field_at].split("&")[0] if len(parts) > field_at else None
            return None
        return pick

    def pick(rec, k: int) -> str | None:
        value = rec.info.get(by)
        if value is None:
            return None
        if isinstance(value, tuple):
            if number == "A" and k < len(value):
                return str(value[k])
            return ",".join(str(v) for v in value)
        return str(value)
    return pick


def plot_variants(scored: Path, out: Path, by: str | None = None) -> VariantPlot:
    """Statuses (counts) and the LLR distribution of scored alleles; with ``by`` (an INFO field such
    as a consequence), the LLRs grouped by its value."""
    rows = _variant_rows(Path(scored), by)
    if not rows:
        raise InputError("no ALT alleles to plot", path=str(scored))
    counts: dict[str, int] = {}
    for status, _, _ in rows:
        counts[status] = counts.get(status, 0) + 1
    llr = np.array([v for s, v, _ in rows if s == "ok" and v is not None and math.isfinite(v)])
    groups: dict[str, list[float]] = {}
    if by:
        for s, v, g in rows:
            if s == "ok" and v is not None:
                groups.setdefault(g if g is not None else "(missing)", []).append(v)
    garr = {k: np.array(v) for k, v in sorted(groups.items(), key=lambda kv: -len(kv[1]))}

    plt = _pyplot()
    ncol = 3 if by else 2
    fig, axes = plt.subplots(1, ncol, figsize=(4.5 * ncol, 4))
    names = list(counts)
    axes[0].barh(names, [counts[n] for n in names], color=["#2ca02c" if n == "ok" else "#999999" for n in names])
    axes[0].invert_yaxis()
    axes[0].set_xlabel("ALT alleles")
    axes[0].set_title("status")
    for i, n in enumerate(names):
        axes[0].text(counts[n], i, f" {counts[n]}", va="center", fontsize=8)
    if len(llr):
        axes[1].hist(llr, bins=min(60, max(10, len(llr) // 10)), color="#1f77b4")
    axes[1].axvline(0, color="k", lw=0.5)
    axes[1].set_xlabel("LLR = LL(alt) - LL(ref) (nats)")
    axes[1].set_ylabel("alleles")
    axes[1].yaxis.get_major_locator().set_params(integer=True)
    axes[1].set_title(f"{len(llr)} scored alleles" + (f", median {np.median(llr):.3f}" if len(llr) else ""))
    if by:
        keys = list(garr)[:12]
        ax = axes[2]
        data = [garr[k] for k in keys]
        try:
            ax.boxplot(data, orientation="horizontal", showfliers=False, widths=0.6)
        except TypeError:  # matplotlib < 3.10 has no 'orientation'
            ax.boxplot(data, vert=False, showfliers=False, widths=0.6)
        jitter = np.random.default_rng(0)
        for i, k in enumerate(keys, start=1):  # every allele as a point: small groups show as they are
            ax.scatter(garr[k], i + jitter.uniform(-0.15, 0.15, len(garr[k])), s=6, color="#1f77b4", alpha=0.5, zorder=3)
        ax.set_yticks(range(1, len(keys) + 1), [f"{k} (n={len(garr[k])})" for k in keys], fontsize=7)
        ax.invert_yaxis()
        ax.axvline(0, color="k", lw=0.5)
        ax.set_xlabel("LLR (nats)")
        ax.set_title(f"LLR by INFO/{by}")
    fig.tight_layout()
    _save(fig, out)
    plt.close(fig)
    return VariantPlot(status_counts=counts, n_scored=len(llr), groups=garr)

