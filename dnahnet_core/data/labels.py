"""Gene essentiality labels (``--labels``): a TSV or CSV of locus tags and 0/1."""

from __future__ import annotations

import io
import os
from pathlib import Path

from ..errors import InputError


def read_labels(path: str | os.PathLike[str]) -> dict[str, int]:
    """Essentiality labels: a TSV or CSV (separator sniffed from the header line; '#' lines are
    comments) with columns ``locus_tag`` and ``essential`` (0 or 1); other columns are ignored."""
    import pandas as pd

    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise InputError("no such labels file", path=where)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError("not a text file; expected a TSV/CSV of labels", path=where) from None
    header = next((line for line in text.splitlines() if line.strip() and not line.startswith("#")), None)
    if header is None:
        raise InputError("empty labels file", path=where)
    sep = "\t" if "\t" in header else ","
    try:
        df = pd.read_csv(io.StringIO(text), sep=sep, comment="#", dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, ValueError) as err:
        raise InputError(f"not a readable TSV/CSV of labels ({str(err).splitlines()[0]})", path=where) from None
    df.columns = [c.strip() for c in df.columns]
    missing = [c for c in ("locus_tag", "essential") if c not in df.columns]
    if missing:
        raise InputError(f"labels need columns locus_tag and essential; missing {', '.join(missing)}", path=where)
    labels: dict[str, int] = {}
    for i, (tag, value) in enumerate(zip(df["locus_tag"].str.strip(), df["essential"].str.strip())):
        if value not in ("0", "1"):
            raise InputError(f"row {i + 1} ({tag}): essential must be 0 or 1, got {value!r}", path=where)
        if tag in labels and labels[tag] != int(value):
            raise InputError(f"locus_tag {tag!r} is labelled both 0 and 1", path=where)
        labels[tag] = int(value)
    if not labels:
        raise InputError("no labels in file", path=where)
    return labels
