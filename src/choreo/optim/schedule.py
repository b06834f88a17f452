"""Learning-rate schedules: linear warm-up, then cosine or constant.

The factor is a pure function of the step (:func:`lr_factor`), so a resumed run continues on the same curve;
:func:`warmup_schedule` wraps it in ``torch.optim.lr_scheduler.LambdaLR`` so that the scheduler's state goes
into checkpoints like any other torch scheduler's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from choreo.errors import ChoreoError

SCHEDULES = ("constant", "cosine")


def lr_factor(step: int, warmup_steps: int, total_steps: int, kind: str = "constant", min_ratio: float = 0.0) -> float:
    """Multiplier of the base learning rate for optimiser step ``step`` (0-based).

    Warm-up: ``(step + 1) / warmup_steps`` for the first ``warmup_steps`` steps. Then ``constant`` (1) or
    ``cosine``: from 1 down to ``min_ratio`` at ``total_steps``, ``min_ratio + (1 - min_ratio) (1 + cos(pi p)) / 2``
    with ``p`` the fraction of the post-warm-up steps done (held at ``min_ratio`` beyond ``total_steps``).
    """
    if kind not in SCHEDULES:
        raise ChoreoError(f"unknown learning-rate schedule {kind!r} ({', '.join(SCHEDULES)})")
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    if kind == "constant":
        return 1.0
    span = max(1, total_steps - max(0, warmup_steps))
    p = min(1.0, max(0.0, (step - max(0, warmup_steps)) / span))
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * p))


@dataclass
class WarmupDecay:
    """A picklable ``step -> factor`` callable for ``LambdaLR`` (its fields go into the scheduler's state)."""

    warmup_steps: int
    total_steps: int
    kind: str = "constant"
    min_ratio: float = 0.0

    def __call__(self, step: int) -> float:
        return lr_factor(step, self.warmup_steps, self.total_steps, self.kind, self.min_ratio)


def warmup_schedule(
    optimizer: torch.optim.Optimizer,
    warmup_steps: int,
    total_steps: int,
    kind: str = "constant",
    min_ratio: float = 0.0,
) -> torch.optim.lr_scheduler.LambdaLR:
    """``LambdaLR`` with :class:`WarmupDecay`; call ``.step()`` once after every optimiser step."""
    lr_factor(0, warmup_steps, total_steps, kind, min_ratio)  # validates kind
    return torch.optim.lr_scheduler.LambdaLR(optimizer, WarmupDecay(warmup_steps, total_steps, kind, min_ratio))
