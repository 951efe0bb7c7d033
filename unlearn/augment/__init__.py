"""Forget-set augmentation (the capstone's): `simple` (jittered copies), `arpl` (confusing
images from a generator trained with reciprocal points) and `opengan` (generated penultimate-layer
features used as extra soft targets). Generators are trained by
`python -m unlearn.augment train --kind arpl|opengan ...` and saved under
`<save_dir>/augment/<kind>/<forget set>/`. The augmented examples go to the METHOD only;
evaluation keeps the real forget set (unlearn/addons.py wires this into the pipeline).

Part of the `unlearn` layer: the library modules import `engine`, `datasets`, `unlearn.harness`
and `unlearn.ssl`; only `__main__.py` (the `train` command, an entry point) imports `workflows`."""

KINDS = ("none", "simple", "arpl", "opengan")
GENERATOR_KINDS = ("arpl", "opengan")
