"""Reading protein-coding genes (CDS features) from GFF3 or GenBank files.

Coordinates: GFF3 and GenBank files are 1-based with inclusive ends; every :class:`Gene` here is
0-based half-open (``start0``, ``end0``), as all internal intervals in dnahnet are. A CDS made of
several intervals (a ``join(...)`` location in GenBank, several CDS lines sharing one ``ID`` in
GFF3) is kept as one gene with ``n_parts > 1`` and its span as coordinates, so that callers can
report it instead of dropping it. On a circular replicon a GFF3 CDS that crosses the origin may
have ``end0`` beyond the sequence length (the GFF3 convention); callers wrap it.

GenBank files may also carry the sequence (ORIGIN) and the topology (``circular``/``linear`` on
the LOCUS line); GFF3 files may carry sequences after a ``##FASTA`` line and circularity as
``Is_circular=true`` on a ``region`` feature. Both are returned in :class:`Annotation`.

Every way an annotation can be broken becomes one :class:`InputError` line naming the file.
"""

from __future__ import annotations

import csv
import gzip
import io
import warnings
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pandas as pd

from ..errors import InputError, read_errors
from ..vocab import tokenize

GFF_COLUMNS = ["seqid", "source", "type", "start", "end", "score", "strand", "phase", "attributes"]


@dataclass
class Gene:
    """One CDS: 0-based half-open [start0, end0) on ``chrom``; strand '+', '-' or '.' (unknown)."""

    gene_id: str
    locus_tag: str
    gene_name: str
    chrom: str
    start0: int
    end0: int
    strand: str
    n_parts: int = 1

    @property
    def length(self) -> int:
        return self.end0 - self.start0


@dataclass
class Annotation:
    """The CDS of one annotation file, plus what the file says about its sequences.

    ``sequences``: token ids per sequence name, when the file carries them (GenBank ORIGIN, GFF3
    ``##FASTA``); ``topology``: 'circular' or 'linear' per sequence name where the file says so.
    """

    path: str
    format: str  # "gff3" or "genbank"
    genes: list[Gene]
    sequences: dict[str, np.ndarray] = field(default_factory=dict)
    topology: dict[str, str] = field(default_factory=dict)


def _read_text(path: Path) -> str:
    """The whole file as text (gzip detected by its magic bytes); one-line errors."""
    where = str(path)
    if not path.exists():
        raise InputError("no such file", path=where)
    if path.is_dir():
        raise InputError("is a directory, not an annotation file", path=where)
    with read_errors(where, "GFF3 or GenBank"):
        with open(path, "rb") as f:
            raw = f.read()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        if b"\x00" in raw:
            raise InputError("not a text file (contains NUL bytes); expected GFF3 or GenBank", path=where)
        return raw.decode("utf-8")


def sniff_format(text: str) -> str | None:
    """'genbank', 'gff3' or None, from the first non-blank line."""
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("LOCUS"):
            return "genbank"
        if line.startswith("##gff-version"):
            return "gff3"
        if not line.startswith("#") and len(line.rstrip("\r\n").split("\t")) == 9:
            return "gff3"  # a GFF3 body without the (required, but often missing) pragma
        if line.startswith("#"):
            continue  # other comment lines before the first feature
        return None
    return None


def read_annotation(path: str | os.PathLike[str]) -> Annotation:
    """Read the CDS of a GFF3 or GenBank file (plain or gzip; the format is sniffed, not guessed
    from the extension). Raises :class:`InputError` for a missing, empty or unrecognised file and
    for a file without any CDS."""
    path = Path(path)
    text = _read_text(path)
    if not text.strip():
        raise InputError("empty annotation file", path=str(path))
    fmt = sniff_format(text)
    if fmt is None:
        first = next(line for line in text.splitlines() if line.strip())
        raise InputError(
            f"neither GFF3 nor GenBank: expected a '##gff-version 3' or 'LOCUS' line, found {first.strip()[:40]!r}",
            path=str(path),
        )
    ann = _parse_gff3(text, str(path)) if fmt == "gff3" else _parse_genbank(text, str(path))
    if not ann.genes:
        raise InputError(f"no CDS features in this {'GFF3' if fmt == 'gff3' else 'GenBank'} file", path=str(path))
    return ann


# ---------------------------------------------------------------------------------------- GFF3


