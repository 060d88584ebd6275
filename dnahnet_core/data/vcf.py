"""VCF/BCF input (pysam/htslib) and annotated VCF output, with every broken input one clear line.

Reading uses pysam's ``VariantFile``: plain, gzip or bgzip VCF and BCF. (cyvcf2 was used before;
it dies with a segmentation fault on a record whose POS is not a number when its contig is not
declared in the header, which no ``try`` can catch.) When htslib refuses a record, the raw line is
looked up again to say which line and which field is wrong.

Output keeps each input record's text as written and adds INFO fields to it, so nothing of the input
is re-encoded (no float32 rounding of QUAL, no reordered INFO). ``.vcf.gz`` output is BGZF written
by htslib, indexed with tabix (or CSI for long contigs) when the records are sorted.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import re
import sys
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator

from ..errors import InputError

#: The empty block that ends every complete BGZF file (SAM/BAM specification, section 4.1.2).
_BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")


@dataclass(frozen=True)
class Variant:
    """One VCF record, as plain data (picklable, so torchrun ranks can exchange it).

    ``pos`` is 1-based as in the VCF; ``ref``/``alts`` are the allele strings as written (the VCF
    anchor base of indels included). ``number`` is the 1-based record number in the file.
    """

    chrom: str
    pos: int
    id: str | None
    ref: str
    alts: tuple[str, ...]
    number: int = 0

    @property
    def start(self) -> int:
        """0-based start of REF on the contig."""
        return self.pos - 1

    @property
    def label(self) -> str:
        return f"{self.chrom}:{self.pos}"


def _check_bgzf_eof(path: Path) -> None:
    """A BGZF file cut at a block boundary reads as complete but shorter; its missing
    end-of-file block is the only sign, so refuse it instead of scoring part of the file."""
    with open(path, "rb") as f:
        head = f.read(16)
        is_bgzf = len(head) >= 16 and head[:4] == b"\x1f\x8b\x08\x04" and head[12:14] == b"BC"
        if not is_bgzf:
            return
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - len(_BGZF_EOF)))
        if f.read() != _BGZF_EOF:
            raise InputError("truncated bgzip file (no BGZF end-of-file block): was the file cut short?", path=str(path))


def _open_text(path: Path) -> IO[str]:
    with open(path, "rb") as f:
        magic = f.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt", errors="replace")
    return open(path, errors="replace")


_INT = re.compile(r"^[0-9]+$")


def describe_bad_line(fields: list[str]) -> str:
    """What is wrong with the columns of a VCF data line, in words (empty if nothing obvious)."""
    if len(fields) < 8:
        return f"{len(fields)} tab-separated columns, expected at least 8 (CHROM POS ID REF ALT QUAL FILTER INFO)"
    chrom, pos, _, ref, alt = fields[:5]
    if not chrom:
        return "CHROM is empty"
    if not _INT.match(pos):
        return f"POS {pos[:40]!r} is not a number (expected a 1-based integer position)"
    if not ref or ref == ".":
        return "REF is empty (expected the reference bases)"
    if not alt:
        return "ALT is empty (expected alleles or '.')"
    qual = fields[5]
    if qual != ".":
        try:
            float(qual)
        except ValueError:
            return f"QUAL {qual[:40]!r} is not a number or '.'"
    return ""


def locate_bad_record(path: Path, record_number: int) -> str:
    """' (line N: what is wrong)' for the ``record_number``-th data line of a text VCF, or ''."""
    try:
        with _open_text(path) as f:
            seen = 0
            for line_no, line in enumerate(f, 1):
                if line.startswith("#") or not line.strip():
                    continue
                seen += 1
                if seen == record_number:
                    problem = describe_bad_line(line.rstrip("\r\n").split("\t"))
                    return f", line {line_no}" + (f": {problem}" if problem else "")
    except (OSError, EOFError, UnicodeError):
        pass
    return ""


def _is_plain_gzip(path: Path) -> bool:
    """gzip but not BGZF: htslib cannot seek in it, so it is streamed through a pipe instead."""
    with open(path, "rb") as f:
        head = f.read(16)
    return head[:2] == b"\x1f\x8b" and not (len(head) >= 16 and head[3] & 4 and head[12:14] == b"BC")


class _GunzipPipe:
    """Decompress a plain-gzip file in a thread into a pipe that htslib reads as plain text.

    A corrupt or truncated gzip stream ends the pipe early; :meth:`check` then raises the error,
    so a damaged file is never mistaken for a shorter complete one."""

    def __init__(self, path: Path) -> None:
        import threading

        self.error: Exception | None = None
        read_fd, self._write_fd = os.pipe()
        self.reader = os.fdopen(read_fd, "rb")
        self._thread = threading.Thread(target=self._pump, args=(path,), daemon=True)
        self._thread.start()

    def _pump(self, path: Path) -> None:
        try:
            with gzip.open(path, "rb") as src, os.fdopen(self._write_fd, "wb") as dst:
                while block := src.read(1 << 20):
                    dst.write(block)
        except BrokenPipeError:  # the reader stopped early (an error of its own)
            pass
        except (OSError, EOFError, gzip.BadGzipFile) as err:
            self.error = err

    def check(self, where: str) -> None:
        self._thread.join(timeout=60)
        if self.error is not None:
            raise InputError(f"corrupt or truncated gzip file ({self.error})", path=where)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.reader.close()
        self._thread.join(timeout=5)


def quiet_htslib() -> None:
    """htslib prints its own [E::...] lines on stderr; our errors say it in one line instead."""
    import pysam

    pysam.set_verbosity(0)


class VcfReader:
    """A VCF/BCF (plain, gzip or bgzip) read with pysam, yielding :class:`Variant` records.

    Errors are :class:`InputError` lines naming the file (and the record, line and field where one is
    to blame): missing or empty file, not a VCF, no header, a record htslib cannot parse (including a
    truncated compressed file).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        import pysam

        self.path = Path(path)
        where = str(self.path)
        if not self.path.exists():
            raise InputError("no such file", path=where)
        if self.path.is_dir():
            raise InputError("is a directory, not a VCF file", path=where)
        if self.path.is_file() and self.path.stat().st_size == 0:  # a pipe has no size
            raise InputError("empty file (expected a VCF with a ##fileformat header)", path=where)
        _check_bgzf_eof(self.path)
        quiet_htslib()
        self._pipe = _GunzipPipe(self.path) if _is_plain_gzip(self.path) else None
        try:
            self.vcf = pysam.VariantFile(self._pipe.reader if self._pipe else where)
        except (OSError, ValueError, NotImplementedError, TypeError) as err:
            if self._pipe is not None:
                self._pipe.close()
                self._pipe.check(where)
            text = str(err)
            if "without a header" in text or "not valid" in text or "could not" in text.lower() or "invalid file" in text:
                raise InputError("not a VCF file (no ##fileformat=VCF header recognised)", path=where) from None
            raise InputError(f"cannot open VCF ({err})", path=where) from None
        try:
            self._header = str(self.vcf.header)
        except UnicodeDecodeError as err:
            self.close()
            raise InputError(f"the VCF header is not text (a byte that is not UTF-8 at offset {err.start} of the header)", path=where) from None
        if not self._header.startswith("##fileformat"):
            self.close()
            raise InputError("not a VCF file (no ##fileformat=VCF header recognised)", path=where)
        self.n_records = 0

    @property
    def raw_header(self) -> str:
        return self._header

    def header_reference(self) -> str | None:
        """The value of the ``##reference=`` meta line, if any."""
        for line in self.raw_header.splitlines():
            if line.startswith("##reference="):
                return line.split("=", 1)[1].strip()
        return None

    def reference_path(self) -> Path | None:
        """``##reference=`` as a local path: a file:// URL or a path, relative paths resolved
        against the VCF's folder. None when the header has no such line."""
        value = self.header_reference()
        if value is None:
            return None
        if value.startswith("file:"):
            value = urllib.parse.unquote(urllib.parse.urlparse(value).path)
        path = Path(value).expanduser()
        if not path.is_absolute():
            path = self.path.parent / path
        return path

    def records(self) -> Iterator[tuple[Variant, str]]:
        """Yield ``(Variant, the record's VCF line without its newline)`` in file order."""
        where = str(self.path)
        it = iter(self.vcf)
        last = None
        while True:
            try:
                rec = next(it)
                line = str(rec).rstrip("\n")
                variant = Variant(chrom=rec.chrom, pos=int(rec.pos), id=rec.id, ref=rec.ref or "",
                                  alts=tuple(rec.alts or ()), number=self.n_records + 1)
            except StopIteration:
                if self._pipe is not None:
                    self._pipe.check(where)
                return
            except Exception as err:  # htslib: OSError/ValueError, with no line or field in it
                if self._pipe is not None:
                    self._pipe.check(where)
                after = f" (after record {self.n_records}, {last})" if last else ""
                where_in_file = locate_bad_record(self.path, self.n_records + 1)
                detail = where_in_file[2:] if where_in_file else f"malformed line or truncated/corrupt compressed file ({err})"
                raise InputError(f"cannot parse VCF record {self.n_records + 1}{after}: {detail}", path=where) from None
            self.n_records += 1
            last = variant.label
            yield variant, line

    def close(self) -> None:
        if getattr(self, "vcf", None) is not None:
            self.vcf.close()
        if getattr(self, "_pipe", None) is not None:
            self._pipe.close()


