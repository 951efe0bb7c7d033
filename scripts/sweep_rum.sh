#!/usr/bin/env bash
# RUM variants × seeds on one `--mem mix` forget set: Vanilla, Shuffle and RUM^F for each method,
# and full RUM with the given per-part methods; `original` (main_forget.py) on the same forget set
# as the baseline. `--variants` keeps some of the controls, `--rum_methods ""` leaves out full RUM
# (scripts/proxy_experiment.sh needs only Vanilla and RUM^F), `--rum_plan "FLAGS"` gives full RUM's
# methods with their per-part settings (scripts/strength_table.py rum_flags). Re-running resumes.
source "$(dirname "$0")/lib.sh"
METHODS="FT NG SalUn"; RUM_METHODS="none,FT,SalUn"; RUM_PLAN=""; VARIANTS="vanilla shuffle rumf"
parse_common "$@"
set -- "${REST[@]+"${REST[@]}"}"
while [ $# -gt 0 ]; do
  case "$1" in
    --methods) METHODS=$2; shift 2;;
    --rum_methods) RUM_METHODS=$2; shift 2;;
    --rum_plan) RUM_PLAN=$2; shift 2;;
    --variants) VARIANTS=$2; shift 2;;
    -h|--help) echo "usage: $0 [--methods \"FT NG\"] [--variants \"vanilla shuffle rumf\"] [--rum_methods none,FT,SalUn | \"\"] [--rum_plan \"--rum_methods A,B,C --rum_lrs ...\"] [common flags]"; usage_common; exit 0;;
    *) echo "$0: error: unknown flag $1 (see --help)" >&2; exit 2;;
  esac
done
N=${N:-90}
PLAN=${RUM_PLAN:-${RUM_METHODS:+--rum_methods $RUM_METHODS}}
ensure_original
ensure_scores
{
# `original` on every seed's forget set first: it makes the set's retrain reference, which the
# variants wait for, so the references are made side by side rather than one by one
for seed in $SEEDS; do
  echo "$PY main_forget.py $COMMON --unlearn original --mem mix --mem_proxy $PROXY --num_indexes_to_replace $N --seed $seed --skip_existing $EXTRA"
done
for seed in $SEEDS; do
  for method in $METHODS; do for variant in $VARIANTS; do
    echo "$PY main_rum.py $COMMON --variant $variant --unlearn $method --mem mix --mem_proxy $PROXY --num_indexes_to_replace $N --seed $seed --skip_existing $EXTRA"
  done; done
  [ -z "$PLAN" ] || echo "$PY main_rum.py $COMMON --variant rum $PLAN --mem mix --mem_proxy $PROXY --num_indexes_to_replace $N --seed $seed --skip_existing $EXTRA"
done
} | run_jobs
finish
