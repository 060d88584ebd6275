"""The nucleotide vocabulary of design §1.1."""

from __future__ import annotations

import pytest

from dnahnet_core.errors import InputError
from dnahnet_core.vocab import A, BOS, C, G, N, T, encode, reverse_complement, tokenize


def test_encode_prepends_bos_and_normalises():
    ids = encode("acgTuRYKMSWBDHVn").tolist()
    assert ids[0] == BOS
    assert ids[1:6] == [A, C, G, T, T]  # lower case upper-cased, U -> T
    assert set(ids[6:]) == {N}  # every IUPAC ambiguity code -> N


def test_invalid_character_names_record_and_position():
    with pytest.raises(InputError) as err:
        tokenize("ACGT-A", record="chr1", path="x.fa")
    assert str(err.value) == "x.fa, record 'chr1', position 5: invalid character '-' (expected a nucleotide letter: ACGTUN or an IUPAC code)"


def test_reverse_complement(phix):
    assert reverse_complement("AACGTN") == "NACGTT"
    assert reverse_complement(reverse_complement(phix)) == phix
