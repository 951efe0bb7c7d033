"""Self-supervised pieces of the capstone: SimCLR pre-training (`simclr`),
batched tensor augmentations (`views`) and the SSL regularizers added to any gradient-based
unlearning method (`regularizer`)."""
