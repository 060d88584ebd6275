"""Stage-1 boundary selection rate by codon position inside annotated coding sequence.

Reads the BED written by `dnahnet boundaries` and a GFF3/GenBank annotation; for every base inside
a single-interval CDS, its codon position (1, 2, 3 counted 5'->3' along the gene, so minus-strand
genes count from their end) and whether a stage-1 chunk starts there. The publication saw
6.5% / 42.6% / 58.4% on B. subtilis; no codon structure gives equal rates.

    dnahnet boundaries genome.fa --model M --stage 1 > chunks.bed
    python benchmarks/codon_boundaries.py chunks.bed genes.gff3
"""

from __future__ import annotations

import argparse
import io
import json
from collections import defaultdict

import numpy as np
import pandas as pd

from dnahnet_core.data.annotation import read_annotation


def starts_by_chrom(bed: str, stage: str = "s1") -> tuple[dict[str, np.ndarray], dict[str, int]]:
    with open(bed) as f:  # genome-browser header lines are not BED records
        rows = "".join(line for line in f if not line.startswith(("track", "browser", "#")))
    df = pd.read_csv(io.StringIO(rows), sep="\t", header=None, names=["chrom", "start", "end", "name", "score", "strand"])
    df = df[df["name"] == stage]
    starts, lengths = {}, {}
    for chrom, g in df.groupby("chrom", sort=False):
        lengths[chrom] = int(g["end"].max())
        mask = np.zeros(lengths[chrom], dtype=bool)
        mask[g["start"].to_numpy()] = True
        starts[chrom] = mask
    return starts, lengths


def codon_rates(bed: str, annotation: str) -> dict:
    starts, lengths = starts_by_chrom(bed)
    hits, totals = defaultdict(int), defaultdict(int)
    genome_wide = sum(int(m.sum()) for m in starts.values()) / max(1, sum(lengths.values()))
    n_genes = 0
    for gene in read_annotation(annotation).genes:
        if gene.n_parts != 1 or gene.chrom not in starts or gene.end0 > lengths[gene.chrom]:
            continue
        n_genes += 1
        mask = starts[gene.chrom][gene.start0 : gene.end0]
        if gene.strand == "-":
            # Along a minus-strand gene, its first codon base is the last genomic base: a chunk
            # starting at genomic position j is read on the forward strand, so count positions
            # from the gene's 5' end (its genomic end).
            mask = mask[::-1]
        for pos in range(3):
            sel = mask[pos::3]
            hits[pos + 1] += int(sel.sum())
            totals[pos + 1] += sel.size
    return {
        "genes": n_genes,
        "selection_by_codon_position": {p: hits[p] / max(1, totals[p]) for p in (1, 2, 3)},
        "genome_wide_selection": genome_wide,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bed")
    ap.add_argument("annotation")
    args = ap.parse_args()
    print(json.dumps(codon_rates(args.bed, args.annotation), indent=2))


if __name__ == "__main__":
    main()
