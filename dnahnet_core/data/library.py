"""Reading a variant library of one target (a deep mutational scan, a MaveDB score table).

A TSV or CSV (plain or gzip; the separator follows the extension, else the header line) with one
variant per row: a variant column (HGVS ``c.``/``n.`` edits, or the whole mutant sequence), and
optionally a measured score and an assay name. Lines starting with '#' are comments (MaveDB's
``# Accession:`` lines); a '#' inside a cell is data (MaveDB accessions are ``urn:...#12``).
Cells are read as text, never as numbers, so variants and scores come back as written.
"""

from __future__ import annotations

import gzip
import io
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError, read_errors

#: Variant column names tried, in order, when none is given (MaveDB calls it hgvs_nt).
VARIANT_COLUMNS: tuple[str, ...] = ("hgvs_nt", "hgvs", "variant", "sequence")
#: Score and assay columns used when present and none is given.
SCORE_COLUMN = "score"
ASSAY_COLUMN = "assay"
#: Score cells that mean "no measurement".
MISSING_SCORES = frozenset({"", "na", "nan", "n/a", "none", "null", "."})


@dataclass(frozen=True)
class LibraryRow:
    """One variant: ``number`` is its 1-based data row (header and '#' lines not counted).

    ``score`` is the measured value (None when there is no score column or the cell is empty, NA
    or not a number); ``score_text`` is the cell as written; ``assay`` is "" without an assay column.
    """

    number: int
    variant: str
    score: float | None = None
    score_text: str = ""
    assay: str = ""


@dataclass
class Library:
    path: str
    rows: list[LibraryRow]
    variant_column: str
    score_column: str | None = None
    assay_column: str | None = None
    columns: list[str] = field(default_factory=list)

    @property
    def assays(self) -> list[str]:
        """Assay names in order of first appearance."""
        return list(dict.fromkeys(r.assay for r in self.rows))


def parse_score(text: str) -> float | None:
    """A measured score cell as a finite float, or None (empty, NA, not a number, infinite)."""
    t = text.strip()
    if t.lower() in MISSING_SCORES:
        return None
    try:
        value = float(t)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _read_text(path: Path) -> str:
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if b"\x00" in raw:
        raise InputError("not a text file (contains NUL bytes); expected a TSV/CSV variant library", path=str(path))
    return raw.decode("utf-8-sig")


def _separator(path: Path, header: str) -> str:
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".csv"):
        return ","
    if name.endswith((".tsv", ".tab")):
        return "\t"
    return "\t" if "\t" in header else ","


def _pick(columns: list[str], wanted: str | None, what: str, option: str, where: str) -> str:
    if wanted not in columns:
        raise InputError(f"no {what} column {wanted!r} ({option}); the columns are: {', '.join(columns)}", path=where)
    return wanted


def read_library(path: str | os.PathLike[str], variant_column: str | None = None, score_column: str | None = None,
                 assay_column: str | None = None) -> Library:
    """Read a library; every problem with the file or its columns is one :class:`InputError` line.

    ``variant_column`` None: the first of :data:`VARIANT_COLUMNS` present. ``score_column`` and
    ``assay_column`` None: ``score`` and ``assay`` when present, else none; a named column that is
    missing is an error. Rows are never dropped: an empty variant cell is kept for the caller to flag.
    """
    import pandas as pd

    path = Path(path)
    where = str(path)
    if not path.exists():
        raise InputError("no such file", path=where)
    if path.is_dir():
        raise InputError("is a directory, not a variant library", path=where)
    with read_errors(where, "a TSV/CSV variant library"):
        text = _read_text(path)
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    header = next((line for line in lines if line.strip()), None)
    if header is None:
        raise InputError("empty variant library (no header line)", path=where)
    sep = _separator(path, header)
    try:
        df = pd.read_csv(io.StringIO("\n".join(lines)), sep=sep, dtype=str, keep_default_na=False, skip_blank_lines=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as err:
        raise InputError(f"not a readable {'CSV' if sep == ',' else 'TSV'} ({str(err).strip().splitlines()[0]})", path=where) from None
    df.columns = [str(c).strip() for c in df.columns]
    columns = list(df.columns)
    if variant_column is None:
        variant_column = next((c for c in VARIANT_COLUMNS if c in columns), None)
        if variant_column is None:
            raise InputError(f"no variant column: name it with --variant-column (looked for {', '.join(VARIANT_COLUMNS)}); "
                             f"the columns are: {', '.join(columns)}", path=where)
    else:
        _pick(columns, variant_column, "variant", "--variant-column", where)
    if score_column is None:
        score_column = SCORE_COLUMN if SCORE_COLUMN in columns else None
    else:
        _pick(columns, score_column, "score", "--score-column", where)
    if assay_column is None:
        assay_column = ASSAY_COLUMN if ASSAY_COLUMN in columns else None
    else:
        _pick(columns, assay_column, "assay", "--assay-column", where)
    if len(df) == 0:
        raise InputError("no variants (the library has a header line only)", path=where)

    df = df.fillna("")  # short rows: the missing cells are empty
    variants = df[variant_column].str.strip().tolist()
    scores = df[score_column].str.strip().tolist() if score_column else [""] * len(df)
    assays = df[assay_column].str.strip().tolist() if assay_column else [""] * len(df)
    rows = [LibraryRow(number=i + 1, variant=v, score=parse_score(s) if score_column else None, score_text=s, assay=a)
            for i, (v, s, a) in enumerate(zip(variants, scores, assays))]
    return Library(path=where, rows=rows, variant_column=variant_column, score_column=score_column,
                   assay_column=assay_column, columns=columns)
