"""Optimisers and learning-rate schedules that methods configure for themselves (nanoGPT style).

``build_optimizer(params, train_config)`` makes Adan or AdamW from the run's :class:`TrainConfig` (with
per-method overrides); ``warmup_schedule(optimizer, ...)`` wraps it in a linear warm-up followed by cosine
or constant decay. Both are plain torch objects, so their ``state_dict`` goes into the checkpoint as is.
"""

from __future__ import annotations

from choreo.optim.adan import Adan
from choreo.optim.build import build_optimizer
from choreo.optim.schedule import WarmupDecay, lr_factor, warmup_schedule

__all__ = ["Adan", "WarmupDecay", "build_optimizer", "lr_factor", "warmup_schedule"]
