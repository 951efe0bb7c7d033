#!/usr/bin/env bash
# Methods × memorization groups × seeds (RUM's --mem experiments), `original` included as the
# baseline. Re-running resumes: finished runs are skipped. Example (CIFAR-10): scripts/sweep_mem.sh --dataset cifar10 --data ~/data -n 3000
source "$(dirname "$0")/lib.sh"
METHODS="FT l1-sparse GA NG SCRUB wfisher RL SalUn bad-teaching"; MEM_GROUPS="low mid high"
parse_common "$@"
set -- "${REST[@]+"${REST[@]}"}"
while [ $# -gt 0 ]; do
  case "$1" in
    --methods) METHODS=$2; shift 2;;
    --groups) MEM_GROUPS=$2; shift 2;;
    -h|--help) echo "usage: $0 [--methods \"FT NG\"] [--groups \"low mid high\"] [common flags]"; usage_common; exit 0;;
    *) echo "$0: error: unknown flag $1 (see --help)" >&2; exit 2;;
  esac
done
N=${N:-90}
ensure_original
ensure_scores
# method by method, `original` first: its runs make each forget set's retrain reference, which the
# other runs on that set wait for, so the references are made side by side rather than one by one
for method in $(with_baseline "$METHODS"); do for seed in $SEEDS; do for group in $MEM_GROUPS; do
  echo "$PY main_forget.py $COMMON --unlearn $method --mem $group --mem_proxy $PROXY --num_indexes_to_replace $N --seed $seed --skip_existing $EXTRA"
done; done; done | run_jobs
finish
