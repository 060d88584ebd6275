"""Training-data layer: FASTA input, the HDF5 token cache, and window sampling.

``fasta`` finds and parses input files, ``cache`` turns them into a :class:`TokenStore` (in memory
or lazily from HDF5), and ``windows`` draws reproducible training batches and evaluation tilings.
"""

from .cache import (
    CACHE_FORMAT_VERSION,
    RecordInfo,
    TokenStore,
    build_cache,
    ensure_cache,
    is_cache_fresh,
)
from .fasta import EmptyRecordWarning, FastaRecord, find_fasta_files, read_fasta
from .windows import Batch, EvalWindows, FileSplit, WindowPlan, WindowSampler, assemble_batch, split_files

__all__ = [
    "CACHE_FORMAT_VERSION",
    "Batch",
    "EmptyRecordWarning",
    "EvalWindows",
    "FastaRecord",
    "FileSplit",
    "RecordInfo",
    "TokenStore",
    "WindowPlan",
    "WindowSampler",
    "assemble_batch",
    "build_cache",
    "ensure_cache",
    "find_fasta_files",
    "is_cache_fresh",
    "read_fasta",
    "split_files",
]
