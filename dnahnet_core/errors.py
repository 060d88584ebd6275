"""Error types that the CLI turns into one clear line on stderr.

Every error a user can cause by feeding bad input derives from :class:`DnaHNetError`, so the CLI can
catch exactly these, print ``str(err)`` and exit non-zero without a traceback.
"""

from __future__ import annotations

import contextlib
import gzip
import zlib
from typing import Iterator


class DnaHNetError(Exception):
    """Base class of all user-facing errors (bad input, bad config, bad checkpoint)."""


class InputError(DnaHNetError):
    """A problem with an input file, located as precisely as we can (file, record, position)."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        record: str | None = None,
        position: int | None = None,
    ) -> None:
        self.path = path
        self.record = record
        self.position = position
        self.detail = message
        where = []
        if path is not None:
            where.append(str(path))
        if record is not None:
            where.append(f"record {record!r}")
        if position is not None:
            # Positions in messages are 1-based, as a user counts letters in a sequence.
            where.append(f"position {position}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class InputWarning(UserWarning):
    """A problem with the input that does not stop the run (an empty FASTA record, names that
    match nothing): the command line prints each as one 'dnahnet: warning:' line."""


class ConfigError(DnaHNetError):
    """An invalid model or training configuration; the message lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid configuration: " + "; ".join(self.problems))


class CheckpointError(DnaHNetError):
    """A file that is not a readable dnahnet checkpoint."""


class OutputError(DnaHNetError):
    """An output cannot be written (disk full, I/O error). Unlike bad input, it is no reason to
    throw away finished work: resumable commands keep their committed part for ``--resume``."""


@contextlib.contextmanager
def read_errors(where: str, expected: str) -> Iterator[None]:
    """Turn the ways a text input can be unreadable into one-line :class:`InputError`s.

    ``expected`` names the format (e.g. "FASTA") for the "not a text file" message.
    """
    try:
        yield
    except UnicodeDecodeError:
        raise InputError(f"not a text file (undecodable bytes); expected {expected}", path=where) from None
    except EOFError:
        raise InputError("truncated compressed file (gzip stream ends early)", path=where) from None
    except (gzip.BadGzipFile, zlib.error) as err:
        raise InputError(f"corrupt gzip data ({err})", path=where) from None
    except OSError as err:
        raise InputError(f"cannot read file ({err.strerror or err})", path=where) from None
