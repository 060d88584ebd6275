"""Is an excess of stage-1 chunk starts at a codon position more than local composition? The
frame-free control at increasing context: P(chunk start | the last k bases) for k = 3..6, fitted on
both readings of the same bases with no regard to genes or frame (`dnahnet_core.diagnostics`).
An excess that survives a longer frame-free context is a frame effect; one that shrinks towards 0
is composition.

    python benchmarks/codon_control_k.py CHECKPOINT [CHECKPOINT ...] --json results.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dnahnet_core.checkpoint import load_model
from dnahnet_core.data.annotation import read_annotation
from dnahnet_core.data.fasta import read_fasta
from dnahnet_core.diagnostics import codon_phasing, stage1_starts_both_readings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoints", nargs="+", type=Path)
    ap.add_argument("--corpus", type=Path, default=Path("../shared/corpus"))
    ap.add_argument("--genome", default="Roseobacter_denitrificans_OCh_114")
    ap.add_argument("--bp", type=int, default=1_000_000)
    ap.add_argument("--k", type=int, nargs="+", default=[3, 4, 5, 6])
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    record = next(read_fasta(args.corpus / f"{args.genome}.fa.gz"))
    ids = record.ids[: args.bp]
    genes = [(g.start0, g.end0, g.strand) for g in read_annotation(args.corpus / "annotation" / f"{args.genome}.gff3").genes
             if g.n_parts == 1 and g.chrom == record.name and g.end0 <= args.bp and g.strand in "+-"]
    rows = []
    for ckpt in args.checkpoints:
        # The boundaries once per checkpoint; only the control's context k varies.
        forward, reverse = stage1_starts_both_readings(load_model(ckpt, device="cpu").eval(), ids)
        for k in args.k:
            ph = codon_phasing(ids, forward, reverse, genes, k=k)
            row = {"checkpoint": str(ckpt), "k": k, "excess": {st.strand: st.excess for st in ph.strands},
                   "observed": {st.strand: st.observed for st in ph.strands}, "control": {st.strand: st.control for st in ph.strands}}
            rows.append(row)
            print(f"{ckpt}  k={k}: excess pos 1/2/3 " + "; ".join(
                f"{s} " + " ".join(f"{100 * e:+.1f}" for e in row["excess"][s]) for s in ("+", "-")), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
