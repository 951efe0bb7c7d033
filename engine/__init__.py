"""The floor every layer may use: one-line user errors, atomic I/O and safe loading, seeding,
device choice and the CUDA fast paths, data parallelism, flag validators, the one training
harness (`Trainer`) and the training recipes. Imports nothing above it."""
