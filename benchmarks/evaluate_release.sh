#!/usr/bin/env bash
# Every quality-bar number of a candidate embedded model, on the `val` genomes, into one folder:
#   val_scores.tsv / val_scores_2048.tsv  whole-genome bits per base (8,192- and 2,048-nt windows)
#   hierarchy.json                        hierarchy gap per stage, inner network, codon excess over the
#                                         frame-free control per strand (first 1 Mb of R. denitrificans)
#   rose1M.bed, codon.json                stage-1 chunk starts and their rate by codon position
#   snv_auroc.json                        stop-gained / missense vs synonymous AUROC (1,000 SNVs per
#                                         class from 300 genes), next to an order-7 Markov LLR
# Usage: bash benchmarks/evaluate_release.sh CHECKPOINT OUT_DIR [THREADS]   (about 25 min on 2 cores)
set -euo pipefail
ckpt=$1 out=$2 threads=${3:-2}
corpus=${CORPUS:-../shared/corpus}
rose=Roseobacter_denitrificans_OCh_114
export OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
mkdir -p "$out"
step() { echo "[$(date +%H:%M:%S)] $*" >&2; }

step "val.fa"
zcat "$corpus/Thermococcus_kodakaraensis_KOD1.fa.gz" "$corpus/$rose.fa.gz" > "$out/val.fa"
for ctx in 8192 2048; do
  suffix=$([ "$ctx" = 8192 ] && echo "" || echo "_$ctx")
  step "score, context $ctx"
  dnahnet score "$out/val.fa" --model "$ckpt" --context "$ctx" --stride "$ctx" --batch-size 4 --device cpu \
    -o "$out/val_scores$suffix.tsv"
done
step "hierarchy diagnostics"
python benchmarks/hierarchy_screen.py "$ckpt" --corpus "$corpus" --windows 16 --codon-bp 1000000 \
  --json "$out/hierarchy.json" > "$out/hierarchy.md"
step "stage-1 boundaries, first 1 Mb of $rose"
python - "$corpus/$rose.fa.gz" "$out/rose1M.fa" <<'EOF'
import sys
import numpy as np
from dnahnet_core.data.fasta import read_fasta
record = next(read_fasta(sys.argv[1]))
s = "".join(np.array(list("ACGTN"))[record.ids[:1_000_000]])
with open(sys.argv[2], "w") as f:
    f.write(f">{record.name}\n" + "\n".join(s[i:i + 80] for i in range(0, len(s), 80)) + "\n")
EOF
dnahnet boundaries "$out/rose1M.fa" --model "$ckpt" --stage 1 -o "$out/rose1M.bed"
python benchmarks/codon_boundaries.py "$out/rose1M.bed" "$corpus/annotation/$rose.gff3" > "$out/codon.json"
step "SNV AUROC"
python benchmarks/bench_variant_protocol.py --skip-speed --model "$ckpt" --downstream 32 --markov-k 7 \
  --threads "$threads" --json "$out/snv_auroc.json"
step "done"
