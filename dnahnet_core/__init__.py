"""dnahnet core: the dnaHNet model, its trainer and scoring routines.

The public names are imported lazily (PEP 562) so that ``dnahnet --help`` and ``--version`` start
without importing torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from .version import __version__

_EXPORTS = {
    "DnaHNet": ".model.dnahnet",
    "ModelOutput": ".model.dnahnet",
    "ModelConfig": ".config",
    "encode": ".vocab",
    "load_model": ".checkpoint",
    "save_model": ".checkpoint",
}

__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module 'dnahnet_core' has no attribute {name!r}")