# ---- output -------------------------------------------------------------------------------------


def annotated_header(raw_header: str, info_lines: list[str], meta: dict[str, object], contigs: dict[str, int]) -> str:
    """The input header with INFO definitions, ``##dnahnet_*`` provenance lines and ``##contig`` lines
    for reference contigs it does not declare, all placed before the ``#CHROM`` line. Definitions
    and provenance of an earlier dnahnet run (a VCF scored again) are replaced, not repeated."""
    ours = {m.group(1) for line in info_lines if (m := re.match(r"##INFO=<ID=([^,>]+)", line))}
    lines = [line for line in raw_header.rstrip("\n").split("\n")
             if not line.startswith("##dnahnet_") and not ((m := re.match(r"##INFO=<ID=([^,>]+)", line)) and m.group(1) in ours)]
    declared = set()
    for line in lines:
        m = re.match(r"##contig=<ID=([^,>]+)", line)
        if m:
            declared.add(m.group(1))
    extra = [f"##contig=<ID={name},length={length}>" for name, length in contigs.items() if name not in declared]
    extra += info_lines
    for key, value in meta.items():
        name = key if key.startswith("dnahnet_") else f"dnahnet_{key}"
        extra.append(f"##{name}={str(value).replace(chr(10), ' ')}")
    chrom = next((i for i, line in enumerate(lines) if line.startswith("#CHROM")), len(lines))
    return "\n".join(lines[:chrom] + extra + lines[chrom:]) + "\n"


