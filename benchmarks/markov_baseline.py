"""Order-k Markov baseline for the model card's quality bar (issue: embedded default model).

Counts (k+1)-mers on the training genomes (both strands, as the model sees them with reverse-
complement augmentation), then reports bits per base on the validation genomes for every k, with
additive smoothing. The smoothing constant and k are chosen on the validation genomes themselves,
which flatters the baseline: a conservative bar for the model to clear.

    python benchmarks/markov_baseline.py --corpus ../shared/corpus --max-k 11 \
        --alphas 0.1,1,10,50,100,200,500,1000,2000,5000,10000
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from dnahnet_core.data.fasta import read_fasta
from dnahnet_core.vocab import N, reverse_complement_ids


def kmer_codes(ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """For each position t >= k: base-4 code of ids[t-k..t] and whether all k+1 bases are ACGT."""
    ids = ids.astype(np.int64)
    valid_base = ids < N
    clean = np.where(valid_base, ids, 0)
    n = len(ids) - k
    if n <= 0:
        return np.zeros(0, np.int64), np.zeros(0, bool)
    code = np.zeros(n, dtype=np.int64)
    ok = np.ones(n, dtype=bool)
    for j in range(k + 1):
        code = code * 4 + clean[j : j + n]
        ok &= valid_base[j : j + n]
    return code, ok


def count(genomes: list[np.ndarray], k: int) -> np.ndarray:
    counts = np.zeros(4 ** (k + 1), dtype=np.int64)
    for ids in genomes:
        for strand in (ids, reverse_complement_ids(ids)):
            code, ok = kmer_codes(strand, k)
            counts += np.bincount(code[ok], minlength=counts.size)
    return counts


def bits_per_base(counts: np.ndarray, genomes: list[np.ndarray], k: int, alpha: float) -> tuple[float, int]:
    table = counts.reshape(-1, 4).astype(np.float64)
    logp = np.log2((table + alpha) / (table.sum(1, keepdims=True) + 4 * alpha)).reshape(-1)
    total, n = 0.0, 0
    for ids in genomes:
        code, ok = kmer_codes(ids, k)
        total -= float(logp[code[ok]].sum())
        n += int(ok.sum())
    return total / n, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=Path("../shared/corpus"))
    ap.add_argument("--max-k", type=int, default=12)
    # Heavy smoothing matters here: the val genomes' composition differs from training's, and a
    # large alpha pulls every context's prediction towards uniform.
    ap.add_argument("--alphas", default="0.1,1,10,50,100,200,500,1000,2000,5000,10000")
    ap.add_argument("--json", type=Path, help="write the table here too")
    ap.add_argument("--per-genome", type=int, metavar="K", help="only report order K per validation genome (smoothing: the first of --alphas)")
    args = ap.parse_args()
    manifest = pd.read_csv(args.corpus / "MANIFEST.tsv", sep="\t")
    load = lambda split: [r.ids for f in manifest[manifest.split == split].file for r in read_fasta(args.corpus / f)]  # noqa: E731
    train, val = load("train"), load("val")
    if args.per_genome is not None:
        counts = count(train, args.per_genome)
        alpha = float(args.alphas.split(",")[0])
        for f in manifest[manifest.split == "val"].file:
            bpb, n = bits_per_base(counts, [r.ids for r in read_fasta(args.corpus / f)], args.per_genome, alpha)
            print(f"{f}\tk={args.per_genome}\talpha={alpha:g}\t{bpb:.4f} bits/base over {n:,} bases")
        return
    print(f"train {sum(map(len, train)):,} nt in {len(train)} records; val {sum(map(len, val)):,} nt", file=sys.stderr)
    rows = []
    for k in range(args.max_k + 1):
        counts = count(train, k)
        for alpha in map(float, args.alphas.split(",")):
            bpb, n = bits_per_base(counts, val, k, alpha)
            rows.append({"k": k, "alpha": alpha, "val_bits_per_base": bpb, "n_scored": n})
        best = min((r for r in rows if r["k"] == k), key=lambda r: r["val_bits_per_base"])
        print(f"k={k:2d}  best alpha {best['alpha']:<5}  val bpb {best['val_bits_per_base']:.4f}", file=sys.stderr, flush=True)
    best = min(rows, key=lambda r: r["val_bits_per_base"])
    print(json.dumps({"best": best, "uniform_bpb": 2.0, "entropy_note": "bits per base over A/C/G/T targets, forward strand of the val genomes"}))
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "best": best}, indent=2))


if __name__ == "__main__":
    main()
