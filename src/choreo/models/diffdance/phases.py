"""DiffDance's training schedule: the contrastive stages, then the diffusion stage, each with its own optimiser.

Global steps ``0 .. encoder_steps - 1`` train both encoders (stage 1), the next ``adapter_steps`` the adapter
(stage 2), every later step the base and SSR diffusion models together (stage 3). Each stage's learning rate
follows its own schedule over its own steps, so changing one stage's length leaves the others' schedules alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from choreo.models.diffdance.config import DiffDanceConfig
from choreo.models.method import Optimization

if TYPE_CHECKING:
    from choreo.models.diffdance.method import DiffDanceMethod

#: the three stages, in training order (also the optimisers' names)
PHASES = ("encoders", "adapter", "diffusion")


def phase_of(config: DiffDanceConfig, step: int) -> str:
    """``encoders``, ``adapter`` or ``diffusion``: which stage global step ``step`` trains."""
    if step < config.encoder_steps:
        return "encoders"
    if step < config.encoder_steps + config.adapter_steps:
        return "adapter"
    return "diffusion"


def build_optimizers(method: DiffDanceMethod, train) -> dict[str, Optimization]:
    """Three optimisers, each with its own schedule over its own stage's steps.

    ``encoders`` and ``adapter``: AdamW (``encoder_lr`` / ``adapter_lr``, weight decay on matrices only, never on
    the temperature), warm-up then cosine to 10 %; ``diffusion``: the run's optimiser and schedule
    (``train.optimizer``, ``lr``, ``warmup_steps``, ``schedule``) over the steps left after both stages.

    Args:
        train: the run's :class:`~choreo.train.config.TrainConfig`.
    """
    from choreo.optim import build_optimizer, warmup_schedule

    cfg = method.config

    def groups(modules) -> list[dict]:
        decay, plain = [], []
        for m in modules:
            for p in m.parameters():
                (decay if p.ndim >= 2 else plain).append(p)
        return [{"params": decay}, {"params": plain, "weight_decay": 0.0}]

    def align_opt(modules, lr: float, steps: int) -> Optimization:
        g = groups(modules)
        opt = build_optimizer(
            g, train, optimizer="adamw", lr=lr, weight_decay=cfg.align_weight_decay, betas=(0.9, 0.999)
        )
        warm = min(cfg.align_warmup, max(0, steps // 10))
        sched = warmup_schedule(opt, warm, max(1, steps), "cosine", 0.1)
        return Optimization(opt, sched, [p for x in g for p in x["params"]])

    diff_params = list(method.base.parameters()) + list(method.ssr.parameters())
    opt = build_optimizer(diff_params, train)
    left = max(1, int(train.steps) - cfg.encoder_steps - cfg.adapter_steps)
    sched = warmup_schedule(opt, train.warmup_steps, left, train.schedule, train.min_lr_ratio)
    return {
        "encoders": align_opt([method.music_encoder, method.motion_encoder], cfg.encoder_lr, cfg.encoder_steps),
        "adapter": align_opt([method.adapter], cfg.adapter_lr, cfg.adapter_steps),
        "diffusion": Optimization(opt, sched, diff_params),
    }
