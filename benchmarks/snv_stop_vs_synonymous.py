"""Zero-shot sanity check: does the LLR from `dnahnet score-vcf` separate stop-gained SNVs from
synonymous ones? (Model card quality bar; the order-k Markov chain is the baseline.)

Two steps, so the slow one is the real command-line tool:

    # 1. every SNV of the internal codons of N annotated genes -> VCF + class table
    python benchmarks/snv_stop_vs_synonymous.py make GENOME.fa GENES.gff3 --genes 300 --per-class 3000 --out snv/
    # 2. score it with the tool itself
    dnahnet score-vcf snv/snvs.vcf --reference GENOME.fa --format tsv > snv/llr.tsv
    # 3. AUROC of the model's LLR and of the Markov LLR (counted on the training genomes)
    python benchmarks/snv_stop_vs_synonymous.py evaluate snv/ --llr snv/llr.tsv --corpus ../shared/corpus

Classes follow the bacterial genetic code (NCBI table 11) read 5'->3' along the gene; SNVs in the
start and stop codons are left out (start-lost / stop-lost are other questions). AUROC is the
probability that a synonymous SNV has a higher LLR than a stop-gained one (ties count half): 0.5 is
chance. Only the two compared classes are written when ``--classes`` says so (the default), which
gives the same AUROC as scoring every SNV and filtering afterwards, at a fraction of the cost.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from Bio.Data.CodonTable import unambiguous_dna_by_id

from dnahnet_core.data.annotation import read_annotation
from dnahnet_core.data.fasta import read_fasta
from dnahnet_core.vocab import reverse_complement_ids

sys.path.insert(0, str(Path(__file__).parent))
from markov_baseline import count, kmer_codes  # noqa: E402

BASES = "ACGT"
COMPLEMENT = str.maketrans("ACGT", "TGCA")


def classify(codon: str, alt_codon: str, table) -> str:
    stops = set(table.stop_codons)
    if alt_codon in stops:
        return "stop_gained"
    if codon in stops:
        return "stop_lost"
    return "synonymous" if table.forward_table[codon] == table.forward_table[alt_codon] else "missense"


def make(args: argparse.Namespace) -> None:
    table = unambiguous_dna_by_id[11]
    contigs = {r.name: "".join("ACGTN"[i] for i in r.ids.tolist()) for r in read_fasta(args.genome)}
    genes = [g for g in read_annotation(args.annotation).genes
             if g.n_parts == 1 and g.chrom in contigs and (g.end0 - g.start0) % 3 == 0 and g.end0 - g.start0 >= 90]
    rng = np.random.default_rng(args.seed)
    picked = sorted((genes[i] for i in rng.choice(len(genes), size=min(args.genes, len(genes)), replace=False)),
                    key=lambda g: (g.chrom, g.start0))
    keep = set(args.classes.split(",")) if args.classes != "all" else None
    rows = []
    for gene in picked:
        seq = contigs[gene.chrom][gene.start0 : gene.end0]
        cds = seq if gene.strand == "+" else seq[::-1].translate(COMPLEMENT)
        if "N" in cds:
            continue
        for c in range(3, len(cds) - 3, 3):  # internal codons only
            codon = cds[c : c + 3]
            for offset in range(3):
                for alt in BASES:
                    if alt == codon[offset]:
                        continue
                    alt_codon = codon[:offset] + alt + codon[offset + 1 :]
                    cls = classify(codon, alt_codon, table)
                    if keep is not None and cls not in keep:
                        continue
                    cds_pos = c + offset  # 0-based along the gene
                    g0 = gene.start0 + cds_pos if gene.strand == "+" else gene.end0 - 1 - cds_pos
                    ref_g = contigs[gene.chrom][g0]
                    alt_g = alt if gene.strand == "+" else alt.translate(COMPLEMENT)
                    rows.append({"chrom": gene.chrom, "pos": g0 + 1, "ref": ref_g, "alt": alt_g, "gene": gene.gene_id,
                                 "strand": gene.strand, "codon_position": offset + 1, "effect": cls})
    df = pd.DataFrame(rows)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    df.to_csv(out / "enumerated.tsv", sep="\t", index=False)
    enumerated = df["effect"].value_counts().to_dict()
    if args.per_class:
        # A uniform random sample per class estimates the AUROC over every SNV without bias.
        df = pd.concat([g.sample(n=min(args.per_class, len(g)), random_state=args.seed) for _, g in df.groupby("effect")])
    df = df.sort_values(["chrom", "pos", "alt"], kind="stable")
    df.to_csv(out / "classes.tsv", sep="\t", index=False)
    with open(out / "snvs.vcf", "w") as f:
        f.write("##fileformat=VCFv4.2\n")
        f.write(f"##reference=file://{Path(args.genome).resolve()}\n")
        for name, seq in contigs.items():
            f.write(f"##contig=<ID={name},length={len(seq)}>\n")
        f.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        for r in df.itertuples(index=False):
            f.write(f"{r.chrom}\t{r.pos}\t{r.gene}:{r.codon_position}:{r.effect}\t{r.ref}\t{r.alt}\t.\t.\t.\n")
    summary = {"genes": len(picked), "enumerated_by_class": enumerated, "snvs_written": len(df),
               "written_by_class": df["effect"].value_counts().to_dict(), "per_class_sample": args.per_class}
    (out / "make.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary), file=sys.stderr)


def markov_log_probs(corpus: Path, k: int, alpha: float) -> np.ndarray:
    """log P(next base | last k bases) counted on the corpus's `train` genomes, additive smoothing
    alpha; indexed by the (k+1)-mer code of kmer_codes."""
    manifest = pd.read_csv(corpus / "MANIFEST.tsv", sep="\t")
    train = [r.ids for f in manifest[manifest.split == "train"].file for r in read_fasta(corpus / f)]
    table = count(train, k).reshape(-1, 4).astype(np.float64)
    return np.log((table + alpha) / (table.sum(1, keepdims=True) + 4 * alpha)).reshape(-1)


def markov_llr(df: pd.DataFrame, contigs: dict[str, np.ndarray], logp: np.ndarray, k: int) -> np.ndarray:
    """LL(alt) - LL(ref) under the Markov chain, both strands averaged (as score-vcf does).

    Only the (k+1)-mers that contain the variant differ, so a 2k+1 window around it is exact."""
    out = np.empty(len(df))
    for i, r in enumerate(df.itertuples(index=False)):
        ids = contigs[r.chrom]
        p = r.pos - 1
        lo, hi = max(0, p - k), min(len(ids), p + k + 1)
        ref = ids[lo:hi].astype(np.int64)
        alt = ref.copy()
        alt[p - lo] = BASES.index(r.alt)
        total = 0.0
        for strand in (lambda x: x, reverse_complement_ids):
            for sign, seq in ((1.0, alt), (-1.0, ref)):
                code, ok = kmer_codes(strand(seq), k)
                total += sign * float(logp[code[ok]].sum())
        out[i] = total / 2
    return out


def auroc(negative_class_scores: np.ndarray, positive_class_scores: np.ndarray) -> float:
    """P(score of a synonymous SNV > score of a stop-gained SNV), ties half (Mann-Whitney U)."""
    both = np.concatenate([negative_class_scores, positive_class_scores])
    ranks = pd.Series(both).rank(method="average").to_numpy()
    n_syn = len(negative_class_scores)
    u = ranks[:n_syn].sum() - n_syn * (n_syn + 1) / 2
    return float(u / (n_syn * len(positive_class_scores)))


def evaluate(args: argparse.Namespace) -> None:
    out = Path(args.dir)
    classes = pd.read_csv(out / "classes.tsv", sep="\t", dtype={"chrom": str})
    llr = pd.read_csv(args.llr, sep="\t", comment="#", dtype={"chrom": str})
    llr = llr[llr["status"] == "ok"]
    df = classes.merge(llr[["chrom", "pos", "alt", "llr"]], on=["chrom", "pos", "alt"], how="inner")
    df = df[df["effect"].isin(["synonymous", "stop_gained"])].reset_index(drop=True)

    logp = markov_log_probs(Path(args.corpus), args.k, args.alpha)
    genome = Path(args.genome or next(line.split("file://", 1)[1].strip() for line in open(out / "snvs.vcf") if line.startswith("##reference=")))
    contigs = {r.name: r.ids for r in read_fasta(genome)}
    # The baseline is cheap: score every enumerated SNV once (the scored sample is a subset of
    # them), which also shows whether the sample is representative.
    every = pd.read_csv(out / "enumerated.tsv", sep="\t", dtype={"chrom": str})
    every = every[every["effect"].isin(["synonymous", "stop_gained"])].reset_index(drop=True)
    every["markov_llr"] = markov_llr(every, contigs, logp, args.k)
    # The same SNV can lie in two overlapping genes: the gene is part of the key.
    df = df.merge(every[["chrom", "pos", "alt", "gene", "markov_llr"]], on=["chrom", "pos", "alt", "gene"], how="left")

    syn, stop = df[df["effect"] == "synonymous"], df[df["effect"] == "stop_gained"]
    result = {
        "snvs_scored": len(df), "synonymous": len(syn), "stop_gained": len(stop),
        "genes": int(df["gene"].nunique()),
        "model_auroc": auroc(syn["llr"].to_numpy(), stop["llr"].to_numpy()),
        "markov_auroc": auroc(syn["markov_llr"].to_numpy(), stop["markov_llr"].to_numpy()),
        "markov_auroc_every_snv": auroc(every.loc[every["effect"] == "synonymous", "markov_llr"].to_numpy(),
                                        every.loc[every["effect"] == "stop_gained", "markov_llr"].to_numpy()),
        "every_snv": len(every),
        "markov_k": args.k,
        "median_llr": {"synonymous": float(syn["llr"].median()), "stop_gained": float(stop["llr"].median())},
        "median_markov_llr": {"synonymous": float(syn["markov_llr"].median()), "stop_gained": float(stop["markov_llr"].median())},
    }
    df.to_csv(out / "scored.tsv", sep="\t", index=False)
    (out / "auroc.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make", help="write every SNV of N genes as a VCF plus their classes")
    m.add_argument("genome")
    m.add_argument("annotation")
    m.add_argument("--genes", type=int, default=200)
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--classes", default="synonymous,stop_gained", help="comma list, or 'all'")
    m.add_argument("--per-class", type=int, default=0, help="score a uniform random sample of this many SNVs per class (0: all)")
    m.add_argument("--out", required=True)
    e = sub.add_parser("evaluate", help="AUROC of the model LLR and the Markov LLR")
    e.add_argument("dir")
    e.add_argument("--llr", required=True, help="score-vcf --format tsv output")
    e.add_argument("--corpus", default="../shared/corpus")
    e.add_argument("--genome", help="default: the VCF's ##reference")
    e.add_argument("-k", type=int, default=7)
    e.add_argument("--alpha", type=float, default=1.0)
    args = ap.parse_args()
    make(args) if args.cmd == "make" else evaluate(args)


if __name__ == "__main__":
    main()
