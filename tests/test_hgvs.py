"""The strict HGVS parser of dnahnet_core.data.hgvs: grammar, numbering, application, statuses."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dnahnet_core.data.hgvs import (BAD_HGVS, OUT_OF_RANGE, OVERLAPPING_EDITS, REF_MISMATCH, UNSUPPORTED, Edit, HgvsError,
                                    Numbering, Position, apply_hgvs, parse_hgvs)

# The first 15 bases of phiX174 gene J (ATG TCT AAA GGT AAA).
WT = "ATGTCTAAAGGTAAA"
BASES = "ACGT"
STATUSES = {BAD_HGVS, UNSUPPORTED, OUT_OF_RANGE, REF_MISMATCH, OVERLAPPING_EDITS}


def mutant(text: str, wt: str = WT, numbering: Numbering | None = None) -> str:
    return apply_hgvs(wt, parse_hgvs(text), numbering)


def status(text: str, wt: str = WT, numbering: Numbering | None = None) -> str:
    with pytest.raises(HgvsError) as err:
        mutant(text, wt, numbering)
    assert str(err.value) and "\n" not in str(err.value)
    return err.value.status


# ------------------------------------------------------------------------------------ examples


@pytest.mark.parametrize("text, expected", [
    ("c.1A>T", "TTGTCTAAAGGTAAA"),
    ("n.1A>T", "TTGTCTAAAGGTAAA"),
    ("c.15A>G", "ATGTCTAAAGGTAAG"),
    ("c.4del", "ATGCTAAAGGTAAA"),
    ("c.4delT", "ATGCTAAAGGTAAA"),
    ("c.4_6del", "ATGAAAGGTAAA"),
    ("c.4_6delTCT", "ATGAAAGGTAAA"),
    ("c.3_4insGG", "ATGGGTCTAAAGGTAAA"),
    ("c.4_6delinsC", "ATGCAAAGGTAAA"),
    ("c.4delinsGC", "ATGGCCTAAAGGTAAA"),
    ("c.4_6delTCTinsG", "ATGGAAAGGTAAA"),
    ("c.4dup", "ATGTTCTAAAGGTAAA"),
    ("c.4_6dup", "ATGTCTTCTAAAGGTAAA"),
    ("c.4_6inv", "ATGAGAAAAGGTAAA"),
    ("c.4=", WT),
    ("c.4_6TCT=", WT),
    ("c.=", WT),
    ("_wt", WT),
    ("c.[1A>T;4del]", "TTGCTAAAGGTAAA"),
    ("c.[4del;1A>T]", "TTGCTAAAGGTAAA"),  # edits in any order
    ("c.[1A>T;2T>C]", "TCGTCTAAAGGTAAA"),  # adjacent substitutions do not overlap
    ("c.[1A>T;3_4insC;10_12del]", "TTGCTCTAAAAAA"),
    ("NM_000001.1:c.1A>T", "TTGTCTAAAGGTAAA"),
    ("  c.1A>T ", "TTGTCTAAAGGTAAA"),  # the cell's outer whitespace is not part of it
])
def test_valid_variants(text, expected):
    assert mutant(text) == expected


def test_parse_result():
    v = parse_hgvs("NM_004006.2:c.[76A>T;80_82delinsGG;*3dup;-5del]")
    assert v.accession == "NM_004006.2" and v.coordinate == "c" and not v.is_wild_type
    assert v.edits == (Edit("sub", Position(76), Position(76), "A", "T"), Edit("delins", Position(80), Position(82), None, "GG"),
                       Edit("dup", Position(3, utr3=True), Position(3, utr3=True)), Edit("del", Position(-5), Position(-5)))
    assert [str(e) for e in v.edits] == ["76A>T", "80_82delinsGG", "*3dup", "-5del"]
    assert parse_hgvs("c.=").is_wild_type and parse_hgvs("n.=").coordinate == "n"


@pytest.mark.parametrize("text, expected", [
    # not HGVS this grammar reads
    ("", BAD_HGVS), ("x", BAD_HGVS), ("c.", BAD_HGVS), ("c.1", BAD_HGVS), ("c.1A>", BAD_HGVS), ("c.1A>T>G", BAD_HGVS),
    ("c.1a>t", BAD_HGVS), ("c.1A>A", BAD_HGVS), ("c.1_2A>T", BAD_HGVS), ("c.0A>T", BAD_HGVS), ("c.01A>T", BAD_HGVS),
    ("c.3_1del", BAD_HGVS), ("c.3_3del", BAD_HGVS), ("c.3insA", BAD_HGVS), ("c.1_3insA", BAD_HGVS), ("c.4inv", BAD_HGVS),
    ("c.1_2ins", BAD_HGVS), ("c.1_2insX", BAD_HGVS), ("c.1 A>T", BAD_HGVS), ("c.1A>T;2T>C", BAD_HGVS),
    ("c.[1A>T;]", BAD_HGVS), ("c.[1A>T", BAD_HGVS), ("C.1A>T", BAD_HGVS), ("x.1A>T", BAD_HGVS), ("n.-1A>T", BAD_HGVS),
    ("n.*1A>T", BAD_HGVS), ("c.4_6del3", BAD_HGVS), ("a:b:c.1A>T", BAD_HGVS),
    # valid HGVS that cannot be scored against one contiguous target
    ("c.76+1A>T", UNSUPPORTED), ("c.-5-2A>T", UNSUPPORTED), ("c.76_77+2del", UNSUPPORTED), ("g.1A>T", UNSUPPORTED),
    ("NC_000001.11:g.1A>T", UNSUPPORTED), ("p.Gly12Val", UNSUPPORTED), ("r.76a>u", UNSUPPORTED), ("m.1A>T", UNSUPPORTED),
    ("c.(1_3)del", UNSUPPORTED), ("c.?del", UNSUPPORTED), ("c.1A[3]", UNSUPPORTED), ("c.1_2insN[10]", UNSUPPORTED),
    ("c.1_2ins(10)", UNSUPPORTED), ("c.1_2ins5_7", UNSUPPORTED), ("c.[1A>T];[2T>C]", UNSUPPORTED),
    ("c.[1A>T(;)2T>C]", UNSUPPORTED), ("_sy", UNSUPPORTED),
    # readable, but not on this target
    ("c.16A>T", OUT_OF_RANGE), ("c.15_16insA", OUT_OF_RANGE), ("c.-1A>T", OUT_OF_RANGE), ("c.*1A>T", OUT_OF_RANGE),
    ("n.100del", OUT_OF_RANGE),
    ("c.2A>T", REF_MISMATCH), ("c.4delA", REF_MISMATCH), ("c.4_6delTC", REF_MISMATCH), ("c.4_6dupTTT", REF_MISMATCH),
    ("c.1G=", REF_MISMATCH), ("c.4_6delTTTinsG", REF_MISMATCH),
    ("c.[1A>T;1_2insC]", OVERLAPPING_EDITS), ("c.[1A>T;1del]", OVERLAPPING_EDITS), ("c.[4_6del;5C>G]", OVERLAPPING_EDITS),
    ("c.[3_4insA;3_4insC]", OVERLAPPING_EDITS), ("c.[4dup;5C>G]", OVERLAPPING_EDITS), ("c.[2T>C;2T>C]", OVERLAPPING_EDITS),
])
def test_statuses(text, expected):
    assert status(text) == expected


def test_messages_say_what_is_wrong():
    with pytest.raises(HgvsError, match=r"c\.2A>T: states A, the target has T at c\.2"):
        mutant("c.2A>T")
    with pytest.raises(HgvsError, match=r"c\.16 lies outside the target \(c\.1 to c\.15, 15 bases\)"):
        mutant("c.16A>T")


def test_cds_numbering():
    """c.1 at the CDS start; c.-N and c.*N around it; n. counts from the target's first base."""
    n = Numbering(len(WT), cds_start=3, cds_end=12)  # CDS = WT[3:12] = TCTAAAGGT
    assert mutant("c.1T>A", numbering=n) == "ATGACTAAAGGTAAA"
    assert mutant("c.-1G>C", numbering=n) == "ATCTCTAAAGGTAAA"
    assert mutant("c.-3A>T", numbering=n) == "TTGTCTAAAGGTAAA"
    assert mutant("c.9T>C", numbering=n) == "ATGTCTAAAGGCAAA"
    assert mutant("c.*1A>C", numbering=n) == "ATGTCTAAAGGTCAA"
    assert mutant("c.*3A>C", numbering=n) == "ATGTCTAAAGGTAAC"
    assert mutant("c.-1_1insCC", numbering=n) == "ATGCCTCTAAAGGTAAA"  # there is no c.0
    assert mutant("c.-2_2del", numbering=n) == "ATAAAGGTAAA"
    assert mutant("c.9_*1insG", numbering=n) == "ATGTCTAAAGGTGAAA"
    assert mutant("n.4T>A", numbering=n) == "ATGACTAAAGGTAAA"
    assert status("c.10G>A", numbering=n) == OUT_OF_RANGE  # past the CDS: that base is c.*1
    assert status("c.-4A>T", numbering=n) == OUT_OF_RANGE
    assert status("c.*4A>T", numbering=n) == OUT_OF_RANGE
    assert [n.label(i, "c") for i in (0, 2, 3, 11, 12, 14)] == ["c.-3", "c.-1", "c.1", "c.9", "c.*1", "c.*3"]
    with pytest.raises(ValueError):
        Numbering(10, cds_start=5, cds_end=5)


