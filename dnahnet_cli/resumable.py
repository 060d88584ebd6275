"""Resumable output for long runs: finished work is committed in pieces, and ``--resume`` continues
after SIGINT, SIGTERM or SIGKILL without recomputing it.

While a run is going, its output is written to ``OUT.partial`` next to the final path, and
``OUT.progress.json`` records, after every commit, how many input items are finished and how many
bytes of the partial file hold them (written after an fsync of the partial file, atomically). A run
killed at any moment therefore leaves a partial file whose first ``bytes`` are exactly the output of
the first ``done`` items. ``--resume`` checks that the command would produce the same output (same
inputs, model and options: the run's ``key``), cuts the partial file back to the committed bytes,
skips the finished items and appends; the finished file is renamed into place, so it is
byte-identical to an uninterrupted run. Without ``--resume`` an old partial run is started over.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import IO, Any, Iterator

from dnahnet_core.atomic import atomic_path
from dnahnet_core.errors import InputError, OutputError

#: Command-line flags that do not change a run's output (left out of its identity and provenance).
NEUTRAL_FLAGS = ("--resume",)


def file_identity(path: str | os.PathLike[str] | None) -> Any:
    """What identifies an input file's content cheaply: its absolute path, size and mtime."""
    if path is None:
        return None
    p = Path(path)
    try:
        st = p.stat()
    except OSError:
        return str(p)
    return [str(p.resolve()), st.st_size, st.st_mtime_ns]


def progress_path(output: Path) -> Path:
    return output.with_name(output.name + ".progress.json")


def committed_items(output: Path | None, resume: bool) -> int:
    """Finished items of an interrupted run, read without opening the output: what the ranks
    other than 0 (which write nothing) need to skip the same input."""
    if not resume or output is None:
        return 0
    try:
        return int(json.loads(progress_path(output).read_text())["done"])
    except (OSError, ValueError, KeyError):
        return 0


@contextlib.contextmanager
def keep_committed_on_interrupt(*outputs: "ResumableOutput | CompanionOutput | None") -> Iterator[None]:
    """Around a run's writing: an interruption (Ctrl-C) or an output failure (full disk) keeps the
    committed work for ``--resume``; any other failure (bad input) leaves nothing behind."""
    try:
        yield
    except (KeyboardInterrupt, OutputError):
        for o in outputs:
            if o is not None:
                o.close()
                o.kept = True
        raise
    except BaseException:
        for o in outputs:
            if o is not None:
                o.abandon()
        raise


class ResumableOutput:
    """A text output committed in pieces. ``path`` None (stdout) cannot be resumed."""

    def __init__(self, path: Path | None, key: dict[str, Any], resume: bool) -> None:
        self.path = path
        self.key = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()
        self.done = 0
        self.extra: dict[str, Any] = {}
        self.kept = False  # set when an interrupted run kept its committed part
        self.stream: IO[str]
        if path is None:
            if resume:
                raise InputError("--resume needs an output file (-o): standard output cannot be resumed")
            import sys

            self.stream = sys.stdout
            self.partial = self.progress = None
            return
        self.partial = path.with_name(path.name + ".partial")
        self.progress = progress_path(path)
        committed = 0
        if resume and self.progress.exists() and self.partial.exists():
            try:
                state = json.loads(self.progress.read_text())
            except (OSError, ValueError):
                raise InputError("cannot resume: the progress file is unreadable; start again without --resume", path=str(self.progress)) from None
            if state.get("key") != self.key:
                raise InputError("cannot resume: this run's inputs, model or options differ from the interrupted one "
                                 "(start again without --resume, or repeat the original command)", path=str(path))
            self.done, committed, self.extra = int(state["done"]), int(state["bytes"]), state.get("extra", {})
            if self.partial.stat().st_size < committed:
                raise InputError("cannot resume: the partial output is shorter than its progress record", path=str(self.partial))
        self.resumed = committed > 0 or self.done > 0
        if self.resumed:
            import sys

            sys.stderr.write(f"dnahnet: resuming {path}: {self.done} input items already done\n")
        f = open(self.partial, "r+" if self.resumed else "w")
        f.truncate(committed)
        f.seek(committed)
        self.stream = f

    def _failed(self, err: OSError) -> OutputError:
        where = "standard output" if self.partial is None else str(self.path)
        kept = "" if self.partial is None or not self.progress.exists() else (
            f"; the finished part is kept in {self.partial.name}: fix it and rerun with --resume")
        return OutputError(f"cannot write {where}: {err.strerror or err}{kept}")

    def write(self, text: str) -> None:
        try:
            self.stream.write(text)
        except BrokenPipeError:
            raise  # the reader went away: a quiet stop (exit 141), not an error
        except OSError as err:
            raise self._failed(err) from None

    def commit(self, done: int, extra: dict[str, Any] | None = None) -> None:
        """Everything written so far is the output of the first ``done`` items: make it durable."""
        try:
            self.stream.flush()
            if self.partial is None:
                return
            os.fsync(self.stream.fileno())
            self.done = done
            if extra is not None:
                self.extra = extra
            state = {"key": self.key, "done": done, "bytes": self.stream.tell(), "extra": self.extra}
            with atomic_path(self.progress) as tmp:
                tmp.write_text(json.dumps(state))
        except BrokenPipeError:
            raise
        except OSError as err:
            raise self._failed(err) from None

    def finish(self, convert=None) -> Path | None:
        """The run is complete: the partial file becomes the output (through ``convert(partial,
        final)`` when given, e.g. BGZF compression; it must write ``final`` atomically)."""
        self.stream.flush()
        if self.partial is None:
            return None
        self.stream.close()
        if convert is None:
            os.replace(self.partial, self.path)
        else:
            convert(self.partial, self.path)
            self.partial.unlink()
        self.progress.unlink(missing_ok=True)
        return self.path

    def abandon(self) -> None:
        """The run failed on bad input: no partial output is kept (an interruption keeps it)."""
        if self.partial is None:
            return
        try:
            self.stream.close()
        except OSError:
            pass
        self.partial.unlink(missing_ok=True)
        self.progress.unlink(missing_ok=True)

    def close(self) -> None:
        if self.partial is not None and not self.stream.closed:
            try:
                self.stream.close()
            except OSError:  # the disk is full: what was committed is what counts
                pass


class CompanionOutput:
    """A second output file of the same run (e.g. generate's BED next to its FASTA), committed with
    the main output's progress record: its committed length travels in the main record's ``extra``
    under ``name``, so both files always resume from the same item."""

    def __init__(self, path: Path, main: ResumableOutput, name: str) -> None:
        self.path, self.name, self.main = path, name, main
        self.partial = path.with_name(path.name + ".partial")
        committed = int(main.extra.get(name, 0)) if main.resumed else 0
        if main.resumed and (not self.partial.exists() or self.partial.stat().st_size < committed):
            raise InputError("cannot resume: this output's partial file is missing or short; start again without --resume", path=str(path))
        self.stream = open(self.partial, "r+" if main.resumed else "w")
        self.stream.truncate(committed)
        self.stream.seek(committed)

    def write(self, text: str) -> None:
        self.stream.write(text)

    def extra(self) -> dict[str, Any]:
        """Flush and fsync; the value to record in the main output's commit."""
        self.stream.flush()
        os.fsync(self.stream.fileno())
        return {self.name: self.stream.tell()}

    def finish(self) -> None:
        self.stream.close()
        os.replace(self.partial, self.path)

    def close(self) -> None:
        if not self.stream.closed:
            self.stream.close()

    def abandon(self) -> None:
        self.close()
        self.partial.unlink(missing_ok=True)
