"""Corruptions of real input files, for the fuzz tests and ``benchmarks/fuzz_inputs.py``.

A corruption is a short list of edits applied to a real file's bytes: flipped bytes, deleted or
duplicated lines, inserted garbage, swapped separators, truncation, and optionally gzip on top
(whole or cut short). Every reader and command must turn any such file into a result, a per-record
status, or one clear error line: never a crash, a hang or a traceback.
"""

from __future__ import annotations

import gzip
from pathlib import Path

from hypothesis import strategies as st

EDITS = ("flip", "delete_bytes", "insert_bytes", "truncate", "drop_line", "dup_line", "swap_sep", "garbage_line", "blank_line")


@st.composite
def edits(draw, max_edits: int = 4) -> list[tuple]:
    out = []
    for _ in range(draw(st.integers(1, max_edits))):
        kind = draw(st.sampled_from(EDITS))
        pos = draw(st.floats(0, 1, allow_nan=False))  # where, as a fraction of the file
        payload = draw(st.binary(min_size=1, max_size=12))
        out.append((kind, pos, payload))
    return out


def corrupt(data: bytes, plan: list[tuple]) -> bytes:
    for kind, pos, payload in plan:
        i = min(int(pos * len(data)), max(len(data) - 1, 0))
        lines = data.split(b"\n")
        j = min(int(pos * len(lines)), len(lines) - 1)
        if kind == "flip" and data:
            data = data[:i] + payload[:1] + data[i + 1 :]
        elif kind == "delete_bytes":
            data = data[:i] + data[i + len(payload) * 7 :]
        elif kind == "insert_bytes":
            data = data[:i] + payload + data[i:]
        elif kind == "truncate":
            data = data[:i]
        elif kind == "drop_line":
            data = b"\n".join(lines[:j] + lines[j + 1 :])
        elif kind == "dup_line":
            data = b"\n".join(lines[: j + 1] + lines[j:])
        elif kind == "swap_sep":
            line = lines[j].replace(b"\t", b" ", 1) if b"\t" in lines[j] else lines[j].replace(b" ", b"\t", 1)
            data = b"\n".join(lines[:j] + [line] + lines[j + 1 :])
        elif kind == "garbage_line":
            data = b"\n".join(lines[:j] + [payload.replace(b"\n", b"")] + lines[j:])
        elif kind == "blank_line":
            data = b"\n".join(lines[:j] + [b""] + lines[j:])
    return data


def write_corrupted(src: Path, dst_dir: Path, plan: list[tuple], compress: str) -> Path:
    """The corrupted copy of ``src`` in ``dst_dir``; compress is "", "gzip" or "gzip_cut"."""
    data = corrupt(src.read_bytes(), plan)
    if compress:
        data = gzip.compress(data)
        if compress == "gzip_cut":
            data = data[: max(10, len(data) * 2 // 3)]
        dst = dst_dir / (src.name + ".gz")
    else:
        dst = dst_dir / src.name
    dst.write_bytes(data)
    return dst
