"""The floor every layer may use: one-line user errors, atomic I/O and safe loading, seeding,
device choice and the CUDA fast paths, data parallelism, flag validators, the one training
harness (`Trainer`) and the training recipes. Imports nothing above it.

Layers, bottom to top (imports only point down; tests/test_architecture.py checks it):
engine; datasets, models; evaluation; unlearn, memorization; workflows; the entry scripts
(main_*.py, analysis*.py, mu_main.py, simclr.py, every package's __main__.py, bench/)."""
