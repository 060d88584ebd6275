"""Pieces shared by the scoring commands: output handling and provenance headers."""

from __future__ import annotations

import contextlib
import json
from enum import Enum
import os
import shlex
import sys
from pathlib import Path
from typing import IO, Iterator

from dnahnet_core.atomic import atomic_path
from dnahnet_core.errors import InputError


class Device(str, Enum):
    """--device choices shared by every command."""

    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


def command_line() -> str:
    """The command as typed, less the flags that do not change the output (``--resume``), so that
    a resumed run writes the same provenance as an uninterrupted one."""
    from .resumable import NEUTRAL_FLAGS

    return "dnahnet " + " ".join(shlex.quote(a) for a in sys.argv[1:] if a not in NEUTRAL_FLAGS)


def check_output_path(path: Path | None) -> None:
    """Fail before any work if the output cannot be created (e.g. its folder does not exist)."""
    if path is not None and not path.parent.exists():
        raise InputError("cannot write output: the folder does not exist", path=str(path))


@contextlib.contextmanager
def output_stream(path: Path | None, binary: bool = False) -> Iterator[IO]:
    """stdout, or ``path`` written as results arrive (so an interrupted run keeps what it wrote).

    If the run fails with an input error, the partial file is removed: a failed run leaves no
    output behind that could be mistaken for a result.
    """
    if path is None:
        yield sys.stdout.buffer if binary else sys.stdout
        return
    check_output_path(path)
    f = open(path, "wb" if binary else "w")
    try:
        yield f
    except Exception:  # any failure (Ctrl-C is a BaseException: an interrupted run keeps its output)
        f.close()
        with contextlib.suppress(OSError):
            os.remove(path)
        raise
    finally:
        if not f.closed:
            f.close()


def tsv_header(provenance: dict[str, object]) -> str:
    """Provenance as '#'-comment lines ahead of a TSV (pandas: read_csv(..., comment='#'))."""
    return "".join(f"# {k}: {v}\n" for k, v in provenance.items())


def sidecar_path(output: Path) -> Path:
    """Where an output's provenance JSON goes: OUT.json beside OUT."""
    return output.with_name(output.name + ".json")


def write_json_atomic(path: Path, data: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")
