"""Throughput of the four zero-shot commands' core routines on a real bacterial genome.

bp/s for sequence scoring and boundaries, variants/s for VCF scoring (SNVs, both strands, default
8,192-nt windows), genes/s for in-silico knockouts (8,192-nt windows). All in one process.

    python benchmarks/bench_scoring.py --model runs/x/final.safetensors \
        --genome ../shared/corpus/Roseobacter_denitrificans_OCh_114.fa.gz \
        --annotation ../shared/corpus/annotation/Roseobacter_denitrificans_OCh_114.gff3
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from dnahnet_core.data.annotation import read_annotation
from dnahnet_core.data.fasta import FastaRecord, read_fasta
from dnahnet_core.scoring.boundaries import record_boundaries
from dnahnet_core.scoring.engine import LikelihoodEngine, resolve_device
from dnahnet_core.scoring.essentiality import KnockoutConfig, score_genes
from dnahnet_core.scoring.model_io import open_model
from dnahnet_core.scoring.sequences import score_record
from dnahnet_core.scoring.variants import ReferenceGenome, Variant, VariantScorer
from dnahnet_core.vocab import TOKENS


def clock(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--genome", type=Path, required=True)
    ap.add_argument("--annotation", type=Path, required=True)
    ap.add_argument("--bases", type=int, default=262_144, help="genome prefix used for score/boundaries")
    ap.add_argument("--variants", type=int, default=64)
    ap.add_argument("--genes", type=int, default=32)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batch-size", type=int, default=8)
    args = ap.parse_args()
    device = resolve_device(args.device)
    loaded = open_model(args.model, device=str(device))
    engine = LikelihoodEngine(loaded.model, device, batch_size=args.batch_size)
    genome = {r.name: r.ids for r in read_fasta(args.genome)}
    chrom = next(iter(genome))
    prefix = FastaRecord(chrom, "", genome[chrom][: args.bases])
    rows = {"device": str(device), "torch_threads": torch.get_num_threads(), "model": loaded.name,
            "parameters": loaded.model.num_parameters(), "genome": args.genome.name}

    _, t = clock(lambda: score_record(prefix, engine, 8192, 4096, False, False))
    rows["score_bp_per_s"] = len(prefix.ids) / t
    _, t = clock(lambda: record_boundaries(prefix, engine, 8192, 4096))
    rows["boundaries_bp_per_s"] = len(prefix.ids) / t

    rng = np.random.default_rng(0)
    positions = np.sort(rng.choice(np.arange(10_000, len(genome[chrom]) - 10_000), size=args.variants, replace=False))
    variants = []
    for i, p in enumerate(positions):
        ref = TOKENS[int(genome[chrom][p])]
        alt = "ACGT"[("ACGT".index(ref) + 1 + int(rng.integers(3))) % 4]
        variants.append(Variant(chrom=chrom, pos=int(p) + 1, id=f"v{i}", ref=ref, alts=(alt,), number=i))
    scorer = VariantScorer(engine, ReferenceGenome(genome, args.genome), window=8192, strands="both")
    _, t = clock(lambda: scorer.score(variants))
    rows["score_vcf_variants_per_s"] = len(variants) / t

    ann = read_annotation(args.annotation)
    genes = [g for g in ann.genes if g.n_parts == 1][: args.genes]
    _, t = clock(lambda: score_genes(genes, genome, ann.topology, engine, KnockoutConfig()))
    rows["essentiality_genes_per_s"] = len(genes) / t
    print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
