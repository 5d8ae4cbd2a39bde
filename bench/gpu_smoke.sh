#!/usr/bin/env bash
# GPU smoke run (not CI; <= 10 min on one GPU): the real-data profile with a 12-layer/768
# BERT from scratch, max_len 512, precision auto; prints each stage's time, tokens/s and peak
# GPU memory of pretrain and finetune-ner, then one JSON line (python -m bench.gpu_smoke).
#
#   bash bench/gpu_smoke.sh                       # DATA defaults to ../shared/data/tcm_ner
#   DATA=/abs/tcm_ner bash bench/gpu_smoke.sh --out bench/results/gpu_smoke.json
#   bash bench/gpu_smoke.sh scratch.num_hidden_layers=1 pretrain.epochs=1   # overrides
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-$REPO/.venv/bin/python}
DATA=${DATA:-$REPO/../shared/data/tcm_ner}
cd "$REPO"
exec "$PY" -m bench.gpu_smoke --data "$DATA" "$@"
