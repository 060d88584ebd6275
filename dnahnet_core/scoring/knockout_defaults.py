"""Defaults of the knockout protocol (publication values), importable without torch or pandas so
that ``dnahnet --help`` stays fast."""

DEFAULT_WINDOW = 8192
DEFAULT_OFFSET = 12
DEFAULT_CASSETTE = "TAATAATAATAGTGA"  # five in-frame stop codons, 15 nt
