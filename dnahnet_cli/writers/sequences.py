"""``dnahnet score``'s outputs: the per-record TSV and the per-base HDF5, bigWig or bedGraph.

The TSV is a :class:`~dnahnet_cli.resumable.ResumableOutput` committed after every record; the
per-base values go to an HDF5 file (one float32 dataset per record, keyed by record number) that
``--resume`` trims back to the committed records. A bigWig needs every record's size before its
first value, so a track is converted from an HDF5 file beside it (``OUT.partial.h5``) once every
record is scored, with the provenance in ``OUT.json``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

from ..common import command_line, sidecar_path, tsv_header, write_json_atomic
from ..errors import EXIT_USAGE, fail
from ..resumable import ResumableOutput, committed_items, file_identity, keep_committed_on_interrupt

COLUMNS = ["name", "length", "n_scored", "n_masked", "log_likelihood", "bits_per_base", "perplexity"]


def check_per_base(per_base: Optional[Path]) -> Optional[str]:
    """The --per-base track format ('bigwig', 'bedgraph'), None for HDF5 or no --per-base; a usage
    error (exit 2) for any other extension. Called before any work."""
    from dnahnet_core.tracks import track_format

    track = track_format(per_base) if per_base else None
    if per_base and track is None and not per_base.name.lower().endswith((".h5", ".hdf5")):
        fail(f"--per-base {per_base.name}: use .h5 (HDF5), .bw (bigWig) or .bedgraph (text)", EXIT_USAGE)
    return track


def format_row(s) -> str:
    """One TSV line of a :class:`~dnahnet_core.scoring.sequences.SequenceScore`."""
    return f"{s.name}\t{s.length}\t{s.n_scored}\t{s.n_masked}\t{s.log_likelihood:.6f}\t{s.bits_per_base:.6f}\t{s.perplexity:.6f}\n"


class SequenceWriter:
    """The outputs of one ``dnahnet score`` run.

    Open it before the recipe (under torchrun on every rank): ``done`` is how many records an
    interrupted run finished (the recipe's ``skip``). Rank 0 then hands the run to :meth:`write`.
    """

    def __init__(self, session, fasta: Path, output: Optional[Path], per_base: Optional[Path], resume: bool,
                 context: int, stride: int, both_strands: bool) -> None:
        self.session, self.output, self.per_base = session, output, per_base
        self.track = check_per_base(per_base)
        # A track is written once every record is scored (a bigWig needs every record's size first):
        # the values go to an HDF5 file beside it meanwhile, which also lets --resume continue.
        self.h5_path = per_base.with_name(per_base.name + ".partial.h5") if self.track else per_base
        key = {"command": "score", "input": file_identity(fasta), "model": session.loaded.sha256, "context": context,
               "stride": stride, "both_strands": both_strands, "per_base": str(per_base) if per_base else None}
        self.out = ResumableOutput(output, key, resume) if session.is_main else None
        self.done = self.out.done if self.out is not None else committed_items(output, resume)

    def write(self, run) -> None:
        """Write ``run`` (a :class:`~dnahnet_core.scoring.sequences.SequenceRun` started at ``skip=done``)."""
        import h5py
        from tqdm import tqdm

        from dnahnet_core.tracks import per_base_h5_to_track

        if run.skip != self.done:
            raise ValueError(f"the run starts after {run.skip} records, the output after {self.done}")
        out, done, per_base, h5_path, track = self.out, self.done, self.per_base, self.h5_path, self.track
        provenance = {"command": command_line(), **self.session.provenance(), **run.parameters}
        ok = False
        h5 = None
        try:
            with keep_committed_on_interrupt(out):
                if per_base:
                    h5 = h5py.File(h5_path, "a" if done else "w")
                    for name in [k for k in h5 if int(k) >= done]:  # written after the last commit
                        del h5[name]
                if not done:
                    out.write(tsv_header(provenance) + "\t".join(COLUMNS) + "\n")
                    out.commit(0)
                for i, s in enumerate(tqdm(run.results, unit="rec", file=sys.stderr, disable=not sys.stderr.isatty()), start=done):
                    out.write(format_row(s))
                    if h5 is not None:
                        # Dataset keys are record numbers (names may hold '/' or repeat); the name is an attribute.
                        ds = h5.create_dataset(f"{i:06d}", data=s.per_base, compression="gzip")
                        ds.attrs["name"] = s.name
                        h5.flush()
                    out.commit(i + 1)
                if h5 is not None:
                    for k, v in provenance.items():
                        h5.attrs[k] = str(v)
                out.finish()
                if track:
                    h5.close()
                    per_base_h5_to_track(h5_path, per_base, track)
                    write_json_atomic(sidecar_path(per_base),
                                      {**provenance, "track": "per-base log-likelihood (natural log); N positions left out",
                                       "coordinates": "0-based half-open", "format": track})
                    h5_path.unlink()
            ok = True
        finally:
            if h5 is not None:
                h5.close()
                if not ok and not (out is not None and out.kept):
                    h5_path.unlink(missing_ok=True)  # a failed run leaves no partial output
