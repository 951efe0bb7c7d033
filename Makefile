# Two commands: `make demo` and `make test`. Each creates $(VENV) from requirements.txt when it
# is missing. Point VENV at an environment you already have: `make test VENV=~/envs/torch`.
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_DIR ?= runs/demo

.PHONY: demo test bench results clean-demo

STAMP := $(VENV)/.requirements-installed

# (re)install when requirements.txt is newer than the last install
$(STAMP): requirements.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --upgrade pip >/dev/null
	$(PY) -m pip install -r requirements.txt
	touch $(STAMP)

# one OpenMP thread a process unless OMP_NUM_THREADS says otherwise: the demo's models are tiny,
# and on a busy machine two threads a process ran the demo 7x slower (docs/performance.md)
demo: $(STAMP)
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} bash scripts/demo.sh $(PY) $(DEMO_DIR)

# two worker processes of one thread each (pytest-xdist): the suite's models are tiny
test: $(STAMP)
	$(PY) -m pytest -q -n 2 tests

# every experiment section of docs/results.md from nothing (resumable: run it again after a stop);
# `make results RESULTS_ARGS="--only es -j 4"` for one stage or more jobs
results: $(STAMP)
	PY=$(PY) bash scripts/reproduce.sh $(RESULTS_ARGS)

# benchmarks (ratios; bench/results/bench.json): `make bench BENCH_ARGS=--quick` for a short run
bench: $(STAMP)
	$(PY) -m bench $(BENCH_ARGS)

clean-demo:
	rm -rf $(DEMO_DIR)
