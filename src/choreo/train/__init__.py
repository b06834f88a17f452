"""Training: run configs, the trainer (single process or torchrun), optimisers, EMA and checkpoints."""
