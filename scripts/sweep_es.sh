#!/usr/bin/env bash
# The entanglement (ES) experiment: methods × ES groups × seeds (RUM's --group_index runs; groups
# 0..14 by distance to the embedding centroid), `original` included as the baseline; --all_groups M
# adds every group for method M (and `original`). Then each group's ES (python -m memorization es ->
# <save_dir>/memorization/es_groups.json) and the tables: scripts/es_table.py -> <save_dir>/es_results/
# (docs/results.md too with --write_docs), and analysis.py / analysis_mia.py. Re-running resumes.
source "$(dirname "$0")/lib.sh"
METHODS="FT l1-sparse GA NG SCRUB wfisher RL SalUn bad-teaching"; ES_GROUPS="3 12 14"; ALL_GROUPS=""; WRITE_DOCS=""
SEEDS="1 2 3 4 5"  # five seeds: a rank correlation over three groups needs them to get an interval at all
COMMAND="scripts/sweep_es.sh$(printf ' %q' "$@")"  # for the table's header, before the flags are consumed
parse_common "$@"
set -- "${REST[@]+"${REST[@]}"}"
while [ $# -gt 0 ]; do
  case "$1" in
    --methods) METHODS=$2; shift 2;;
    --groups) ES_GROUPS=$2; shift 2;;
    --all_groups) ALL_GROUPS=$2; shift 2;;
    --write_docs) WRITE_DOCS=--write_docs; shift;;
    -h|--help) echo "usage: $0 [--methods \"FT NG\"] [--groups \"3 12 14\"] [--all_groups METHOD] [--write_docs] [common flags]"
               echo "(default seeds \"$SEEDS\"; --all_groups METHOD also runs METHOD and original on all 15 groups)"
               usage_common; exit 0;;
    *) echo "$0: error: unknown flag $1 (see --help)" >&2; exit 2;;
  esac
done
N=${N:-60}
START=$(date +%s)
ensure_original
echo "== entanglement score of each distance group ($SAVE/memorization/es_groups.json)"
# always recomputed (one pass over the training set): the file must describe this -n's forget sets
"$PY" -m memorization es $COMMON --num_indexes_to_replace "$N"

groups_of() {  # the groups method $1 runs on
  if [ -n "$ALL_GROUPS" ] && { [ "$1" = original ] || [ "$1" = "$ALL_GROUPS" ]; }; then seq 0 14; else echo "$ES_GROUPS"; fi
}
job() { echo "$PY main_forget.py $COMMON --unlearn $1 --group_index $2 --num_indexes_to_replace $N --seed $3 --skip_existing $EXTRA"; }
# `original` first: its run of a forget set and seed trains their retrain reference, which the
# other methods' runs would otherwise wait for one at a time
echo "== retrain references (the original run of each forget set and seed)"
for seed in $SEEDS; do for group in $(groups_of original); do job original "$group" "$seed"; done; done | run_jobs
echo "== unlearning runs"
for seed in $SEEDS; do for method in $(with_baseline "$METHODS $ALL_GROUPS"); do
  [ "$method" = original ] && continue
  for group in $(groups_of "$method"); do job "$method" "$group" "$seed"; done
done; done | run_jobs
"$PY" scripts/es_table.py --save_dir "$SAVE" --seconds $(( $(date +%s) - START )) --command "$COMMAND" $WRITE_DOCS || FAILED=1
finish