# -------------------------------------------------------------------------------- properties

wild_types = st.text(alphabet=BASES, min_size=2, max_size=80)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _where(a: int, b: int) -> str:
    return str(a) if a == b else f"{a}_{b}"


@FAST
@given(wild_types, st.data())
def test_random_substitution(wt, data):
    p = data.draw(st.integers(1, len(wt)))
    alt = data.draw(st.sampled_from([b for b in BASES if b != wt[p - 1]]))
    assert mutant(f"c.{p}{wt[p - 1]}>{alt}", wt) == wt[: p - 1] + alt + wt[p:]
    wrong = next(b for b in BASES if b != wt[p - 1] and b != alt)
    assert status(f"c.{p}{wrong}>{alt}", wt) == REF_MISMATCH


@FAST
@given(wild_types, st.data())
def test_random_deletion_dup_inv_delins(wt, data):
    a = data.draw(st.integers(1, len(wt)))
    b = data.draw(st.integers(a, len(wt)))
    span = wt[a - 1 : b]
    where = _where(a, b)
    assert mutant(f"c.{where}del", wt) == wt[: a - 1] + wt[b:]
    assert mutant(f"n.{where}del{span}", wt) == wt[: a - 1] + wt[b:]
    assert mutant(f"c.{where}dup", wt) == wt[:b] + span + wt[b:]
    alt = data.draw(st.text(alphabet=BASES, min_size=1, max_size=12))
    assert mutant(f"c.{where}delins{alt}", wt) == wt[: a - 1] + alt + wt[b:]
    if b > a:
        rc = span[::-1].translate(str.maketrans("ACGT", "TGCA"))
        assert mutant(f"c.{where}inv", wt) == wt[: a - 1] + rc + wt[b:]
    assert status(f"c.{a}_{len(wt) + 1}del", wt) == OUT_OF_RANGE