def parse_attributes(column9: str) -> dict[str, list[str]]:
    """GFF3 column 9 → {key: [values]}: ';'-separated tag=value pairs, ','-separated values,
    each URL-unescaped after splitting (so an escaped %3B or %2C stays inside its value)."""
    attrs: dict[str, list[str]] = {}
    if column9 in ("", "."):
        return attrs
    for pair in column9.split(";"):
        pair = pair.strip()
        if not pair:
            continue
        key, sep, value = pair.partition("=")
        if not sep:
            continue  # a bare word is not a GFF3 attribute; ignore it rather than fail
        attrs[unquote(key.strip())] = [unquote(v) for v in value.split(",")]
    return attrs


def _first(attrs: dict[str, list[str]], key: str) -> str:
    values = attrs.get(key)
    return values[0] if values else ""


def _parse_gff3(text: str, where: str) -> Annotation:
    # Split off an embedded ##FASTA section, drop comment lines, and check the column count
    # ourselves so that errors can name the line (pandas would only say "tokenizing failed").
    lines = text.splitlines()
    body: list[str] = []
    line_numbers: list[int] = []
    fasta_at = None
    for i, line in enumerate(lines):
        if line.startswith("##FASTA"):
            fasta_at = i + 1
            break
        if not line.strip() or line.startswith("#"):
            continue
        line = line.rstrip("\r")
        n = line.count("\t") + 1
        if n != 9:
            raise InputError(f"line {i + 1}: expected 9 tab-separated GFF3 columns, found {n}", path=where)
        body.append(line)
        line_numbers.append(i + 1)
    if not body:
        raise InputError("GFF3 file has no feature lines", path=where)
    # Comment lines are already gone, so no comment='#' here: it would cut attribute values that
    # contain a '#'. QUOTE_NONE keeps quotes inside Note="..." values literally.
    df = pd.read_csv(
        io.StringIO("\n".join(body)), sep="\t", header=None, names=GFF_COLUMNS, dtype=str,
        quoting=csv.QUOTE_NONE, keep_default_na=False, na_filter=False,
    )
    df["line"] = line_numbers
    for col in ("start", "end"):
        ok = df[col].str.fullmatch(r"\d+")
        if not ok.all():
            bad = df[~ok].iloc[0]
            raise InputError(f"line {bad['line']}: {col} {bad[col]!r} is not a positive integer", path=where)
    df["start"] = df["start"].astype(np.int64)
    df["end"] = df["end"].astype(np.int64)
    bad = df[(df["start"] < 1) | (df["end"] < df["start"])]
    if len(bad):
        row = bad.iloc[0]
        raise InputError(f"line {row['line']}: bad interval {row['start']}..{row['end']} (1-based, start <= end)", path=where)
    bad = df[~df["strand"].isin(["+", "-", ".", "?"])]
    if len(bad):
        row = bad.iloc[0]
        raise InputError(f"line {row['line']}: strand {row['strand']!r} is not one of + - . ?", path=where)

    attrs = [parse_attributes(a) for a in df["attributes"]]
    by_id = {}
    topology: dict[str, str] = {}
    for a, seqid, ftype in zip(attrs, df["seqid"], df["type"]):
        fid = _first(a, "ID")
        if fid and fid not in by_id:
            by_id[fid] = a
        if ftype == "region" and _first(a, "Is_circular").lower() == "true":
            topology[seqid] = "circular"

    genes: list[Gene] = []
    grouped: dict[tuple[str, str], int] = {}  # (seqid, CDS ID) -> index in genes
    for k in np.flatnonzero((df["type"] == "CDS").to_numpy()):
        a = attrs[k]
        seqid, start0, end0 = df["seqid"].iat[k], int(df["start"].iat[k]) - 1, int(df["end"].iat[k])
        strand = df["strand"].iat[k]
        strand = strand if strand in "+-" else "."
        cds_id = _first(a, "ID")
        if cds_id and (seqid, cds_id) in grouped:  # another piece of a multi-interval CDS
            g = genes[grouped[(seqid, cds_id)]]
            g.start0, g.end0, g.n_parts = min(g.start0, start0), max(g.end0, end0), g.n_parts + 1
            continue
        parent = by_id.get(_first(a, "Parent"), {})
        locus_tag = _first(a, "locus_tag") or _first(parent, "locus_tag")
        name = _first(a, "gene") or _first(parent, "Name") or _first(parent, "gene") or _first(a, "Name")
        gene_id = cds_id or locus_tag or f"{seqid}:{start0 + 1}-{end0}{strand}"
        if cds_id:
            grouped[(seqid, cds_id)] = len(genes)
        genes.append(Gene(gene_id, locus_tag, name, seqid, start0, end0, strand, 1))

    sequences: dict[str, np.ndarray] = {}
    if fasta_at is not None:
        from Bio.SeqIO.FastaIO import SimpleFastaParser

        for title, seq in SimpleFastaParser(io.StringIO("\n".join(lines[fasta_at:]))):
            name = title.split(None, 1)[0] if title.strip() else ""
            if not name:
                raise InputError("##FASTA section: record header '>' has no name", path=where)
            if seq:
                sequences[name] = tokenize(seq, record=name, path=where)
    return Annotation(path=where, format="gff3", genes=genes, sequences=sequences, topology=topology)


