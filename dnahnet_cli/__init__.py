"""The ``dnahnet`` command line (Typer): parses, calls one dnahnet_core function, writes."""