def add_info(line: str, fields: dict[str, str]) -> str:
    """A VCF data line with ``KEY=value`` INFO entries appended (replacing an empty '.' INFO, and
    any earlier entries of the same keys)."""
    if not fields:
        return line
    cols = line.split("\t")
    kept = [e for e in cols[7].split(";") if e not in ("", ".") and e.split("=", 1)[0] not in fields]
    cols[7] = ";".join(kept + [f"{k}={v}" for k, v in fields.items()])
    return "\t".join(cols)


def bgzip_file(src: Path, dst: Path, block: int = 1 << 20) -> None:
    """Compress the text file ``src`` into BGZF ``dst`` with htslib, streaming, atomically."""
    import pysam

    from ..atomic import atomic_path

    with atomic_path(dst) as tmp:
        out = pysam.BGZFile(str(tmp), "wb")
        try:
            with open(src, "rb") as f:
                while chunk := f.read(block):
                    out.write(chunk)
        finally:
            out.close()


def index_vcf(path: Path) -> Path | None:
    """Index a bgzipped VCF (tabix .tbi; CSI when a contig is too long for tabix) or a BCF (CSI).
    Returns the index path, or None with a warning on stderr when the records are not sorted."""
    csi = str(path).lower().endswith(".bcf")
    return _index(path, dict(preset="vcf"), csi)


