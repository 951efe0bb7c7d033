# Shared by the sweep scripts: flag parsing, the original model and score files they need, and a
# resumable parallel runner (each job skips itself when its metrics.json exists).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PY=${PY:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
DATASET=digits; DATA=""; ARCH=""; SAVE=""; SEEDS="1 2 3"; JOBS=2; N=""; PROXY=heldout
EPOCHS=""; EXTRA=""; NUM_MODELS=""; GPUS=""; LIKE=""

usage_common() {
  cat <<USAGE
common flags:
  --dataset NAME     digits (default) | synthetic | cifar10 | cifar100 | svhn | tinyimagenet
  --data DIR         data folder for the real data sets
  --arch NAME        model (default: the data set's)
  --save_dir DIR     run folder (default runs/sweep-<dataset>; sweep_strength.sh: runs/strength-<dataset>)
  --seeds "1 2 3"    seeds
  -j, --jobs N       parallel jobs (default 2)
  --gpus 0,1,2,3     one GPU a job in turn (with -j 4: four runs at once, one on each GPU)
  -n, --num N        forget-set size (per group)
  --mem_proxy NAME   memorization score (heldout default; or a proxy)
  --epochs N         original-model epochs (when it has to be trained)
  --num_models N     models of the heldout estimate (when it has to be made)
  --like DIR         start from DIR's original model, split and scores (copied when this folder
                     has none), so that both folders' memorization groups are the same
  --extra "FLAGS"    extra flags for every unlearning run
USAGE
}

parse_common() {  # sets REST to the flags this file does not know
  REST=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --dataset) DATASET=$2; shift 2;;
      --data) DATA=$2; shift 2;;
      --arch) ARCH=$2; shift 2;;
      --save_dir) SAVE=$2; shift 2;;
      --seeds) SEEDS=$2; shift 2;;
      -j|--jobs) JOBS=$2; shift 2;;
      --gpus) GPUS=$2; shift 2;;
      -n|--num) N=$2; shift 2;;
      --mem_proxy) PROXY=$2; shift 2;;
      --epochs) EPOCHS=$2; shift 2;;
      --num_models) NUM_MODELS=$2; shift 2;;
      --extra) EXTRA=$2; shift 2;;
      --like) LIKE=$2; shift 2;;
      *) REST+=("$1"); shift;;
    esac
  done
  SAVE=${SAVE:-runs/${SAVE_PREFIX:-sweep}-$DATASET}  # a script may name its own folder kind
  COMMON="--dataset $DATASET --save_dir $SAVE${DATA:+ --data $DATA}${ARCH:+ --arch $ARCH}"
}

ensure_original() {
  if [ -n "$LIKE" ] && [ -f "$LIKE/original/metrics.json" ] && [ ! -e "$SAVE/original" ]; then
    echo "== starting from $LIKE's original model and scores"
    mkdir -p "$SAVE"
    local part
    for part in split.json original memorization; do [ ! -e "$LIKE/$part" ] || cp -r "$LIKE/$part" "$SAVE/"; done
  fi
  if [ ! -f "$SAVE/original/metrics.json" ]; then
    echo "== training the original model ($SAVE/original)"
    "$PY" main_train.py $COMMON ${EPOCHS:+--epochs $EPOCHS}
  fi
}

ensure_scores() {
  local file="$SAVE/memorization/$PROXY.npz"
  [ -f "$file" ] && return 0
  echo "== computing memorization scores ($file)"
  if [ "$PROXY" = heldout ]; then
    "$PY" -m memorization estimate $COMMON ${NUM_MODELS:+--num_models $NUM_MODELS}
  else
    "$PY" -m memorization proxy --kind "$PROXY" $COMMON
  fi
}

with_baseline() {  # the methods $1 after `original` (the starting model left as it is), each once:
                  # every table compares each method with it on the same forget sets and seeds
  local method list=original
  for method in $1; do case " $list " in *" $method "*) ;; *) list+=" $method";; esac; done
  echo "$list"
}

FAILED=0
run_jobs() {  # run the commands on stdin, $JOBS at a time, in workers that start Python and import
              # torch once for many runs (scripts/batch.py); a failed job does not stop the others
  local runner=$PY  # the jobs' own python, whose lines then run in its workers
  case "$PY" in *python*) ;; *) runner=$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 );; esac
  "$runner" scripts/batch.py -j "$JOBS" ${GPUS:+--gpus "$GPUS"} || FAILED=1
}

finish() {  # tables of whatever finished; non-zero exit if a job failed (re-run to resume)
  "$PY" analysis_mia.py --save_dir "$SAVE" >/dev/null & local mia=$!  # side by side: one core each
  "$PY" analysis.py --save_dir "$SAVE"
  wait "$mia" && echo "ToW-MIA tables in $SAVE/analysis/"
  exit_if_failed
}

exit_if_failed() {
  if [ "$FAILED" != 0 ]; then echo "some runs failed (see FAILED lines above); re-run to retry them" >&2; exit 1; fi
}