@FAST
@given(wild_types, st.data())
def test_random_insertion(wt, data):
    a = data.draw(st.integers(1, len(wt) - 1))
    ins = data.draw(st.text(alphabet=BASES, min_size=1, max_size=12))
    v = parse_hgvs(f"c.{a}_{a + 1}ins{ins}")
    assert apply_hgvs(wt, v) == wt[:a] + ins + wt[a:]
    assert f"c.{v.edits[0]}" == f"c.{a}_{a + 1}ins{ins}"  # canonical text round-trips
    if a + 2 <= len(wt):
        assert status(f"c.{a}_{a + 2}ins{ins}", wt) == BAD_HGVS  # not two adjacent positions


@FAST
@given(st.text(alphabet=BASES, min_size=12, max_size=80), st.data())
def test_random_multi_edit(wt, data):
    """Non-touching substitutions and deletions in any order give the same mutant as applying them
    right to left one at a time."""
    L = len(wt)
    starts = sorted(data.draw(st.sets(st.integers(1, L), min_size=1, max_size=4)))
    edits = []
    for i, s in enumerate(starts):  # each edit ends before the next one's base (gap >= 1 base)
        limit = starts[i + 1] - 2 if i + 1 < len(starts) else L
        if limit < s:
            continue
        e = data.draw(st.integers(s, min(limit, s + 3)))
        if e == s and data.draw(st.booleans()):
            alt = data.draw(st.sampled_from([b for b in BASES if b != wt[s - 1]]))
            edits.append((s, e, f"{s}{wt[s - 1]}>{alt}", alt))
        else:
            edits.append((s, e, f"{_where(s, e)}del", ""))
    expected = wt
    for s, e, _, alt in sorted(edits, reverse=True):
        expected = expected[: s - 1] + alt + expected[e:]
    order = data.draw(st.permutations(edits))
    assert mutant("c.[" + ";".join(t for _, _, t, _ in order) + "]", wt) == expected


