"""Turn user-facing errors into one line on stderr and a documented exit code.

Exit codes: 0 success, 1 runtime failure (bad input, bad checkpoint, ...), 2 usage error (Click).
Set DNAHNET_DEBUG=1 to see the full traceback instead.
"""

from __future__ import annotations

import functools
import os
import sys
import warnings
from typing import Any, Callable

from dnahnet_core.errors import DnaHNetError

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def debug_enabled() -> bool:
    return os.environ.get("DNAHNET_DEBUG", "") not in ("", "0")


def fail(message: str, code: int = EXIT_FAILURE) -> None:
    first = message.strip().splitlines()[0] if message.strip() else "unknown error"
    sys.stderr.write(f"dnahnet: error: {first}\n")
    raise SystemExit(code)


def _is_click_control(err: BaseException) -> bool:
    """Click's own exceptions (usage errors -> exit 2, Exit, Abort) must pass through untouched.
    Typer ships its own copy of Click, so they are recognised by class name."""
    return any(c.__name__ in ("ClickException", "Exit", "Abort") for c in type(err).__mro__)


def friendly_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator for commands: known errors become one line; anything else too, unless debugging."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with warnings.catch_warnings():
            one_line_warnings()
            return _run(func, *args, **kwargs)

    return wrapper


def one_line_warnings() -> None:
    """Warnings about the input (:class:`InputWarning`: an empty FASTA record, annotation names
    that match no genome record) as one 'dnahnet: warning:' line each, each distinct message once
    (a file read twice warns once); others as Python prints them."""
    from dnahnet_core.errors import InputWarning

    default = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
        if issubclass(category, InputWarning) and not debug_enabled():
            sys.stderr.write(f"dnahnet: warning: {message}\n")
        else:
            default(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    warnings.simplefilter("once", InputWarning)


def _run(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a command, turning known failures into one line."""
    try:
        return func(*args, **kwargs)
    except BrokenPipeError:
        # The reader went away (`dnahnet boundaries x.fa | head`): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(141)
    except (DnaHNetError, OSError) as err:
        if debug_enabled():
            raise
        fail(str(err))
    except KeyboardInterrupt:
        if debug_enabled():
            raise
        fail("interrupted", code=130)
    except Exception as err:  # an unexpected bug: still one line, and how to see more
        if debug_enabled() or _is_click_control(err):
            raise
        fail(f"{type(err).__name__}: {err} (set DNAHNET_DEBUG=1 for the traceback)")
