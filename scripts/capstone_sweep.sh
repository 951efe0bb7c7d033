#!/usr/bin/env bash
# The capstone's experiment on digits: bad-teaching, SCRUB, NegGrad (GA) and
# SalUn x random (10%) and class-wise forgetting x {no add-on, --ssl simple, --ssl contrastive,
# --augment_forget simple, arpl, opengan} x seeds, after `original` (no add-on) as the baseline. Needs and makes, once: the original model,
# the SimCLR model, an ARPL and an OpenGAN generator per forget set. Every job skips itself when
# its metrics.json exists, so re-running resumes. Ends with the '## Capstone experiment' section of
# <save_dir>/results.md (python -m evaluation.capstone_report; docs/results.md with --write_docs)
# and analysis.py.
#   usage: scripts/capstone_sweep.sh [-j N] [--save_dir DIR] [--seeds "1 2 3"] [-n N] [--class C] [--write_docs]
source "$(dirname "$0")/lib.sh"
METHODS="bad-teaching SCRUB GA SalUn"; CLASS=3; RESULTS=""
parse_common "$@"
set -- "${REST[@]+"${REST[@]}"}"
while [ $# -gt 0 ]; do
  case "$1" in
    --methods) METHODS=$2; shift 2;;
    --class) CLASS=$2; shift 2;;
    --results) RESULTS=$2; shift 2;;
    --write_docs) RESULTS=docs/results.md; shift;;
    -h|--help) echo "usage: $0 [--methods \"bad-teaching SCRUB GA SalUn\"] [--class 3] [--results FILE | --write_docs] [common flags]"
               usage_common; exit 0;;
    *) echo "$0: error: unknown flag $1 (see --help)" >&2; exit 2;;
  esac
done
[ "$SAVE" = "runs/sweep-$DATASET" ] && SAVE=runs/capstone-$DATASET && \
  COMMON="--dataset $DATASET --save_dir $SAVE${DATA:+ --data $DATA}${ARCH:+ --arch $ARCH}"
RESULTS=${RESULTS:-$SAVE/results.md}  # a tracked file (docs/) only when asked for: --write_docs
N=${N:-130}  # 10% of digits' ~1,290 training examples, as the capstone's 5,000 of 50,000
# parallel jobs share the cores: one intra-op thread each (more only spin-wait on a busy CPU)
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} TQDM_DISABLE=${TQDM_DISABLE:-1}
START=$(date +%s)

# the capstone's settings where digits needs its own: NegGrad at lr 2e-3 (the RUM default 1e-4
# leaves digits untouched; the capstone's 0.01 with its 0.1 loss scale is 1e-3 on CIFAR)
method_flags() { case "$1" in GA) echo "--unlearn_lr 2e-3";; *) echo "";; esac; }
VARIANTS=("base:" "ssl-simple:--ssl simple" "ssl-contrastive:--ssl contrastive"
          "aug-simple:--augment_forget simple" "aug-arpl:--augment_forget arpl"
          "aug-opengan:--augment_forget opengan")
FORGET_SETS=("random:--num_indexes_to_replace $N" "class:--class_to_replace $CLASS")
METHODS=$(with_baseline "$METHODS")

ensure_original
if [ ! -f "$SAVE/simclr/model.json" ]; then
  echo "== SimCLR pre-training ($SAVE/simclr)"
  "$PY" simclr.py $COMMON
fi

FIRST_SEED=${SEEDS%% *}
forget_name() { [ "${1%%:*}" = random ] && echo "random_n${N}_s$2" || echo "class${CLASS}_all"; }

echo "== generators (ARPL, OpenGAN) for every forget set"
for seed in $SEEDS; do for fs in "${FORGET_SETS[@]}"; do for kind in arpl opengan; do
  # a class-wise set does not depend on the seed: one generator (first seed) serves every seed
  gseed=$([ "${fs%%:*}" = random ] && echo "$seed" || echo "$FIRST_SEED")
  [ -f "$SAVE/augment/$kind/$(forget_name "$fs" "$gseed")/generator.json" ] && continue
  echo "$PY -m unlearn.augment train --kind $kind $COMMON ${fs#*:} --seed $gseed"
done; done; done | sort -u | run_jobs

jobs_for() {  # $1 = first: the `original` run per forget set and seed (each trains its retrain
              # reference once, so parallel jobs never race for it); rest: all the others
  for seed in $SEEDS; do for fs in "${FORGET_SETS[@]}"; do for method in $METHODS; do
    for v in "${VARIANTS[@]}"; do
      tag=${v%%:*}; flags=${v#*:}
      { [ "$method" = original ] && [ "$tag" != base ]; } && continue  # an add-on needs a method
      first=$([ "$method" = "${METHODS%% *}" ] && [ "$tag" = base ] && echo 1 || echo 0)
      { [ "$1" = first ] && [ "$first" = 0 ]; } && continue
      { [ "$1" = rest ] && [ "$first" = 1 ]; } && continue
      # t-SNE (tsne.png) for the class-wise bad-teaching runs of the first seed
      tsne=$([ "$method" = bad-teaching ] && [ "${fs%%:*}" = class ] && [ "$seed" = "$FIRST_SEED" ] && echo --tsne || true)
      echo "$PY main_forget.py $COMMON --unlearn $method $(method_flags "$method") ${fs#*:} --seed $seed" \
           "--tag cap-$tag $flags $tsne --skip_existing $EXTRA"
    done
  done; done; done
}
echo "== retrain references (the original run of each forget set and seed)"
jobs_for first | run_jobs
echo "== unlearning runs"
jobs_for rest | run_jobs

SECONDS_TAKEN=$(( $(date +%s) - START ))
echo "== $RESULTS (## Capstone experiment)"
"$PY" -m evaluation.capstone_report --save_dir "$SAVE" --results "$RESULTS" --seconds "$SECONDS_TAKEN" \
  --command "scripts/capstone_sweep.sh -j $JOBS --seeds \"$SEEDS\" --save_dir $SAVE" || FAILED=1
finish
echo "capstone sweep: $SECONDS_TAKEN s"
