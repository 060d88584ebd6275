#!/usr/bin/env bash
# The hierarchy recipe screen (issue "The hierarchy must carry the prediction"): short CPU runs from
# scratch at equal nucleotides (160 steps x 16,384 nt = 2.6 M nt). Usage, from the repository root:
#   bash benchmarks/screen/run.sh NAME [THREADS]
# then `python benchmarks/hierarchy_screen.py runs/screen/*/final.safetensors` for the table.
set -euo pipefail
name=$1
threads=${2:-2}
corpus=${CORPUS:-../shared/corpus}
common=(--fasta "$corpus" --val-fasta "$corpus/Thermococcus_kodakaraensis_KOD1.fa.gz"
        --val-fasta "$corpus/Roseobacter_denitrificans_OCh_114.fa.gz" --cache runs/train_cache.h5
        --steps 160 --lr 2e-3 --warmup 16 --eval-every 80 --eval-windows 8 --log-every 10
        --save-every 25 --keep-last 1 --device cpu --out "runs/screen/$name")
long=(--batch-size 2 --seq-len 8192)
short=(--batch-size 8 --seq-len 2048)
case $name in
  baseline)      args=(--preset small "${long[@]}") ;;                       # today's recipe
  hnet_init)     args=(--preset small "${long[@]}" --init hnet) ;;
  short_windows) args=(--preset small "${short[@]}" --init hnet) ;;
  balanced)      args=(--preset small "${short[@]}" --init hnet --species-power 0.5) ;;
  flat_lr)       args=(--preset small "${short[@]}" --init hnet --species-power 0.5 --stage-lr 1,1,1) ;;
  slim_outer)    args=(--config benchmarks/screen/slim_outer.json "${short[@]}" --init hnet --species-power 0.5) ;;
  inner_lr)      args=(--preset small "${short[@]}" --init hnet --species-power 0.5 --stage-lr 1,1.5,2) ;;
  # Stage 0 sees only its last 32 nt (windowed attention): everything longer-range must come
  # through the chunking stages.
  local_outer)   args=(--config benchmarks/screen/local_outer.json "${short[@]}" --init hnet --species-power 0.5) ;;
  # The same with stage 0 seeing only 8 or 16 nt: BLT-style local encoder/decoder.
  local8_outer)  args=(--config benchmarks/screen/local8_outer.json "${short[@]}" --init hnet --species-power 0.5) ;;
  local16_outer) args=(--config benchmarks/screen/local16_outer.json "${short[@]}" --init hnet --species-power 0.5) ;;
  # Control: local8_outer with fixed-stride chunks (every 3rd base, every 2nd chunk) instead of the router.
  local8_stride) args=(--config benchmarks/screen/local8_outer.json "${short[@]}" --init hnet --species-power 0.5)
                 mkdir -p "runs/screen/$name"
                 FIXED_STRIDES=96:3,128:2 OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads \
                   exec python benchmarks/screen/fixed_routing.py train "${common[@]}" "${args[@]}" ;;
  # A window's residual paths are dropped with probability 0.5: the decoder must then predict from
  # what the chunking stages hand back.
  resid_drop)    args=(--preset small "${short[@]}" --init hnet --species-power 0.5 --residual-dropout 0.5) ;;
  one_stage)     args=(--config benchmarks/screen/one_stage.json "${short[@]}" --init hnet --species-power 0.5) ;;
  *) echo "unknown run $name" >&2; exit 2 ;;
esac
mkdir -p "runs/screen/$name"
OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads exec dnahnet train "${common[@]}" "${args[@]}"
