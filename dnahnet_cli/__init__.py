"""The ``dnahnet`` command line (Typer): parses, calls one dnahnet_core function, writes."""

import os
import sys

# Rich help on a terminal; plain text when piped or when NO_COLOR is set (typer reads this at import).
if "TYPER_USE_RICH" not in os.environ and (os.environ.get("NO_COLOR") or not sys.stdout.isatty()):
    os.environ["TYPER_USE_RICH"] = "0"
