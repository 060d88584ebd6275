"""An HDF5 token cache and the :class:`TokenStore` that training reads windows from.

A large corpus is parsed and validated once (:func:`build_cache`), then read lazily: a training step
only touches the few chunks its windows fall in. :meth:`TokenStore.from_files` offers the same
interface fully in memory for small corpora and tests, so callers never care which one they hold.

Cache layout (format version 1)::

    /tokens            uint8 (total_length,), chunked + gzip: all records concatenated, no separators
    /records/name      utf-8 str (n_records,)      record name (first word of the FASTA header)
    /records/file      int32 (n_records,)          index into /files/*
    /records/offset    int64 (n_records,)          start of the record in /tokens
    /records/length    int64 (n_records,)
    /files/path        utf-8 str (n_files,)        absolute source path
    /files/size        int64 (n_files,)            st_size when read  } used to detect a stale cache
    /files/mtime_ns    int64 (n_files,)            st_mtime_ns when read }
    attrs: format, format_version, vocab, total_length, n_records

Source stats live in datasets rather than attributes because HDF5 attributes are limited to 64 KiB,
which a corpus of many thousands of files would exceed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..atomic import atomic_path
from ..errors import InputError
from ..vocab import TOKENS
from .fasta import read_fasta

CACHE_FORMAT = "dnahnet-token-cache"
CACHE_FORMAT_VERSION = 1
_VOCAB = ",".join(TOKENS)
#: 64 KiB chunks: small enough that a random window decompresses little, large enough to compress.
_CHUNK = 1 << 16
#: Tokens are buffered and appended in blocks of about this size (many small records, few resizes).
_FLUSH_BYTES = 8 << 20
_STR = h5py.string_dtype("utf-8")


@dataclass(frozen=True)
class RecordInfo:
    """One record of a store: where it came from and where its tokens are."""

    name: str
    length: int
    source: str
    offset: int


def _abs(path: str | os.PathLike[str]) -> str:
    return os.path.abspath(os.fspath(path))


def _file_stat(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return int(st.st_size), int(st.st_mtime_ns)


def build_cache(files: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str]) -> Path:
    """Parse ``files`` once into an HDF5 token cache at ``out`` and return its path.

    Records are streamed one at a time into a resizable dataset, so memory stays bounded by the
    largest record, not the corpus. The file is written under a temporary name and moved into place
    with :func:`os.replace`, so an interrupted build never leaves a cache that looks valid.
    """
    out = Path(out)
    if not files:
        raise InputError("no input files to cache")
    out.parent.mkdir(parents=True, exist_ok=True)
    paths = [_abs(f) for f in files]
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as h5:
        _write_cache(h5, paths)
    return out


def _write_cache(h5: h5py.File, paths: list[str]) -> None:
    tokens = h5.create_dataset(
        "tokens", shape=(0,), maxshape=(None,), dtype=np.uint8, chunks=(_CHUNK,), compression="gzip",
        compression_opts=4,
    )
    names: list[str] = []
    file_idx: list[int] = []
    offsets: list[int] = []
    lengths: list[int] = []
    sizes: list[int] = []
    mtimes: list[int] = []
    buffer: list[np.ndarray] = []
    buffered = 0
    written = 0

    def flush() -> None:
        nonlocal buffered, written
        if not buffer:
            return
        block = np.concatenate(buffer)
        tokens.resize((written + block.size,))
        tokens[written:] = block
        written += block.size
        buffer.clear()
        buffered = 0

    for i, path in enumerate(paths):
        # Stat before reading: a file modified while we parse it then looks stale next time.
        size, mtime = _file_stat(path) if os.path.exists(path) else (0, 0)
        sizes.append(size)
        mtimes.append(mtime)
        for rec in read_fasta(path):
            names.append(rec.name)
            file_idx.append(i)
            offsets.append(written + buffered)
            lengths.append(rec.ids.size)
            buffer.append(rec.ids)
            buffered += rec.ids.size
            if buffered >= _FLUSH_BYTES:
                flush()
    flush()
    if written == 0:
        raise InputError("no sequence in any input file")

    h5.create_dataset("records/name", data=names, dtype=_STR)
    h5.create_dataset("records/file", data=np.asarray(file_idx, dtype=np.int32))
    h5.create_dataset("records/offset", data=np.asarray(offsets, dtype=np.int64))
    h5.create_dataset("records/length", data=np.asarray(lengths, dtype=np.int64))
    h5.create_dataset("files/path", data=paths, dtype=_STR)
    h5.create_dataset("files/size", data=np.asarray(sizes, dtype=np.int64))
    h5.create_dataset("files/mtime_ns", data=np.asarray(mtimes, dtype=np.int64))
    h5.attrs["format"] = CACHE_FORMAT
    h5.attrs["format_version"] = CACHE_FORMAT_VERSION
    h5.attrs["vocab"] = _VOCAB
    h5.attrs["total_length"] = written
    h5.attrs["n_records"] = len(names)


def _check_format(h5: h5py.File, path: str) -> None:
    fmt = h5.attrs.get("format")
    version = h5.attrs.get("format_version")
    if fmt != CACHE_FORMAT or version != CACHE_FORMAT_VERSION or h5.attrs.get("vocab") != _VOCAB:
        raise InputError(
            f"not a dnahnet token cache of format version {CACHE_FORMAT_VERSION}; delete it to rebuild",
            path=path,
        )


def is_cache_fresh(cache_path: str | os.PathLike[str], files: Sequence[str | os.PathLike[str]]) -> bool:
    """True if ``cache_path`` is a readable cache of exactly ``files`` as they are now.

    Compares the set of absolute source paths and each file's size and mtime (nanoseconds), which
    catches edits, replacements and added or removed files without re-reading any sequence.
    Anything unreadable or of another format version counts as stale, so the caller rebuilds.
    """
    try:
        with h5py.File(cache_path, "r") as h5:
            _check_format(h5, str(cache_path))
            cached = {
                p.decode() if isinstance(p, bytes) else p: (int(s), int(m))
                for p, s, m in zip(h5["files/path"][()], h5["files/size"][()], h5["files/mtime_ns"][()])
            }
    except (OSError, KeyError, InputError):
        return False
    wanted = {_abs(f) for f in files}
    if set(cached) != wanted:
        return False
    try:
        return all(_file_stat(p) == cached[p] for p in wanted)
    except OSError:
        return False


def ensure_cache(files: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str]) -> Path:
    """Return ``out``, (re)building it first unless it is a fresh cache of ``files``."""
    if not is_cache_fresh(out, files):
        build_cache(files, out)
    return Path(out)


class _H5Tokens:
    """Lazy, fork-safe access to the ``tokens`` dataset of a cache file.

    HDF5 handles must not be shared across processes (a forked DataLoader worker would share the
    parent's file descriptor and library state), so the file is (re)opened on first use in each
    process, keyed on :func:`os.getpid`, and never pickled.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._file: h5py.File | None = None
        self._tokens: h5py.Dataset | None = None
        self._pid: int | None = None

    def _dataset(self) -> h5py.Dataset:
        pid = os.getpid()
        if self._tokens is None or self._pid != pid:
            if self._file is not None:
                # A handle inherited over fork is closed first: HDF5 would otherwise share the open
                # file (and its descriptor offset) with the new one. Closing the child's copy leaves
                # the parent's handle untouched.
                try:
                    self._file.close()
                except Exception:  # noqa: BLE001 - a broken inherited handle is simply dropped
                    pass
            self._file = h5py.File(self.path, "r", rdcc_nbytes=16 << 20, rdcc_nslots=1009)
            self._tokens = self._file["tokens"]
            self._pid = pid
        return self._tokens

    def read(self, start: int, stop: int) -> np.ndarray:
        return np.asarray(self._dataset()[start:stop], dtype=np.uint8)

    def close(self) -> None:
        if self._file is not None and self._pid == os.getpid():
            self._file.close()
        self._file = self._tokens = None
        self._pid = None

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"])  # type: ignore[misc]


class TokenStore:
    """Token ids of a corpus, record by record, from an HDF5 cache or held in memory.

    Both constructors give the same interface: :attr:`records`, :attr:`lengths`,
    :attr:`total_length` and :meth:`read`. A store is picklable and safe to use after ``fork``.
    """

    def __init__(
        self,
        names: list[str],
        sources: list[str],
        file_index: np.ndarray,
        offsets: np.ndarray,
        lengths: np.ndarray,
        tokens: np.ndarray | _H5Tokens,
    ) -> None:
        self._names = names
        self._sources = sources
        self._file_index = np.asarray(file_index, dtype=np.int64)
        self.offsets = np.asarray(offsets, dtype=np.int64)
        #: Length of each record (int64 array), what samplers need without building RecordInfo objects.
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self._tokens = tokens
        self.total_length = int(self.lengths.sum())

    @classmethod
    def from_cache(cls, path: str | os.PathLike[str]) -> TokenStore:
        """Open a cache written by :func:`build_cache`; tokens are read lazily, slice by slice."""
        where = str(path)
        try:
            with h5py.File(path, "r") as h5:
                _check_format(h5, where)
                names = [n.decode() if isinstance(n, bytes) else n for n in h5["records/name"][()]]
                sources = [p.decode() if isinstance(p, bytes) else p for p in h5["files/path"][()]]
                file_index = h5["records/file"][()]
                offsets = h5["records/offset"][()]
                lengths = h5["records/length"][()]
        except (OSError, KeyError) as err:
            raise InputError(f"cannot read token cache ({err})", path=where) from None
        return cls(names, sources, file_index, offsets, lengths, _H5Tokens(_abs(path)))

    @classmethod
    def from_files(cls, files: Sequence[str | os.PathLike[str]]) -> TokenStore:
        """Parse ``files`` fully into memory (small corpora, tests)."""
        names: list[str] = []
        sources = [_abs(f) for f in files]
        file_index: list[int] = []
        chunks: list[np.ndarray] = []
        for i, path in enumerate(sources):
            for rec in read_fasta(path):
                names.append(rec.name)
                file_index.append(i)
                chunks.append(rec.ids)
        if not chunks:
            raise InputError("no sequence in any input file")
        lengths = np.array([c.size for c in chunks], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        return cls(names, sources, np.asarray(file_index), offsets, lengths, np.concatenate(chunks))

    @cached_property
    def records(self) -> list[RecordInfo]:
        """Every record with its name, length, source file and offset, in store order."""
        return [
            RecordInfo(name, int(length), self._sources[int(f)], int(off))
            for name, f, off, length in zip(self._names, self._file_index, self.offsets, self.lengths)
        ]

    def __len__(self) -> int:
        return len(self._names)

    def source_of(self, record_index: int) -> str:
        """Path of the file a record came from."""
        return self._sources[int(self._file_index[record_index])]

    def read(self, record_index: int, start: int, length: int) -> np.ndarray:
        """Tokens ``[start, start + length)`` of one record as a fresh uint8 array."""
        if not 0 <= record_index < len(self._names):
            raise IndexError(f"record index {record_index} out of range (store has {len(self)} records)")
        rec_len = int(self.lengths[record_index])
        if start < 0 or length < 0 or start + length > rec_len:
            raise IndexError(
                f"slice [{start}, {start + length}) outside record {self._names[record_index]!r} "
                f"of length {rec_len}"
            )
        lo = int(self.offsets[record_index]) + int(start)
        if isinstance(self._tokens, np.ndarray):
            return self._tokens[lo : lo + length].copy()
        return self._tokens.read(lo, lo + length)

    def close(self) -> None:
        """Close the cache file handle (a later :meth:`read` reopens it)."""
        if isinstance(self._tokens, _H5Tokens):
            self._tokens.close()

    def __enter__(self) -> TokenStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