@FAST
@given(st.integers(1, 30), st.integers(0, 30), st.integers(1, 30), st.data())
def test_random_cds_position(utr5, utr3, cds_len, data):
    """Every base of the target is reachable by exactly its c. position, whatever the CDS."""
    wt = data.draw(st.text(alphabet=BASES, min_size=utr5 + cds_len + utr3, max_size=utr5 + cds_len + utr3))
    n = Numbering(len(wt), cds_start=utr5, cds_end=utr5 + cds_len)
    i = data.draw(st.integers(0, len(wt) - 1))
    label = n.label(i, "c")
    alt = "A" if wt[i] != "A" else "C"
    assert mutant(f"{label}{wt[i]}>{alt}", wt, n) == wt[:i] + alt + wt[i + 1 :]


HGVS_ALPHABET = "cngp.:_0123456789ACGTNacgt>delinsdupinv=[];*-+?() \t"


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=30), st.text(alphabet=HGVS_ALPHABET, max_size=30)))
def test_malformed_strings_never_raise_anything_else(text):
    try:
        v = parse_hgvs(text)
    except HgvsError as err:
        assert err.status in (BAD_HGVS, UNSUPPORTED) and "\n" not in str(err).strip()
        return
    try:
        out = apply_hgvs(WT, v, Numbering(len(WT), 3, 12))
    except HgvsError as err:
        assert err.status in STATUSES
    else:
        assert set(out) <= set(BASES)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["c.76A>T", "c.76_78del", "c.76_77insTTG", "c.76_78delinsGG", "c.[76A>T;80del]", "c.76dup"]), st.data())
def test_corrupted_valid_strings_give_a_status(text, data):
    i = data.draw(st.integers(0, len(text)))
    junk = data.draw(st.text(alphabet=HGVS_ALPHABET, max_size=3))
    cut = data.draw(st.integers(0, 2))
    broken = text[:i] + junk + text[i + cut :]
    try:
        apply_hgvs("ACGT" * 25, parse_hgvs(broken))
    except HgvsError as err:
        assert err.status in STATUSES


def test_not_a_string_is_bad_hgvs():
    with pytest.raises(HgvsError) as err:
        parse_hgvs(None)  # type: ignore[arg-type]
    assert err.value.status == BAD_HGVS
