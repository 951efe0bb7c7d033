#!/usr/bin/env bash
# Methods × entanglement (ES) groups × seeds (RUM's --group_index experiments; groups 0..14 by
# distance to the embedding centroid), `original` included as the baseline. Re-running resumes.
source "$(dirname "$0")/lib.sh"
METHODS="FT l1-sparse GA NG SCRUB wfisher RL SalUn"; ES_GROUPS="3 12 14"
parse_common "$@"
set -- "${REST[@]+"${REST[@]}"}"
while [ $# -gt 0 ]; do
  case "$1" in
    --methods) METHODS=$2; shift 2;;
    --groups) ES_GROUPS=$2; shift 2;;
    -h|--help) echo "usage: $0 [--methods \"FT NG\"] [--groups \"3 12 14\"] [common flags]"; usage_common; exit 0;;
    *) echo "$0: error: unknown flag $1 (see --help)" >&2; exit 2;;
  esac
done
N=${N:-60}
ensure_original
for seed in $SEEDS; do for group in $ES_GROUPS; do for method in $(with_baseline "$METHODS"); do
  echo "$PY main_forget.py $COMMON --unlearn $method --group_index $group --num_indexes_to_replace $N --seed $seed --skip_existing $EXTRA"
done; done; done | run_jobs
finish
