#!/usr/bin/env bash
# The retrain of the embedded model with the screen's recipe (benchmarks/README.md, "Hierarchy
# recipe screen"): H-Net initialisation, 8 x 2,048-nt windows per step, species-balanced windows
# (power 0.5); 2,800 steps x 16,384 nt = 45.9 M nucleotides (3.1x the current model's 14.7 M).
# Resumable: run the same command again after an interruption. Usage: bash benchmarks/retrain_small_prok_v2.sh [THREADS]
set -euo pipefail
corpus=${CORPUS:-../shared/corpus}
threads=${1:-2}
OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads exec dnahnet train --fasta "$corpus" \
  --val-fasta "$corpus/Thermococcus_kodakaraensis_KOD1.fa.gz" --val-fasta "$corpus/Roseobacter_denitrificans_OCh_114.fa.gz" \
  --cache runs/train_cache.h5 --preset small --init hnet --species-power 0.5 \
  --steps 2800 --batch-size 8 --seq-len 2048 --lr 2e-3 --warmup 100 \
  --eval-every 200 --eval-windows 16 --log-every 10 --save-every 25 --keep-last 2 \
  --device cpu --out runs/small-prok-v2
