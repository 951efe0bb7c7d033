#!/usr/bin/env bash
# The scalability paper's proxy experiment on the embedded data: does a cheap memorization proxy keep
# RUM's gain? For each data set (digits and synthetic unless --dataset is given), over --seeds:
# original model -> the heldout estimate and every proxy file (each records its compute time) ->
# their Spearman with the heldout estimate (python -m memorization report) -> per score K: Vanilla
# and RUM^F of each method on the `--mem mix --mem_proxy K` forget set (scripts/sweep_rum.sh) and
# each method on K's low / mid / high groups (scripts/sweep_mem.sh), `original` included -> the
# "Proxy experiment" section of <root>/results.md (docs/results.md with --write_docs).
# Usage: scripts/proxy_experiment.sh [--dataset digits] [--seeds "1 2 3 4 5"] [-j 2] [--root runs/proxy-experiment] [--methods NG] [--write_docs]
source "$(dirname "$0")/lib.sh"
DATASETS=""; SEEDS="1 2 3 4 5"; ROOT=runs/proxy-experiment; METHODS=NG; N=90; DOCS=""
SCORES="heldout confidence max_conf entropy bi_acc ho_ret curvature"
COMMAND=scripts/proxy_experiment.sh  # as typed, for the section's header
for arg in "$@"; do [[ $arg == *" "* ]] && COMMAND+=" \"$arg\"" || COMMAND+=" $arg"; done
while [ $# -gt 0 ]; do
  case "$1" in
    --dataset) DATASETS+=" $2"; shift 2;;
    --seeds) SEEDS=$2; shift 2;;
    -j|--jobs) JOBS=$2; shift 2;;
    --root) ROOT=$2; shift 2;;
    --methods) METHODS=$2; shift 2;;
    --write_docs) DOCS=--write_docs; shift;;
    -h|--help) sed -n 2,9p "$0"; exit 0;;
    *) echo "$0: error: unknown flag $1 (see --help)" >&2; exit 2;;
  esac
done
DATASETS=${DATASETS:-digits synthetic}
export PY
mkdir -p "$ROOT"
LOG="$ROOT/proxy_experiment.log"  # the sweeps' own output (a job's lines, its tables): for a failed run
n_scores=$(wc -w <<<"$SCORES")
STAGES=$(( $(wc -w <<<"$DATASETS") * (2 + 3 * n_scores) ))  # original, report; per score: file, groups, RUM
STAGE=0
stage() { STAGE=$((STAGE + 1)); echo "[stage $STAGE of $STAGES] $DATASET: $*"; }

report_is_stale() {  # the correlations are older than a score file (or missing)
  local csv="$SAVE/memorization/report/correlations.csv"
  [ ! -f "$csv" ] || [ -n "$(find "$SAVE/memorization" -maxdepth 1 -name '*.npz' -newer "$csv")" ]
}

sweep() {  # one of the sweeps on this data set and score; a failed run is reported at the end
  "scripts/$1" "${@:2}" --dataset "$DATASET" --save_dir "$SAVE" --seeds "$SEEDS" -j "$JOBS" \
      --mem_proxy "$PROXY" --methods "$METHODS" >>"$LOG" || FAILED=1
}

start=$(date +%s)
for DATASET in $DATASETS; do
  parse_common --dataset "$DATASET" --save_dir "$ROOT/$DATASET"
  stage "original model"
  ensure_original
  for PROXY in $SCORES; do  # the heldout estimate first: the report compares the others with it
    stage "$PROXY scores"
    ensure_scores
  done
  stage "Spearman of each proxy with the heldout estimate"
  if report_is_stale; then "$PY" -m memorization report $COMMON >>"$LOG"; fi
  for PROXY in $SCORES; do
    stage "$PROXY: $METHODS and original on the low / mid / high groups of $((N / 3))"
    sweep sweep_mem.sh -n $((N / 3)) --groups "low mid high"
    stage "$PROXY: Vanilla and RUM^F of $METHODS on a mix of $N"
    sweep sweep_rum.sh -n "$N" --variants "vanilla rumf" --rum_methods ""
  done
done
elapsed=$(( $(date +%s) - start ))
"$PY" scripts/proxy_table.py --save_dir "$ROOT" $DOCS --command "$COMMAND" --seconds "$elapsed"
exit_if_failed
