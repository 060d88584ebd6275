"""A small, strict parser of HGVS nucleotide variants relative to one target sequence.

Only what a variant library of one target needs: ``c.`` and ``n.`` coordinates, an optional
accession prefix (``NM_004006.2:c.76A>T``; kept, not interpreted), and the edits

=============  ==========================  ==================================================
kind           examples                    meaning
=============  ==========================  ==================================================
``sub``        ``c.76A>T``                 one base replaced (REF and ALT one base each)
``del``        ``c.76del``, ``c.76_78del``  bases removed (``c.76_78delTTG``: REF stated)
``ins``        ``c.76_77insTTG``           bases inserted between two adjacent positions
``delins``     ``c.76_78delinsGG``         bases replaced (``c.76_78delTTGinsGG`` too)
``dup``        ``c.76dup``, ``c.76_78dup``  bases repeated right after themselves
``inv``        ``c.76_78inv``              bases replaced by their reverse complement
``identity``   ``c.76=``, ``c.76A=``       no change (REF checked where stated)
=============  ==========================  ==================================================

plus the wild type (``c.=``, or MaveDB's ``_wt``) and alleles of several edits on one molecule,
``c.[76A>T;80del]`` (edits in any order; they must not overlap or touch, see :func:`apply_hgvs`).

Numbering (:class:`Numbering`): ``n.1`` is the first base of the target. ``c.1`` is the first base of
the coding sequence (the A of ATG) when one is given, else the first base of the target; ``c.-N``
is N bases 5' of ``c.1`` and ``c.*N`` N bases 3' of the CDS's last base (HGVS has no ``c.0``), both
within the target. A ``c.N`` past the CDS's last base is out of range (HGVS writes it ``c.*M``).

Strictness: DNA bases are upper-case A/C/G/T; no whitespace, no leading zeros, ranges ascend.
Anything else raises :class:`HgvsError` with a status: ``bad_hgvs`` (not a variant this grammar
reads) or ``unsupported`` (valid HGVS this tool cannot score: intronic offsets ``c.76+1A>T``,
``g.``/``r.``/``p.``/``m.``/``o.`` coordinates, uncertain positions ``?``/``( )``, repeats ``[n]``,
two alleles ``[..];[..]``, insertions copied from elsewhere ``ins80_90``, MaveDB's ``_sy``).
:func:`apply_hgvs` adds ``out_of_range``, ``ref_mismatch`` and ``overlapping_edits``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

BAD_HGVS = "bad_hgvs"
UNSUPPORTED = "unsupported"
OUT_OF_RANGE = "out_of_range"
REF_MISMATCH = "ref_mismatch"
OVERLAPPING_EDITS = "overlapping_edits"

EDIT_KINDS: tuple[str, ...] = ("sub", "del", "ins", "delins", "dup", "inv", "identity")


class HgvsError(ValueError):
    """A variant that cannot be read or applied; ``status`` is one word, ``str()`` one line."""

    def __init__(self, status: str, message: str) -> None:
        self.status = status
        super().__init__(message)


# ---------------------------------------------------------------------------------------- types


@dataclass(frozen=True)
class Position:
    """A position as written: ``c.76`` -> (76, False), ``c.-5`` -> (-5, False), ``c.*5`` -> (5, True)."""

    value: int
    utr3: bool = False

    def __str__(self) -> str:
        return f"*{self.value}" if self.utr3 else str(self.value)

    @property
    def order(self) -> tuple[int, int]:
        """Sort key along the sequence: 5' UTR (-N) < coding (N) < 3' UTR (*N)."""
        return (2, self.value) if self.utr3 else (0 if self.value < 0 else 1, self.value)


@dataclass(frozen=True)
class Edit:
    """One edit of ``[start, end]`` (inclusive; ``end == start`` for one position).

    ``ref``: the reference bases the edit states (``None`` when it states none; for ``sub`` the
    one base before ``>``). ``alt``: the new bases for ``sub``, ``ins`` and ``delins``; empty for
    the others (``dup`` and ``inv`` take theirs from the target when applied).
    """

    kind: str
    start: Position
    end: Position
    ref: str | None = None
    alt: str = ""

    def __str__(self) -> str:
        where = str(self.start) if self.end == self.start else f"{self.start}_{self.end}"
        ref = self.ref or ""
        if self.kind == "sub":
            return f"{where}{ref}>{self.alt}"
        if self.kind == "identity":
            return f"{where}{ref}="
        if self.kind == "ins":
            return f"{where}ins{self.alt}"
        if self.kind == "delins":
            return f"{where}delins{self.alt}"
        return f"{where}{self.kind}{ref}"


@dataclass(frozen=True)
class HgvsVariant:
    """A parsed variant: ``edits`` is empty for the wild type (``c.=``)."""

    text: str
    accession: str | None
    coordinate: str  # "c" or "n"
    edits: tuple[Edit, ...]

    @property
    def is_wild_type(self) -> bool:
        return not self.edits


@dataclass(frozen=True)
class Numbering:
    """How positions map onto a target of ``length`` bases (0-based indices in coding orientation).

    ``cds_start``: index of ``c.1``; ``cds_end``: index just past the CDS's last base (``c.*1`` is
    at ``cds_end``); ``None`` means the end of the target. Without a CDS both default to the whole
    target, so ``c.`` and ``n.`` numbering agree.
    """

    length: int
    cds_start: int = 0
    cds_end: int | None = None

    def __post_init__(self) -> None:
        end = self.length if self.cds_end is None else self.cds_end
        if not 0 <= self.cds_start < end <= self.length:
            raise ValueError(f"need 0 <= cds_start < cds_end <= length, got {self.cds_start}, {end}, {self.length}")

    @property
    def coding_end(self) -> int:
        return self.length if self.cds_end is None else self.cds_end

    def index(self, pos: Position, coordinate: str) -> int:
        """0-based target index of ``pos`` (checked against the target by the caller)."""
        if coordinate == "n":
            return pos.value - 1
        if pos.utr3:
            return self.coding_end + pos.value - 1
        if pos.value < 0:
            return self.cds_start + pos.value
        return self.cds_start + pos.value - 1

    def label(self, index: int, coordinate: str) -> str:
        """The position of a 0-based index in ``coordinate`` numbering (for messages)."""
        if coordinate == "n":
            return f"n.{index + 1}"
        if index < self.cds_start:
            return f"c.{index - self.cds_start}"
        if index >= self.coding_end:
            return f"c.*{index - self.coding_end + 1}"
        return f"c.{index - self.cds_start + 1}"


# -------------------------------------------------------------------------------------- parsing

_VARIANT = re.compile(r"^(?:(?P<acc>[^\s:]+):)?(?P<coord>[a-z])\.(?P<body>.*)$", re.S)
_POS = r"[-*]?[1-9][0-9]*"
_LOCATION = re.compile(rf"^(?P<p1>{_POS})(?P<o1>[+-][0-9]+)?(?:_(?P<p2>{_POS})(?P<o2>[+-][0-9]+)?)?(?P<op>.*)$", re.S)
_BASES = "[ACGT]"
_OPS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("sub", re.compile(rf"^(?P<ref>{_BASES})>(?P<alt>{_BASES})$")),
    ("identity", re.compile(rf"^(?P<ref>{_BASES}*)=$")),
    ("delins", re.compile(rf"^del(?P<ref>{_BASES}*)ins(?P<alt>{_BASES}+)$")),
    ("del", re.compile(rf"^del(?P<ref>{_BASES}*)$")),
    ("ins", re.compile(rf"^ins(?P<alt>{_BASES}+)$")),
    ("dup", re.compile(rf"^dup(?P<ref>{_BASES}*)$")),
    ("inv", re.compile(rf"^inv(?P<ref>{_BASES}*)$")),
)
_OTHER_COORDINATES = {"g": "genomic", "m": "mitochondrial", "o": "circular genomic", "r": "RNA", "p": "protein"}


def _bad(message: str) -> HgvsError:
    return HgvsError(BAD_HGVS, message)


def _unsupported(message: str) -> HgvsError:
    return HgvsError(UNSUPPORTED, message)


def _position(text: str, coordinate: str) -> Position:
    if text.startswith("*"):
        pos = Position(int(text[1:]), utr3=True)
    else:
        pos = Position(int(text))
    if coordinate == "n" and (pos.utr3 or pos.value < 0):
        raise _bad(f"n. positions count from the target's first base: '{text}' (- and * are c. positions)")
    return pos


def _parse_edit(text: str, coordinate: str) -> Edit:
    if not text:
        raise _bad("empty edit")
    m = _LOCATION.match(text)
    if m is None:
        if text[0] in "?(":
            raise _unsupported(f"uncertain position in '{text}'")
        raise _bad(f"'{text}' does not start with a position (1, -5, *3, or a range 76_78)")
    if m["o1"] or m["o2"]:
        raise _unsupported(f"intronic offset in '{text}' (the target is one contiguous sequence)")
    start = _position(m["p1"], coordinate)
    end = _position(m["p2"], coordinate) if m["p2"] else start
    is_range = m["p2"] is not None
    if is_range and not start.order < end.order:
        raise _bad(f"range {start}_{end} does not ascend")
    op = m["op"]
    for kind, pattern in _OPS:
        om = pattern.match(op)
        if om is None:
            continue
        groups = om.groupdict()
        ref, alt = groups.get("ref") or None, groups.get("alt") or ""
        if kind == "sub":
            if is_range:
                raise _bad(f"'{text}': a substitution is one base (write {start}_{end}delins{alt} for several)")
            if ref == alt:
                raise _bad(f"'{text}': REF equals ALT (write {start}{ref}= for no change)")
        if kind == "ins" and not is_range:
            raise _bad(f"'{text}': an insertion goes between two adjacent positions (e.g. {start}_{_next(start)}ins{alt})")
        if kind == "inv" and not is_range:
            raise _bad(f"'{text}': an inversion spans at least two bases")
        return Edit(kind, start, end, ref, alt)
    if any(c in op for c in "[(?"):
        raise _unsupported(f"'{text}': repeats, uncertain or unspecified bases are not supported")
    if re.match(rf"^(?:del{_BASES}*)?ins{_POS}_{_POS}$", op):
        raise _unsupported(f"'{text}': inserting a copy of another region is not supported")
    if re.search(r"[acgtu]", op) and re.match(r"^(?:[acgtu]>|del|ins|dup|inv|[acgtu]*=)", op):
        raise _bad(f"'{text}': DNA bases are written in upper case (A, C, G, T)")
    raise _bad(f"'{op or text}' is not an edit (>, del, ins, delins, dup, inv or =) with A/C/G/T bases")


def _next(pos: Position) -> str:
    if pos.utr3:
        return f"*{pos.value + 1}"
    return "1" if pos.value == -1 else str(pos.value + 1)


def parse_hgvs(text: str) -> HgvsVariant:
    """Parse one variant; raises :class:`HgvsError` (``bad_hgvs`` or ``unsupported``)."""
    if not isinstance(text, str):
        raise _bad(f"not a string: {text!r}")
    s = text.strip()
    if s == "_wt":
        return HgvsVariant(text=text, accession=None, coordinate="c", edits=())
    if s == "_sy":
        raise _unsupported("'_sy' (a synonymous variant) names no nucleotide change")
    if not s:
        raise _bad("empty variant")
    if any(c.isspace() for c in s):
        raise _bad(f"whitespace inside {s!r}")
    m = _VARIANT.match(s)
    if m is None:
        raise _bad(f"{s!r} is not a c. or n. variant (e.g. c.76A>T)")
    coordinate, body, acc = m["coord"], m["body"], m["acc"]
    if coordinate in _OTHER_COORDINATES:
        raise _unsupported(f"{coordinate}. ({_OTHER_COORDINATES[coordinate]}) variants are not supported; use c. or n. relative to the target")
    if coordinate not in ("c", "n"):
        raise _bad(f"unknown coordinate type '{coordinate}.' (use c. or n.)")
    if body == "=":
        return HgvsVariant(text=text, accession=acc, coordinate=coordinate, edits=())
    if body.startswith("["):
        if "];[" in body or "];" in body or "(;)" in body:
            raise _unsupported(f"{s!r} describes two alleles or an unknown phase; give one allele c.[..;..]")
        if not body.endswith("]") or body.count("[") != 1 or body.count("]") != 1:
            raise _bad(f"{s!r}: an allele is written c.[edit;edit;...]")
        parts = body[1:-1].split(";")
        if any(p == "" for p in parts):
            raise _bad(f"{s!r}: empty edit in the allele")
        edits = tuple(_parse_edit(p, coordinate) for p in parts)
    else:
        if ";" in body:
            raise _bad(f"{s!r}: several edits are written c.[edit;edit]")
        edits = (_parse_edit(body, coordinate),)
    return HgvsVariant(text=text, accession=acc, coordinate=coordinate, edits=edits)


# ------------------------------------------------------------------------------------- applying

_COMPLEMENT = str.maketrans("ACGTN", "TGCAN")


def _revcomp(seq: str) -> str:
    return seq.translate(_COMPLEMENT)[::-1]


@dataclass(frozen=True)
class _Placed:
    """An edit on the target: replace ``[begin, end)`` by ``alt`` (``begin == end``: insertion before
    ``begin``). ``footprint``: the bases it reads or touches, for the overlap check."""

    edit: Edit
    begin: int
    end: int
    alt: str
    footprint: tuple[int, int]


def _locate(pos: Position, numbering: Numbering, coordinate: str, length: int) -> int:
    """0-based index of one position, or ``out_of_range``."""
    i = numbering.index(pos, coordinate)
    written = f"{coordinate}.{pos}"
    if coordinate == "c" and not pos.utr3 and pos.value > 0 and numbering.coding_end <= i < length:
        last = numbering.coding_end - numbering.cds_start
        raise HgvsError(OUT_OF_RANGE, f"{written} lies past the CDS's last base c.{last} (3' of it, positions are c.*N)")
    if not 0 <= i < length:
        span = f"{numbering.label(0, coordinate)} to {numbering.label(length - 1, coordinate)}"
        raise HgvsError(OUT_OF_RANGE, f"{written} lies outside the target ({span}, {length} bases)")
    return i


def _place(edit: Edit, wt: str, numbering: Numbering, coordinate: str) -> _Placed:
    L = len(wt)
    a = _locate(edit.start, numbering, coordinate, L)
    b = _locate(edit.end, numbering, coordinate, L)
    where = f"{coordinate}.{edit.start}" + ("" if edit.end == edit.start else f"_{edit.end}")
    span = wt[a : b + 1]
    if edit.kind == "ins":
        if b != a + 1:
            raise _bad(f"{where}ins: an insertion goes between two adjacent positions")
        return _Placed(edit, b, b, edit.alt, (a, b + 1))
    if edit.ref is not None and edit.ref != span:
        if len(edit.ref) != len(span):
            raise HgvsError(REF_MISMATCH, f"{coordinate}.{edit}: states {len(edit.ref)} reference bases for a span of {len(span)}")
        raise HgvsError(REF_MISMATCH, f"{coordinate}.{edit}: states {edit.ref}, the target has {span} at {where}")
    if edit.kind in ("sub", "delins"):
        return _Placed(edit, a, b + 1, edit.alt, (a, b + 1))
    if edit.kind == "del":
        return _Placed(edit, a, b + 1, "", (a, b + 1))
    if edit.kind == "identity":
        return _Placed(edit, a, b + 1, span, (a, b + 1))
    if edit.kind == "inv":
        return _Placed(edit, a, b + 1, _revcomp(span), (a, b + 1))
    if edit.kind == "dup":  # the copy goes right after the span: it touches the next base too
        return _Placed(edit, b + 1, b + 1, span, (a, min(b + 2, L)))
    raise _bad(f"unknown edit kind {edit.kind!r}")  # pragma: no cover


def apply_hgvs(wt: str, variant: HgvsVariant, numbering: Numbering | None = None) -> str:
    """The mutant sequence: ``variant``'s edits applied to ``wt`` (upper-case, coding orientation).

    Every edit is placed first (positions inside the target, stated REF bases equal to the target's),
    then checked against the others: two edits may not share a base, and an insertion (or a
    duplication's copy) may not touch a base another edit changes, since the result would depend
    on the order they are applied in (HGVS writes such changes as one ``delins``). Raises
    :class:`HgvsError`: ``out_of_range``, ``ref_mismatch``, ``overlapping_edits`` or ``bad_hgvs``.
    """
    numbering = numbering or Numbering(len(wt))
    if numbering.length != len(wt):
        raise ValueError(f"numbering is for {numbering.length} bases, the target has {len(wt)}")
    placed = [_place(e, wt, numbering, variant.coordinate) for e in variant.edits]
    placed.sort(key=lambda p: (p.begin, p.end))
    for i, p in enumerate(placed):
        for q in placed[i + 1 :]:
            (s1, e1), (s2, e2) = p.footprint, q.footprint
            if s1 < e2 and s2 < e1:
                raise HgvsError(OVERLAPPING_EDITS, f"{variant.coordinate}.{p.edit} and {variant.coordinate}.{q.edit} overlap or touch (write them as one delins)")
    out, cursor = [], 0
    for p in placed:
        out.append(wt[cursor : p.begin])
        out.append(p.alt)
        cursor = p.end
    out.append(wt[cursor:])
    return "".join(out)
