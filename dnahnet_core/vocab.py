"""The nucleotide vocabulary (design §1.1) and the text → token-id mapping.

Tokens: A C G T N, plus BOS, which is prepended to every scored or trained window so that the first
real nucleotide is predicted too. Lower-case (soft-masked) letters are upper-cased, every IUPAC
ambiguity code maps to N, U maps to T; anything else is an input error naming record and position.
"""

from __future__ import annotations

import numpy as np
import torch

from .errors import InputError

TOKENS: tuple[str, ...] = ("A", "C", "G", "T", "N", "<bos>")
A, C, G, T, N, BOS = range(6)
VOCAB_SIZE = len(TOKENS)
#: Token ids that count as scored targets (likelihoods and the loss ignore N).
ACGT = (A, C, G, T)

_INVALID = 255
# One 256-entry lookup table turns a byte string into token ids in a single numpy gather.
_LUT = np.full(256, _INVALID, dtype=np.uint8)
for _letters, _tok in (("A", A), ("C", C), ("G", G), ("TU", T), ("NRYKMSWBDHV", N)):
    for _ch in _letters:
        _LUT[ord(_ch)] = _tok
        _LUT[ord(_ch.lower())] = _tok

# Complement in token space: A<->T, C<->G, N->N, BOS->BOS.
_COMPLEMENT = np.array([T, G, C, A, N, BOS], dtype=np.uint8)


def tokenize(seq: str | bytes, *, record: str | None = None, path: str | None = None) -> np.ndarray:
    """Map a nucleotide string to uint8 token ids (no BOS).

    Raises :class:`InputError` naming the first invalid character's 1-based position.
    """
    raw = seq.encode("ascii", errors="replace") if isinstance(seq, str) else bytes(seq)
    ids = _LUT[np.frombuffer(raw, dtype=np.uint8)]
    bad = np.flatnonzero(ids == _INVALID)
    if bad.size:
        pos = int(bad[0])
        ch = raw[pos : pos + 1].decode("ascii", errors="replace")
        raise InputError(
            f"invalid character {ch!r} (expected a nucleotide letter: ACGTUN or an IUPAC code)",
            path=path,
            record=record,
            position=pos + 1,
        )
    return ids


def encode(seq: str | bytes, *, bos: bool = True, record: str | None = None) -> torch.Tensor:
    """Encode a nucleotide string as a LongTensor of token ids, BOS first by default."""
    ids = torch.from_numpy(tokenize(seq, record=record).astype(np.int64))
    if bos:
        ids = torch.cat([torch.tensor([BOS], dtype=torch.long), ids])
    return ids


def decode(ids: torch.Tensor | np.ndarray) -> str:
    """Token ids back to letters (BOS is dropped)."""
    arr = ids.detach().cpu().numpy() if isinstance(ids, torch.Tensor) else np.asarray(ids)
    return "".join(TOKENS[i] for i in arr.tolist() if i != BOS)


def reverse_complement_ids(ids: np.ndarray) -> np.ndarray:
    """Reverse complement of a uint8/int token array (without BOS)."""
    return _COMPLEMENT[np.asarray(ids)[::-1]].astype(np.asarray(ids).dtype)


def reverse_complement(seq: str) -> str:
    """Reverse complement of a nucleotide string; ambiguity codes become N."""
    return decode(reverse_complement_ids(tokenize(seq)))
