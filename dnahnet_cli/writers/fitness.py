"""``dnahnet fitness``'s outputs: the scored library as TSV, the status counts and Spearman table
on stderr, and the optional JSON summary."""

from __future__ import annotations

import json
import math
import sys
from collections import Counter
from pathlib import Path
from typing import Optional

from ..common import command_line, output_stream, tsv_header

COLUMNS = ["row", "variant", "assay", "measured", "mut_ll", "wt_ll", "delta", "status", "note"]


def _cell(value: object) -> str:
    if value is None:
        return "NA"
    if isinstance(value, float):
        return "NA" if value != value else f"{value:.6f}"
    return str(value).replace("\t", " ").replace("\n", " ").replace("\r", " ")


def format_row(r) -> str:
    measured = r.row.score_text or None  # as written; NA when empty or no score column
    values = [r.row.number, r.row.variant, r.row.assay, measured, r.mut_ll, r.wt_ll, r.delta, r.status, r.note]
    return "\t".join(_cell(v) for v in values) + "\n"


def correlation_table(corrs) -> str:
    """The Spearman table for stderr: one line per assay."""
    width = max([5] + [len(c.assay or "all") for c in corrs])
    lines = [f"{'assay':<{width}}  {'n':>6}  spearman_rho"]
    for c in corrs:
        rho = "NA" if math.isnan(c.rho) else f"{c.rho:+.4f}"
        lines.append(f"{c.assay or 'all':<{width}}  {c.n:>6}  {rho}")
    return "\n".join(lines) + "\n"


def write_fitness(run, session, output: Optional[Path], summary: Optional[Path]) -> None:
    """Write ``run`` (a :class:`~dnahnet_core.scoring.fitness.FitnessRun`) to ``output`` (None:
    stdout) as rows arrive, then the counts and correlations to stderr and ``summary``."""
    from tqdm import tqdm

    from dnahnet_core.atomic import atomic_path
    from dnahnet_core.scoring.fitness import STATUSES, correlations

    lib = run.library
    if len(run.accessions) > 1:
        sys.stderr.write(f"dnahnet fitness: warning: the variants name {len(run.accessions)} accessions ({', '.join(run.accessions[:3])}); "
                         f"all are applied to record {run.target.name!r}\n")
    provenance = {"command": command_line(), **session.provenance(), **run.parameters}

    tally: Counter = Counter()
    results = []
    rows = tqdm(run.results, total=len(lib.rows) - run.skip, unit="variant", file=sys.stderr, disable=not sys.stderr.isatty())
    try:
        with output_stream(output) as out:
            out.write(tsv_header(provenance) + "\t".join(COLUMNS) + "\n")
            for res in rows:
                tally[res.status] += 1
                results.append(res)
                out.write(format_row(res))
    finally:
        rows.close()

    parts = [f"{s} {tally[s]}" for s in STATUSES if tally[s]]
    sys.stderr.write(f"dnahnet fitness: {len(results)} variants: {', '.join(parts)}\n")
    corrs = correlations(results) if lib.score_column else []
    if corrs:
        sys.stderr.write(correlation_table(corrs))
    if summary is not None:
        doc = {
            "provenance": provenance,
            "variants": len(results),
            "statuses": {s: tally[s] for s in STATUSES if tally[s]},
            "wt_ll": next((r.wt_ll for r in results if r.wt_ll is not None), None),
            "spearman": [{"assay": c.assay or None, "n": c.n, "rho": None if math.isnan(c.rho) else c.rho} for c in corrs],
        }
        with atomic_path(summary) as tmp:
            tmp.write_text(json.dumps(doc, indent=2) + "\n")