# ------------------------------------------------------------------------------------- GenBank


def _parse_genbank(text: str, where: str) -> Annotation:
    from Bio import SeqIO
    from Bio.Seq import UndefinedSequenceError

    genes: list[Gene] = []
    sequences: dict[str, np.ndarray] = {}
    topology: dict[str, str] = {}
    seen: set[str] = set()
    from Bio import BiopythonParserWarning

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", BiopythonParserWarning)
            records = list(SeqIO.parse(io.StringIO(text), "genbank"))
    except Exception as err:  # Biopython raises ValueError and friends with a useful message
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise InputError(f"not a readable GenBank file ({msg})", path=where) from None
    for w in caught:
        # A sequence shorter or longer than the LOCUS line says, or cut off, is a damaged file:
        # scoring it would silently use the wrong genome.
        msg = str(w.message)
        if "Expected sequence length" in msg or "Premature end of file" in msg:
            raise InputError(f"damaged GenBank file: {msg.splitlines()[0]}", path=where)
    if not records:
        raise InputError("no GenBank records", path=where)
    for rec in records:
        chrom = rec.id if rec.id and rec.id != "<unknown id>" else rec.name
        if chrom in seen:
            raise InputError("duplicate GenBank record", path=where, record=chrom)
        seen.add(chrom)
        topo = rec.annotations.get("topology")
        if topo in ("circular", "linear"):
            topology[chrom] = topo
        try:
            seq = str(rec.seq)
        except UndefinedSequenceError:
            seq = ""
        if seq:
            sequences[chrom] = tokenize(seq, record=chrom, path=where)
        n_cds = 0
        for feat in rec.features:
            if feat.type != "CDS" or feat.location is None:
                continue
            n_cds += 1
            loc = feat.location
            q = feat.qualifiers
            locus_tag = q.get("locus_tag", [""])[0]
            strand = {1: "+", -1: "-"}.get(loc.strand, ".")
            gene_id = locus_tag or q.get("protein_id", [""])[0] or f"{chrom}_cds{n_cds}"
            start0, end0 = _span(loc, len(rec.seq) if topo == "circular" else None)
            genes.append(Gene(gene_id, locus_tag, q.get("gene", [""])[0], chrom, start0, end0, strand, len(loc.parts)))
    return Annotation(path=where, format="genbank", genes=genes, sequences=sequences, topology=topology)


def _span(loc, circular_length: int | None) -> tuple[int, int]:
    """0-based half-open span of a (possibly joined) location. On a circular record a join that
    crosses the origin, e.g. join(5075..5386,1..51), gets the GFF3 convention of an end beyond the
    sequence length (5074, 5437) instead of the whole record (0, 5386)."""
    parts = list(loc.parts)
    if len(parts) == 1 or not circular_length:
        return int(loc.start), int(loc.end)
    if loc.strand == -1:
        parts = parts[::-1]  # Biopython lists parts in biological order; walk them 5'->3' on +
    start0, end0, shift = int(parts[0].start), int(parts[0].end), 0
    for prev, part in zip(parts, parts[1:]):
        if int(part.start) < int(prev.start):
            shift = circular_length  # this part comes after the origin
        end0 = max(end0, int(part.end) + shift)
    return start0, end0
