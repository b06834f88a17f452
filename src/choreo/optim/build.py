"""Adan or AdamW from a run's training settings."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from choreo.errors import ChoreoError
from choreo.optim.adan import Adan

OPTIMIZERS = ("adan", "adamw", "adam")


def build_optimizer(params: Iterable, train: Any, **overrides: Any) -> torch.optim.Optimizer:
    """An optimiser over ``params`` (tensors or param groups).

    Args:
        params: parameters or parameter groups.
        train: an object with ``optimizer``, ``lr``, ``weight_decay``, ``betas``, ``eps`` (a
            :class:`choreo.train.config.TrainConfig`).
        overrides: any of those names, for methods whose components train differently
            (D2M-GAN: ``optimizer="adam", betas=(0.5, 0.9)``).
    """
    opt = {k: getattr(train, k) for k in ("optimizer", "lr", "weight_decay", "betas", "eps")}
    unknown = set(overrides) - set(opt)
    if unknown:
        raise ChoreoError(f"unknown optimiser setting(s): {', '.join(sorted(unknown))}")
    opt.update(overrides)
    name = str(opt["optimizer"]).lower()
    betas = tuple(opt["betas"]) if opt["betas"] else None
    lr, eps, wd = float(opt["lr"]), float(opt["eps"]), float(opt["weight_decay"])
    if name == "adan":
        betas = betas or (0.98, 0.92, 0.99)
        if len(betas) != 3:
            raise ChoreoError(f"Adan takes three betas, the config gives {list(betas)}")
        return Adan(params, lr=lr, betas=betas, eps=eps, weight_decay=wd)
    if name in ("adamw", "adam"):
        betas = betas or (0.9, 0.999)
        if len(betas) != 2:
            raise ChoreoError(f"{name} takes two betas, the config gives {list(betas)}")
        cls = torch.optim.AdamW if name == "adamw" else torch.optim.Adam
        return cls(params, lr=lr, betas=betas, eps=eps, weight_decay=wd)
    raise ChoreoError(f"unknown optimizer {opt['optimizer']!r} ({', '.join(OPTIMIZERS)})")
