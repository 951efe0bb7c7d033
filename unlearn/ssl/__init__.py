"""Self-supervised pieces of the capstone: SimCLR pre-training (`simclr`),
batched tensor augmentations (`views`) and the SSL regularizers added to any gradient-based
unlearning method (`regularizer`).

Part of the `unlearn` layer: it imports `engine`, `datasets` and `models`; `unlearn.addons` and
`unlearn.augment` use it."""
