"""Shared plumbing for every entry script: errors, device, seeding, atomic I/O, the training harness."""
