#!/usr/bin/env bash
# The validation-split search of the methods' strengths on one data set: every method at every
# point of its grid (scripts/strength_table.py GRID) on the low, mid and high memorization groups,
# over search seeds kept apart from the seeds the tables report; `original` on the same sets as the
# baseline. Then the table and the choice: each method's default on the data set, and full RUM's
# method and setting per part. --write_defaults puts the defaults into unlearn/tuned_defaults.json
# (used whenever a strength flag is not typed), --write_docs the section into docs/results.md.
# Re-running resumes. Example: scripts/sweep_strength.sh --dataset synthetic --write_defaults
source "$(dirname "$0")/lib.sh"
COMMAND="scripts/sweep_strength.sh$(printf ' %q' "$@")"  # for the section's header, before the flags are consumed
METHODS="FT l1-sparse GA NG SCRUB wfisher RL SalUn bad-teaching"; WRITE=()
SEEDS="101 102 103"  # apart from the seeds the tables report, so no reported figure chose its own setting
SAVE_PREFIX=strength  # runs/strength-<dataset> unless --save_dir
parse_common "$@"
set -- "${REST[@]+"${REST[@]}"}"
while [ $# -gt 0 ]; do
  case "$1" in
    --methods) METHODS=$2; shift 2;;
    --write_defaults|--write_docs) WRITE+=("$1"); shift;;
    -h|--help) echo "usage: $0 [--methods \"FT NG\"] [--write_defaults] [--write_docs] [common flags] (seeds default: 101 102 103)"
               usage_common; exit 0;;
    *) echo "$0: error: unknown flag $1 (see --help)" >&2; exit 2;;
  esac
done
N=${N:-30}
START=$(date +%s)
ensure_original
ensure_scores
GRID_LINES=$("$PY" scripts/strength_table.py grid --methods "$METHODS")
{
  # `original` on every forget set and seed first: each makes that set's retrain reference, which
  # the other runs on it wait for, so the references are made side by side rather than one by one
  for seed in $SEEDS; do for group in low mid high; do
    echo "$PY main_forget.py $COMMON --unlearn original --mem $group --mem_proxy $PROXY --num_indexes_to_replace $N --seed $seed --skip_existing $EXTRA"
  done; done
  for seed in $SEEDS; do for group in low mid high; do
    while read -r method flags; do
      echo "$PY main_forget.py $COMMON --unlearn $method $flags --mem $group --mem_proxy $PROXY --num_indexes_to_replace $N --seed $seed --skip_existing $EXTRA"
    done <<< "$GRID_LINES"
  done; done
} | run_jobs
"$PY" scripts/strength_table.py choose --save_dir "$SAVE" --seconds $(( $(date +%s) - START )) --command "$COMMAND" \
    "${WRITE[@]+"${WRITE[@]}"}" || FAILED=1
exit_if_failed