def index_tsv(path: Path) -> Path | None:
    """Tabix-index a bgzipped variant table whose first two columns are chrom and 1-based pos
    (``#`` lines are the header). Returns the index path, or None with a warning when unsorted."""
    return _index(path, dict(seq_col=0, start_col=1, end_col=1, meta_char="#"), False)


def _index(path: Path, layout: dict, csi: bool) -> Path | None:
    import pysam

    for old in (Path(f"{path}.tbi"), Path(f"{path}.csi")):  # an index of an earlier file is wrong now
        old.unlink(missing_ok=True)
    try:
        return Path(pysam.tabix_index(str(path), force=True, keep_original=True, csi=csi, **layout))
    except (OSError, ValueError) as err:
        if not csi and ("exceed" in str(err) or "too long" in str(err)):
            return Path(pysam.tabix_index(str(path), force=True, keep_original=True, csi=True, **layout))
        sys.stderr.write(f"dnahnet: warning: {path}: not indexed ({err}); sort it first (bcftools sort) to index it\n")
        return None


def _undeclared(src: Path) -> tuple[list[str], list[str], list[str], list[str]]:
    """CHROM, INFO, FILTER and FORMAT names used by the records of a VCF text file, in order."""
    chroms, infos, filters, formats = {}, {}, {}, {}
    with open(src) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            cols = line.rstrip("\n").split("\t")
            chroms[cols[0]] = None
            if len(cols) > 6:
                filters.update(dict.fromkeys(v for v in cols[6].split(";") if v not in ("", ".", "PASS")))
            if len(cols) > 7:
                infos.update(dict.fromkeys(e.split("=", 1)[0] for e in cols[7].split(";") if e not in ("", ".")))
            if len(cols) > 8:
                formats.update(dict.fromkeys(k for k in cols[8].split(":") if k not in ("", ".")))
    return list(chroms), list(infos), list(filters), list(formats)


def vcf_text_to_bcf(src: Path, dst: Path) -> None:
    """Convert the VCF text file ``src`` into BCF ``dst`` with htslib, streaming, atomically.
    BCF needs every CHROM, INFO, FILTER and FORMAT name declared (htslib stops the process on one
    that is not): those the header lacks are declared first, as text-VCF readers assume them."""
    import pysam

    from ..atomic import atomic_path

    quiet_htslib()
    chroms, infos, filters, formats = _undeclared(src)
    with open(src) as f:
        header = []
        for line in f:
            header.append(line)
            if line.startswith("#CHROM"):
                break
    text = "".join(header)
    declared = {kind: set(re.findall(rf"^##{kind}=<ID=([^,>]+)", text, flags=re.M)) for kind in ("contig", "INFO", "FILTER", "FORMAT")}
    note = 'Description="Not declared in the input VCF (declared by dnahnet for BCF)"'
    extra = [f"##contig=<ID={c}>" for c in chroms if c not in declared["contig"]]
    extra += [f"##INFO=<ID={k},Number=.,Type=String,{note}>" for k in infos if k not in declared["INFO"]]
    extra += [f"##FILTER=<ID={k},{note}>" for k in filters if k not in declared["FILTER"]]
    extra += [f"##FORMAT=<ID={k},Number=.,Type=String,{note}>" for k in formats if k not in declared["FORMAT"]]
    full = src
    if extra:  # a copy of the text with the declarations added (streamed)
        full = src.with_name(src.name + ".declared.vcf")
        with open(src) as f, open(full, "w") as out:
            for line in f:
                if line.startswith("#CHROM"):
                    out.write("\n".join(extra) + "\n")
                out.write(line)
    try:
        with pysam.VariantFile(str(full)) as inp, atomic_path(dst) as tmp:
            with pysam.VariantFile(str(tmp), "wb", header=inp.header) as out:
                for rec in inp:
                    out.write(rec)
    finally:
        if full != src:
            full.unlink(missing_ok=True)
