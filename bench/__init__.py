"""Benchmarks and checks of the toolkit's speed and accuracy, never run by the tests: all of them
side by side with `python -m bench` (`make bench`; ratios -> bench/results/bench.json), or one
with `python -m bench.<name>` (e.g. `bench.cost`, `bench.fastnet_check`).
Their figures are quoted in docs/performance.md.

Layer: with the entry scripts, at the top: it may import every package and the main_*.py
scripts; no library package imports it."""
