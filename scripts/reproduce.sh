#!/usr/bin/env bash
# Every experiment section of docs/results.md, from nothing, in one command (`make results`):
#   strengths  scripts/sweep_strength.sh        (digits and synthetic, seeds 101-103: the data sets'
#                                                default strengths, written to unlearn/tuned_defaults.json)
#   capstone   scripts/capstone_sweep.sh        (digits, seeds 1-3)
#   rum        scripts/rum_experiment.sh        (memorization groups and RUM, digits and synthetic, seeds 1-5)
#   es         scripts/sweep_es.sh              (digits and synthetic, seeds 1-5, all 15 groups for NG)
#   multireq   scripts/sweep_multireq.sh        (digits, seeds 1-5)
#   proxy      scripts/proxy_experiment.sh      (digits and synthetic, seeds 1-5)
# Each stage's script trains what its folder lacks and skips the runs it already has, so an
# interrupted reproduction resumes where it stopped: run the same command again. Each section's
# header records its command, the date, the machine and the wall time; this script prints a line
# per stage, shows the stage's own progress, appends the stages' times to <root>/reproduce.log and
# their output to <root>/reproduce.log.out.
# Usage: scripts/reproduce.sh [-j 2] [--root runs] [--only "es proxy"]
set -euo pipefail
cd "$(dirname "$0")/.."
STAGES="strengths capstone rum es multireq proxy"  # the strengths first: every later run uses them
JOBS=2; ROOT=runs; ONLY=$STAGES
while [ $# -gt 0 ]; do
  case "$1" in
    -j|--jobs) JOBS=$2; shift 2;;
    --root) ROOT=$2; shift 2;;
    --only) ONLY=$2; shift 2;;
    -h|--help) sed -n 2,14p "$0"; exit 0;;
    *) echo "$0: error: unknown flag $1 (see --help)" >&2; exit 2;;
  esac
done
for name in $ONLY; do
  case " $STAGES " in *" $name "*) ;; *) echo "$0: error: unknown stage $name" >&2; exit 2;; esac
done
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}  # one thread a process: the models are small
mkdir -p "$ROOT"
LOG="$ROOT/reproduce.log"
SEEDS5="1 2 3 4 5"

stage_commands() {  # the commands of stage $1, one per line
  case "$1" in
    strengths) for dataset in digits synthetic; do
          echo "scripts/sweep_strength.sh --dataset $dataset --save_dir $ROOT/strength-$dataset --like $ROOT/rum-experiment/$dataset -j $JOBS --write_defaults --write_docs"
        done;;
    capstone) echo "scripts/capstone_sweep.sh -j $JOBS --seeds \"1 2 3\" --save_dir $ROOT/capstone-digits --write_docs";;
    rum) echo "scripts/rum_experiment.sh --seeds \"$SEEDS5\" -j $JOBS --root $ROOT/rum-experiment --write_docs";;
    es) for dataset in digits synthetic; do
          echo "scripts/sweep_es.sh --dataset $dataset --save_dir $ROOT/es-$dataset --seeds \"$SEEDS5\" -j $JOBS --all_groups NG --write_docs"
        done;;
    multireq) echo "scripts/sweep_multireq.sh --dataset digits --save_dir $ROOT/multireq-digits --seeds \"$SEEDS5\" -j $JOBS --write_docs";;
    proxy) echo "scripts/proxy_experiment.sh --seeds \"$SEEDS5\" -j $JOBS --root $ROOT/proxy-experiment --write_docs";;
  esac
}

set -- $ONLY
total=$#; k=0; failed=0; start=$(date +%s)
for name in "$@"; do
  k=$((k + 1))
  while IFS= read -r command; do
    echo "[stage $k of $total] $name: $command"
    t=$(date +%s)
    # the stage's own progress on the terminal too (pipefail: the stage's exit status, not tee's);
    # stdin closed: a stage must not read the lines of the stages after it
    if eval "$command" </dev/null 2>&1 | tee -a "$LOG.out"; then status=done; else status=FAILED; failed=1; fi
    took=$(( $(date +%s) - t ))
    echo "[stage $k of $total] $name: $status in ${took} s"
    echo "$(date -u +%FT%TZ) $name $status ${took}s $command" >>"$LOG"
  done < <(stage_commands "$name")
done
echo "all stages: $(( $(date +%s) - start )) s (docs/results.md; the stages' output: $LOG.out)"
if [ "$failed" != 0 ]; then echo "some stages failed (see $LOG.out); run the same command again to resume" >&2; exit 1; fi
