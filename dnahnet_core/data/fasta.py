"""Finding and reading FASTA files (plain, gzip or bgzip) into token ids.

Parsing is delegated to Biopython's ``SimpleFastaParser``; this module adds what a training run needs
around it: file discovery, compression detection by magic bytes (file names lie), and turning every
way an input can be broken into one clear :class:`InputError` line instead of a traceback.
"""

from __future__ import annotations

import gzip
import io
import itertools
import os
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
from Bio.SeqIO.FastaIO import SimpleFastaParser

from ..errors import InputError, InputWarning, read_errors
from ..vocab import tokenize

#: Extensions recognised when searching folders; each may be followed by ``.gz`` or ``.bgz``.
FASTA_EXTENSIONS: tuple[str, ...] = (".fa", ".fna", ".fasta", ".fas")
COMPRESSION_EXTENSIONS: tuple[str, ...] = ("", ".gz", ".bgz")

_GZIP_MAGIC = b"\x1f\x8b"


class EmptyRecordWarning(InputWarning):
    """A FASTA record with a header but no sequence letters was skipped."""


@dataclass
class FastaRecord:
    """One FASTA record: ``name`` is the first word of the header, ``description`` the rest."""

    name: str
    description: str
    ids: np.ndarray  # uint8 token ids, no BOS


def is_fasta_name(name: str) -> bool:
    """True if a file name has a FASTA extension (optionally compressed), case-insensitively."""
    lower = name.lower()
    return any(lower.endswith(ext + comp) for ext in FASTA_EXTENSIONS for comp in COMPRESSION_EXTENSIONS)


def find_fasta_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Expand files and folders into a sorted, de-duplicated list of FASTA files.

    Folders are searched recursively for FASTA extensions (hidden files and folders, e.g. macOS
    ``._x.fa`` resource forks, are skipped); a file named explicitly is taken whatever its extension,
    since the user asked for it. Paths are made absolute (symlinks are not resolved) so the same file
    given twice appears once.
    """
    found: set[Path] = set()
    given = [Path(p) for p in paths]
    if not given:
        raise InputError("no input paths given")
    for path in given:
        if not path.exists():
            raise InputError("no such file or directory", path=str(path))
        if path.is_dir():
            for root, dirs, names in os.walk(path):
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                for name in names:
                    if not name.startswith(".") and is_fasta_name(name):
                        full = Path(root, name)
                        if full.is_file():
                            found.add(Path(os.path.abspath(full)))
        else:
            found.add(Path(os.path.abspath(path)))
    if not found:
        exts = ", ".join(FASTA_EXTENSIONS)
        raise InputError(
            f"no FASTA files found in {', '.join(str(p) for p in given)} "
            f"(looked for {exts}, optionally .gz/.bgz)"
        )
    return sorted(found)


def _open_text(path: Path) -> IO[str]:
    """Open ``path`` as UTF-8 text, decompressing if it starts with the gzip magic bytes.

    BGZF is a series of gzip members, which :mod:`gzip` reads transparently, so one branch covers
    both. Decoding is strict so that binary data fails loudly instead of becoming mojibake.
    """
    # One open, peeked rather than reopened, so a pipe (e.g. <(zcat genome.fa.gz)) reads too.
    raw = io.BufferedReader(open(path, "rb", buffering=0))
    binary: IO[bytes] = raw
    if raw.peek(2)[:2] == _GZIP_MAGIC:
        binary = gzip.GzipFile(fileobj=raw, mode="rb")
        binary.myfileobj = raw  # closed with it, as gzip.open(filename) arranges
    return io.TextIOWrapper(binary, encoding="utf-8", errors="strict", newline=None)


def _first_content_line(lines: Iterator[str]) -> str | None:
    """The first line that is not blank, or None for a file with no content at all."""
    for line in lines:
        if line.strip():
            return line
    return None


def read_fasta(path: str | os.PathLike[str]) -> Iterator[FastaRecord]:
    """Yield the records of one FASTA file as token ids, one record in memory at a time.

    Errors are :class:`InputError` with one line naming the file (and record and 1-based position
    where they apply): empty file, not text, not FASTA, corrupt or truncated gzip, invalid letter,
    a header without a name, duplicate record names. A record with no sequence is skipped with an
    :class:`EmptyRecordWarning` (via :func:`warnings.warn`, so callers can filter or escalate it);
    a file in which every record is empty is an error, as it would silently contribute nothing.
    """
    path = Path(path)
    where = str(path)
    if path.is_dir():
        raise InputError("is a directory, not a FASTA file", path=where)
    with read_errors(where, "FASTA"):
        if path.is_file() and path.stat().st_size == 0:  # a pipe has no size
            raise InputError("empty file", path=where)
        with _open_text(path) as handle:
            yield from _parse(handle, where)


def fasta_sizes(path: str | os.PathLike[str]) -> list[tuple[str, int]]:
    """(name, length) of every non-empty record, in file order (one streaming pass; a track file
    needs every record's size before its first value)."""
    return [(r.name, len(r.ids)) for r in read_fasta(path)]


def _parse(handle: IO[str], where: str) -> Iterator[FastaRecord]:
    """The body of :func:`read_fasta` once the file is open as text."""
    lines = iter(handle)
    first = _first_content_line(lines)
    if first is None:
        raise InputError("empty file (no FASTA records)", path=where)
    if "\x00" in first:
        raise InputError("not a text file (contains NUL bytes); expected FASTA", path=where)
    if not first.lstrip().startswith(">"):
        raise InputError(
            f"not a FASTA file: expected the first line to start with '>', found {first.strip()[:40]!r}",
            path=where,
        )
    seen: set[str] = set()
    n_yielded = 0
    for title, seq in SimpleFastaParser(itertools.chain([first.lstrip()], lines)):
        if "\x00" in title or "\x00" in seq:
            raise InputError("not a text file (contains NUL bytes); expected FASTA", path=where)
        parts = title.split(None, 1)
        name = parts[0] if parts else ""
        description = parts[1].strip() if len(parts) > 1 else ""
        if not name:
            raise InputError("record header '>' has no name", path=where)
        if name in seen:
            raise InputError("duplicate record name in this file", path=where, record=name)
        seen.add(name)
        # SimpleFastaParser already removed spaces and line ends; tabs are whitespace too.
        if "\t" in seq:
            seq = seq.replace("\t", "")
        if not seq:
            warnings.warn(
                f"{where}, record {name!r}: empty sequence, skipped", EmptyRecordWarning, stacklevel=3
            )
            continue
        ids = tokenize(seq, record=name, path=where)
        n_yielded += 1
        yield FastaRecord(name=name, description=description, ids=ids)
    if n_yielded == 0:
        raise InputError("no sequence in any record", path=where)
