"""Scoring v2, variants: the local protocol (cached reference, allele + D downstream bases) against
today's default (centred 8,192-nt windows), side by side in one process.

1. Speed on a dense VCF: every SNV of ``--genes`` genes of a validation genome (all classes).
   The old protocol scores the first ``--old-variants`` of them (it takes seconds per SNV), the new
   one the first ``--new-variants``; each in the chunks of records `score-vcf` hands it (64 and
   256), both strands, same engine. Reported: variants per second and their ratio.
2. Accuracy: AUROC of stop-gained vs synonymous and of missense vs synonymous SNVs (a uniform sample
   of ``--per-class`` SNVs per class from ``--auroc-genes`` genes, bacterial code) for each D in
   ``--downstream`` and for the centred protocol at ``--centred-window`` (128 by default: the
   window of the recorded baseline; 8,192 costs hours here).

    python benchmarks/bench_variant_protocol.py --json benchmarks/results_variant_protocol.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).parent))
import snv_stop_vs_synonymous as snv  # noqa: E402

from dnahnet_core.data.fasta import read_fasta  # noqa: E402
from dnahnet_core.scoring.engine import LikelihoodEngine  # noqa: E402
from dnahnet_core.scoring.local_variants import LocalVariantScorer  # noqa: E402
from dnahnet_core.scoring.model_io import open_model  # noqa: E402
from dnahnet_core.scoring.variants import ReferenceGenome, Variant, VariantScorer  # noqa: E402

CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus"


def enumerate_snvs(genome: Path, annotation: Path, genes: int, per_class: int, classes: str, seed: int) -> pd.DataFrame:
    with tempfile.TemporaryDirectory() as d:
        snv.make(argparse.Namespace(genome=str(genome), annotation=str(annotation), genes=genes, seed=seed,
                                    classes=classes, per_class=per_class, out=d))
        return pd.read_csv(Path(d) / "classes.tsv", sep="\t", dtype={"chrom": str})


def variants(df: pd.DataFrame) -> list[Variant]:
    return [Variant(r.chrom, int(r.pos), f"{r.gene}:{r.effect}", r.ref, (r.alt,)) for r in df.itertuples(index=False)]


def run(scorer, vs: list[Variant]) -> tuple[np.ndarray, float]:
    t0 = time.perf_counter()
    llr = []
    for i in range(0, len(vs), scorer.chunk):  # the records per call score-vcf uses
        llr += [res.alleles[0].llr for res in scorer.score(vs[i : i + scorer.chunk])]
    return np.array(llr, dtype=np.float64), time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--genome", default=str(CORPUS / "Roseobacter_denitrificans_OCh_114.fa.gz"))
    ap.add_argument("--annotation", default=str(CORPUS / "annotation" / "Roseobacter_denitrificans_OCh_114.gff3"))
    ap.add_argument("--model", default=None, help="checkpoint (default: the embedded model)")
    ap.add_argument("--genes", type=int, default=50)
    ap.add_argument("--old-variants", type=int, default=48)
    ap.add_argument("--new-variants", type=int, default=3000)
    ap.add_argument("--auroc-genes", type=int, default=300)
    ap.add_argument("--per-class", type=int, default=1000)
    ap.add_argument("--downstream", type=int, nargs="+", default=[16, 32, 64, 256])
    ap.add_argument("--speed-downstream", type=int, default=32, help="D of the new protocol in the speed part (score-vcf's default)")
    ap.add_argument("--left-context", type=int, default=2048)
    ap.add_argument("--centred-window", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--classes", default="synonymous,missense,stop_gained", help="SNV classes of the AUROC sample")
    ap.add_argument("--skip-speed", action="store_true", help="only the AUROC part (e.g. the centred 8,192-nt arm on a small sample)")
    ap.add_argument("--markov-k", type=int, default=0, help="also the AUROCs of an order-k Markov LLR counted on the corpus's train genomes (the control; 0 = skip)")
    ap.add_argument("--markov-alpha", type=float, default=1.0)
    ap.add_argument("--corpus", default=str(CORPUS))
    ap.add_argument("--json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    loaded = open_model(args.model, device="cpu")
    engine = LikelihoodEngine(loaded.model, "cpu", batch_size=args.batch_size)
    genome = ReferenceGenome.from_fasta(args.genome)
    out: dict = {"model": loaded.name, "model_sha256": loaded.sha256, "genome": Path(args.genome).name, "threads": args.threads,
                 "command": " ".join(sys.argv)}

    if args.skip_speed:
        auroc_part(args, engine, genome, out)
        return
    dense = enumerate_snvs(Path(args.genome), Path(args.annotation), args.genes, 0, "all", seed=1)
    vs = variants(dense)
    old = VariantScorer(engine, genome, window=8192, strands="both")
    new = LocalVariantScorer(engine, genome, window=8192, strands="both", left_context=args.left_context, downstream=args.speed_downstream)
    # interleaved halves, so load from other processes hits both alike
    h_old, h_new = args.old_variants // 2, args.new_variants // 2
    _, t_old1 = run(old, vs[:h_old])
    _, t_new1 = run(new, vs[:h_new])
    _, t_old2 = run(old, vs[h_old : 2 * h_old])
    _, t_new2 = run(new, vs[h_new : 2 * h_new])
    rate_old, rate_new = 2 * h_old / (t_old1 + t_old2), 2 * h_new / (t_new1 + t_new2)
    out["speed"] = {"dense_vcf": f"every SNV of {args.genes} genes ({len(vs)} SNVs)", "old": "centred 8192, both strands",
                    "new": f"local C={args.left_context} D={args.speed_downstream}, both strands", "old_variants": 2 * h_old, "new_variants": 2 * h_new,
                    "old_variants_per_s": rate_old, "new_variants_per_s": rate_new, "ratio": rate_new / rate_old,
                    "dense_vcf_hours_old": len(vs) / rate_old / 3600, "dense_vcf_minutes_new": len(vs) / rate_new / 60}
    print(json.dumps(out["speed"]), flush=True)
    auroc_part(args, engine, genome, out)


def auroc_part(args: argparse.Namespace, engine: LikelihoodEngine, genome: ReferenceGenome, out: dict) -> None:
    """AUROC of every arm on one sample of SNVs (the same variants for every arm)."""
    sample = enumerate_snvs(Path(args.genome), Path(args.annotation), args.auroc_genes, args.per_class, args.classes, seed=0)
    sv = variants(sample)
    effect = sample["effect"].to_numpy()
    arms = {f"local D={d}": LocalVariantScorer(engine, genome, window=8192, strands="both", left_context=args.left_context, downstream=d)
            for d in args.downstream}
    arms[f"centred W={args.centred_window}"] = VariantScorer(engine, genome, window=args.centred_window, strands="both")
    out["auroc"] = {"snvs": {k: int(v) for k, v in sample["effect"].value_counts().items()}, "genes": args.auroc_genes, "arms": {}}
    for name, scorer in arms.items():
        llr, seconds = run(scorer, sv)
        syn = llr[effect == "synonymous"]
        row = {"stop_vs_synonymous": snv.auroc(syn, llr[effect == "stop_gained"]),
               "missense_vs_synonymous": snv.auroc(syn, llr[effect == "missense"]) if (effect == "missense").any() else None,
               "variants_per_s": len(sv) / seconds}
        out["auroc"]["arms"][name] = row
        print(name, json.dumps(row), flush=True)
    if args.markov_k:
        out["auroc"]["markov"] = markov_aurocs(args, sample, effect)
        print(f"markov k={args.markov_k}", json.dumps(out["auroc"]["markov"]), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")


def markov_aurocs(args: argparse.Namespace, sample: pd.DataFrame, effect: np.ndarray) -> dict:
    """The control: the same AUROCs from an order-k Markov chain's LLR (both strands averaged)."""
    logp = snv.markov_log_probs(Path(args.corpus), args.markov_k, args.markov_alpha)
    contigs = {r.name: r.ids for r in read_fasta(args.genome)}
    llr = snv.markov_llr(sample, contigs, logp, args.markov_k)
    syn = llr[effect == "synonymous"]
    return {"k": args.markov_k, "alpha": args.markov_alpha,
            "stop_vs_synonymous": snv.auroc(syn, llr[effect == "stop_gained"]),
            "missense_vs_synonymous": snv.auroc(syn, llr[effect == "missense"]) if (effect == "missense").any() else None}


if __name__ == "__main__":
    main()
