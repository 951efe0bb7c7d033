#!/usr/bin/env bash
# The whole pipeline on the bundled digits set, offline, on a CPU: original model -> random forget
# set -> retrain reference + FT, NG, SalUn -> table; then memorization scores -> RUM vs Vanilla.
# Usage: scripts/demo.sh [python] [save_dir]
set -euo pipefail
PY=${1:-python3}
DIR=${2:-runs/demo}
N=${DEMO_FORGET:-120}
export TQDM_DISABLE=${TQDM_DISABLE:-}
cd "$(dirname "$0")/.."

phase() { printf '\n== %s\n' "$*"; }

phase "1. original model on digits"
"$PY" main_train.py --dataset digits --save_dir "$DIR"

phase "2. forget $N random training examples: retrain reference, FT, NG, SalUn"
for m in retrain FT NG SalUn; do
  "$PY" main_forget.py --save_dir "$DIR" --unlearn "$m" --num_indexes_to_replace "$N" --tag demo
done

phase "3. accuracies, MIA and ToW (analysis.py)"
"$PY" analysis.py --save_dir "$DIR" --kind random >/dev/null
"$PY" - "$DIR" <<'PYEOF'
import json, sys
from pathlib import Path
rows = sorted(Path(sys.argv[1]).glob("unlearn/*-demo-*/random_*/s*/metrics.json"))
print(f"{'method':>10} {'forget':>7} {'retain':>7} {'test':>7} {'MIA':>6} {'ToW':>7} {'ToW-MIA':>8} {'RTE':>6}")
for p in rows:
    m = json.loads(p.read_text())
    a = m["accuracy"]
    print(f"{m['method']:>10} {a['forget']:7.2f} {a['retain']:7.2f} {a['test']:7.2f} "
          f"{m['mia']['confidence']:6.3f} {m['tow']:7.4f} {m['tow_mia']:8.4f} {m['rte']:6.2f}")
PYEOF

phase "4. heldout memorization, the confidence proxy against it, then RUM next to Vanilla on a mix forget set"
"$PY" -m memorization estimate --save_dir "$DIR"  # the data set's measured defaults
"$PY" -m memorization proxy --kind confidence --save_dir "$DIR"
"$PY" -m memorization report --save_dir "$DIR"
"$PY" main_rum.py --save_dir "$DIR" --num_indexes_to_replace 90 --variant vanilla --unlearn FT --tag demo
"$PY" main_rum.py --save_dir "$DIR" --num_indexes_to_replace 90 --rum_methods none,FT,SalUn --tag demo

phase "5. summary: every run of this demo (analysis.py; mean over seeds, one seed here)"
"$PY" analysis.py --save_dir "$DIR"
