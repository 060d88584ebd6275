"""Scoring v2, knockouts and sequence scoring: new defaults against today's, side by side in one
process (halves interleaved, so load from other processes hits both alike).

* essentiality: genes/s of the local protocol (wild type once per block as a carried state, each
  knockout only its suffix) against the centred 8,192-nt windows, on ``--genes`` genes of a
  validation genome; the control is the Spearman correlation of the two protocols' scores.
* score: bp/s and bits per base of ``--bases`` bases of the genome with tiles of 8,192 nt every
  ``--new-stride`` bases against every 4,096 (today: each base computed twice).

    python benchmarks/bench_scoring_v2.py --json benchmarks/results_scoring_v2.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from dnahnet_core.data.annotation import read_annotation
from dnahnet_core.data.fasta import FastaRecord, read_fasta
from dnahnet_core.scoring.engine import LikelihoodEngine
from dnahnet_core.scoring.essentiality import KnockoutConfig, score_genes
from dnahnet_core.scoring.model_io import open_model
from dnahnet_core.scoring.sequences import score_record

CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus"


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--genome", default=str(CORPUS / "Roseobacter_denitrificans_OCh_114.fa.gz"))
    ap.add_argument("--annotation", default=str(CORPUS / "annotation" / "Roseobacter_denitrificans_OCh_114.gff3"))
    ap.add_argument("--model", default=None)
    ap.add_argument("--genes", type=int, default=48)
    ap.add_argument("--bases", type=int, default=131_072)
    ap.add_argument("--new-stride", type=int, default=7680)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--parts", nargs="+", default=["essentiality", "score"], choices=["essentiality", "score"])
    ap.add_argument("--json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    loaded = open_model(args.model, device="cpu")
    engine = LikelihoodEngine(loaded.model, "cpu", batch_size=args.batch_size)
    genomes = {r.name: r.ids for r in read_fasta(args.genome)}
    ann = read_annotation(args.annotation)
    out: dict = {"model": loaded.name, "model_sha256": loaded.sha256, "genome": Path(args.genome).name,
                 "threads": args.threads, "command": " ".join(sys.argv)}

    if "essentiality" in args.parts:
        essentiality_part(args, engine, genomes, ann, out)
    if "score" in args.parts:
        score_part(args, engine, genomes, out)
    if args.json:
        previous = json.loads(Path(args.json).read_text()) if Path(args.json).is_file() else {}
        Path(args.json).write_text(json.dumps({**previous, **out}, indent=1) + "\n")


def essentiality_part(args, engine, genomes, ann, out) -> None:
    genes = [g for g in ann.genes if g.n_parts == 1 and g.chrom in genomes][100 : 100 + args.genes]
    old, new = KnockoutConfig(protocol="centred"), KnockoutConfig(protocol="local")
    half = len(genes) // 2
    scores = {"old": [], "new": []}
    seconds = {"old": 0.0, "new": 0.0}
    for part in (genes[:half], genes[half:]):
        for name, cfg in (("old", old), ("new", new)):
            for i in range(0, len(part), args.batch_size):
                res, t = timed(lambda: score_genes(part[i : i + args.batch_size], genomes, ann.topology, engine, cfg))
                seconds[name] += t
                scores[name] += [r.score if r.status == "ok" else np.nan for r in res]
    a, b = pd.Series(scores["old"]), pd.Series(scores["new"])
    ok = a.notna() & b.notna()
    rho = float(a[ok].rank().corr(b[ok].rank()))
    out["essentiality"] = {"genes": len(genes), "old": "centred 8192", "new": "local C=2048, suffix to gene end + 256",
                           "old_genes_per_s": len(genes) / seconds["old"], "new_genes_per_s": len(genes) / seconds["new"],
                           "ratio": seconds["old"] / seconds["new"], "spearman_old_vs_new": rho, "scored": int(ok.sum())}
    print(json.dumps(out["essentiality"]), flush=True)


def score_part(args, engine, genomes, out) -> None:
    name = next(iter(genomes))
    ids = genomes[name][: args.bases]
    rows = {}
    halves = [FastaRecord(name=name, description="", ids=ids[: args.bases // 2]),
              FastaRecord(name=name, description="", ids=ids[args.bases // 2 :])]
    for stride in (4096, args.new_stride):
        rows[stride] = {"seconds": 0.0, "ll": 0.0, "n": 0}
    for h in halves:
        for stride in (4096, args.new_stride):
            s, t = timed(lambda: score_record(h, engine, 8192, stride, False, False))
            rows[stride]["seconds"] += t
            rows[stride]["ll"] += s.log_likelihood
            rows[stride]["n"] += s.n_scored
    bpb = {k: -v["ll"] / v["n"] / np.log(2) for k, v in rows.items()}
    out["score"] = {"bases": args.bases, "old_stride": 4096, "new_stride": args.new_stride,
                    "old_bp_per_s": args.bases / rows[4096]["seconds"], "new_bp_per_s": args.bases / rows[args.new_stride]["seconds"],
                    "ratio": rows[4096]["seconds"] / rows[args.new_stride]["seconds"],
                    "old_bits_per_base": bpb[4096], "new_bits_per_base": bpb[args.new_stride],
                    "bits_per_base_difference": bpb[args.new_stride] - bpb[4096]}
    print(json.dumps(out["score"]), flush=True)


if __name__ == "__main__":
    main()
