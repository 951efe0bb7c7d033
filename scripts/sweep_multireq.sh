#!/usr/bin/env bash
# Multi-request RUM (the scalability paper) × seeds: S requests in turn, each chosen by proxy scores
# recomputed on the current model, against the control that chooses every request by the original
# model's scores (--frozen_scores). Ends with ToW after each request and the proxy time per score
# mode (scripts/multireq_table.py -> <save_dir>/analysis/multireq.md; docs/results.md too with
# --write_docs). Re-running resumes.
COMMAND="scripts/sweep_multireq.sh$(printf ' %q' "$@")"  # for the table's header, before the flags are consumed
source "$(dirname "$0")/lib.sh"
SEEDS="1 2 3 4 5"; PROXY=ho_ret; REQUESTS=3; METHOD=NG; VARIANT=rumf; WRITE_DOCS=""
parse_common "$@"
set -- "${REST[@]+"${REST[@]}"}"
while [ $# -gt 0 ]; do
  case "$1" in
    --requests) REQUESTS=$2; shift 2;;
    --method) METHOD=$2; shift 2;;
    --variant) VARIANT=$2; shift 2;;
    --write_docs) WRITE_DOCS=--write_docs; shift;;
    -h|--help) echo "usage: $0 [--requests 3] [--method NG] [--variant rumf|vanilla|shuffle] [--write_docs] [common flags]"
               echo "(default seeds \"$SEEDS\", --mem_proxy $PROXY: ho_ret or curvature)"; usage_common; exit 0;;
    *) echo "$0: error: unknown flag $1 (see --help)" >&2; exit 2;;
  esac
done
N=${N:-30}
START=$(date +%s)
ensure_original
REQUEST="--mem mix --mem_proxy $PROXY --requests $REQUESTS --num_indexes_to_replace $N"
for seed in $SEEDS; do
  # the baseline: the untouched model on the same requests (it never changes, so frozen = recomputed)
  echo "$PY main_rum.py $COMMON --variant rum --rum_methods none,none,none $REQUEST --frozen_scores --seed $seed --skip_existing $EXTRA"
  for frozen in "" "--frozen_scores"; do
    echo "$PY main_rum.py $COMMON --variant $VARIANT --unlearn $METHOD $REQUEST $frozen --seed $seed --skip_existing $EXTRA"
  done
done | run_jobs
"$PY" scripts/multireq_table.py --save_dir "$SAVE" --seconds $(( $(date +%s) - START )) --command "$COMMAND" \
    $WRITE_DOCS || FAILED=1
exit_if_failed
