#!/usr/bin/env bash
# Real-data comparison (not CI): test strict F1 of three settings on ../shared/data/tcm_ner.
#
#   bash bench/real_tcm.sh            # ~30-45 min on a 2-core CPU
#
# Settings: no domain pretraining (finetune.init=base), `token` masking (BERT, p=0.15) and
# `entity` masking (p=0.5). Runs in a fresh clone of the committed HEAD with `dvc exp run`,
# writes bench/results/real_tcm.json ({"<setting>": {"f1": ...}}) and the ablation report
# reports/real_tcm.md (one seed each: the report says so).
#
# CPU profile (same small BERT as the demo default, trained from scratch with a vocabulary
# built on the corpus):
#   tokenize.max_len=256, mask_dupe=5, pretrain.epochs=3, finetune.epochs=20 (defaults
#   for everything else: hidden 128, 2 layers, batch 16, lr 1.5e-3 / 2e-3).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
DATA=$(cd "${DATA:-$REPO/../shared/data/tcm_ner}" && pwd)
PY=${PYTHON:-$REPO/.venv/bin/python}
export PATH="$(dirname "$PY"):$PATH"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
git clone -q "$REPO" "$WORK/repo"
cd "$WORK/repo"

PROFILE=(-S "data.labeled_dir=$DATA/labeled" -S "data.unlabeled_dir=$DATA/unlabeled"
         -S tokenize.max_len=256 -S mask_dupe=5 -S pretrain.epochs=3 -S finetune.epochs=20)
declare -A RESULTS
run() {  # name, then -S overrides; every run sets all varying params explicitly
  local name=$1; shift
  local t0=$SECONDS
  if ! "$PY" -m dvc exp run -n "real-$name" "${PROFILE[@]}" "$@" > "$WORK/$name.log" 2>&1; then
    tail -40 "$WORK/$name.log"; echo "setting $name failed" >&2; exit 1
  fi
  grep -E "Running stage|INFO (evaluate|finetune-ner|pretrain|mask-annotate):" "$WORK/$name.log"
  RESULTS[$name]=$("$PY" -c "import json; print(json.load(open('metrics/eval.json'))['test']['f1'])")
  echo "$name: test F1 ${RESULTS[$name]} ($((SECONDS - t0)) s)"
}
# Order matters for speed only: the no-pretraining run reuses the token run's masked data.
run entity        -S mask_strategy=entity -S mask_prob=0.5 -S finetune.init=pretrained
run token         -S mask_strategy=token  -S mask_prob=0.15 -S finetune.init=pretrained
run no-pretrain   -S mask_strategy=token  -S mask_prob=0.15 -S finetune.init=base

mkdir -p "$REPO/bench/results" "$REPO/reports"
"$PY" - "$REPO/bench/results/real_tcm.json" "${RESULTS[no-pretrain]}" "${RESULTS[token]}" "${RESULTS[entity]}" <<'PY'
import json, sys
out, base, token, entity = sys.argv[1], *map(float, sys.argv[2:])
results = {"no_pretraining": {"f1": base}, "token_masking": {"f1": token},
           "entity_masking_p0.5": {"f1": entity}}
with open(out, "w", encoding="utf-8") as f:
    json.dump(results, f, indent=2, sort_keys=True)
    f.write("\n")
print(json.dumps(results))
PY
"$PY" -m dvc exp show --json > "$WORK/exp.json"
PYTHONPATH="$REPO" "$PY" -m dapt.report --exp-json "$WORK/exp.json" \
  --baseline "finetune.init=base" --out "$REPO/reports/real_tcm.md"
echo "pipeline total $SECONDS s"
