"""Model builders, Trainer arguments and loss, the seeded trainer, curves, checkpoints."""
