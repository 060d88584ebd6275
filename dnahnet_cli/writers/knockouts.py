"""The essentiality TSV: one row per CDS of a :class:`~dnahnet_core.scoring.essentiality.KnockoutRun`,
after '#' provenance lines, to a file (resumable, committed at the run's chunk boundaries) or stdout.

The essential column follows one of two rules. ``threshold``: 1 where score >= THRESHOLD, so every
row is final as it is written (streamed, also on stdout). ``fraction`` (the default): the top
FRACTION of scored genes by score, which needs every score: a file fills as genes are scored and is
rewritten with its essential column when the run ends; stdout gets all rows at the end. The progress
record keeps every finished row at full precision, so a resumed run ranks exactly the same scores.
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from dnahnet_core.atomic import atomic_path

from ..common import tsv_header
from ..resumable import ResumableOutput, file_identity, keep_committed_on_interrupt

if TYPE_CHECKING:
    from dnahnet_core.scoring.essentiality import GeneScore, KnockoutRun

COLUMNS = ["gene_id", "locus_tag", "gene_name", "chrom", "start", "end", "strand",
           "wt_ll", "ko_ll", "score", "essential", "status"]


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6f}"
    return str(value).replace("\t", " ").replace("\n", " ")


def format_row(s: GeneScore) -> str:
    g = s.gene
    # Output coordinates are GFF-style: 1-based, inclusive end (start0 + 1 .. end0).
    values = [g.gene_id, g.locus_tag, g.gene_name, g.chrom, g.start0 + 1, g.end0, g.strand,
              s.wt_ll, s.ko_ll, s.score, s.essential, s.status]
    return "\t".join(_cell(v) for v in values) + "\n"


def essential_rule(fraction: float, threshold: float | None) -> str:
    """The essential column's rule, as its provenance line says it."""
    if threshold is not None:
        return f"1 where score >= {threshold}, else 0; skipped genes empty"
    return (f"top {fraction * 100:g}% of scored genes by score (k = round(fraction * n_scored); ties at the cut "
            f"included) get 1, the rest 0; skipped genes empty; filled in when the run completes")


class KnockoutWriter:
    """Writes one run's TSV: ``open`` (rank 0, after the recipe has read its inputs: a bad input
    leaves an interrupted run's partial output as it was), then ``write``."""

    def __init__(self, output: Path | None, fraction: float = 0.2, threshold: float | None = None,
                 resume: bool = False) -> None:
        self.output, self.fraction, self.threshold, self.resume = output, fraction, threshold, resume
        self.out: ResumableOutput | None = None

    def key(self, run: KnockoutRun, model_sha256: str) -> dict[str, object]:
        """What makes two runs write the same file: inputs, model, protocol and the essential rule."""
        return {"command": "essentiality", "genome": file_identity(run.genome_path), "annotation": file_identity(run.annotation.path),
                "model": model_sha256, **asdict(run.config), "fraction": self.fraction, "threshold": self.threshold}

    def open(self, run: KnockoutRun, model_sha256: str) -> None:
        """Open the output (a file: resumable; with ``resume``, check that it is the same run) and
        set ``run.skip`` to the genes an interrupted run finished."""
        if self.output is not None:  # stdout: nothing to resume (--resume is ignored there)
            self.out = ResumableOutput(self.output, self.key(run, model_sha256), self.resume)
        run.skip = self.out.done if self.out is not None else 0

    def write(self, run: KnockoutRun, head: Mapping[str, object]) -> list[GeneScore]:
        """Write every row of ``run`` after the provenance lines (``head``: command and model, then
        the run's parameters and the essential rule); returns all rows, finished ones included."""
        from tqdm import tqdm

        from dnahnet_core.scoring.essentiality import GeneScore, assign_essential

        out, done, chunk, threshold = self.out, run.skip, run.chunk, self.threshold
        provenance = {**head, **run.parameters, "essential_rule": essential_rule(self.fraction, threshold)}
        header = tsv_header(provenance) + "\t".join(COLUMNS) + "\n"
        streaming_final = threshold is not None  # rows are final when written
        # Genes finished before an interruption, with full-precision values from the progress record.
        rows = [GeneScore(gene, *values) for gene, values in zip(run.genes, out.extra.get("rows", []) if out else [])]
        bar = tqdm(run.results, total=len(run.genes), initial=done, unit="gene", file=sys.stderr,
                   disable=not sys.stderr.isatty())
        try:
            with keep_committed_on_interrupt(out):
                if out is not None:
                    if not done:
                        out.write(header)
                        out.commit(0, {"rows": []})
                    for s in bar:
                        if streaming_final:
                            assign_essential([s], threshold=threshold)
                        rows.append(s)
                        out.write(format_row(s))
                        if (len(rows) - done) % chunk == 0:  # chunk boundaries: a resumed run batches alike
                            out.commit(len(rows), {"rows": [[r.status, r.wt_ll, r.ko_ll, r.score, r.essential] for r in rows]})
                    if streaming_final:
                        out.finish()
                    else:
                        assign_essential(rows, fraction=self.fraction)

                        def with_essential(partial: Path, final: Path) -> None:
                            with atomic_path(final) as tmp:  # the streamed rows, now with their essential column
                                tmp.write_text(header + "".join(format_row(s) for s in rows))

                        out.finish(with_essential)
                elif streaming_final:
                    sys.stdout.write(header)
                    for s in bar:
                        assign_essential([s], threshold=threshold)
                        rows.append(s)
                        sys.stdout.write(format_row(s))
                        sys.stdout.flush()
                else:
                    rows = list(bar)
                    assign_essential(rows, fraction=self.fraction)
                    sys.stdout.write(header + "".join(format_row(s) for s in rows))
                    sys.stdout.flush()
        finally:
            bar.close()
        return rows
