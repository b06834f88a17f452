"""Exponential moving average of model weights (the weights EDGE samples with)."""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """Keeps ``shadow = d * shadow + (1 - d) * weights`` after every optimiser step.

    With ``warmup`` the decay is ``min(decay, (1 + n) / (10 + n))`` for the n-th update, so the average is
    not stuck near the random initialisation for the first ~1/(1 - decay) steps. Buffers are copied.

    Args:
        model: the trained module (its copy becomes the shadow; the shadow never requires grad).
        decay: target decay (EDGE: 0.9999).
        warmup: ramp the decay up as above.
    """

    def __init__(self, model: nn.Module, decay: float = 0.9999, warmup: bool = True):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = float(decay)
        self.warmup = bool(warmup)
        self.updates = 0
        self.shadow = copy.deepcopy(model).eval()
        for p in self.shadow.parameters():
            p.requires_grad_(False)

    def current_decay(self) -> float:
        if self.warmup:
            return min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))
        return self.decay

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        d = self.current_decay()
        for s, p in zip(self.shadow.parameters(), model.parameters(), strict=True):
            if torch.is_floating_point(s):
                s.lerp_(p.detach().to(s.dtype), 1.0 - d)
            else:
                s.copy_(p)
        for s, b in zip(self.shadow.buffers(), model.buffers(), strict=True):
            s.copy_(b)
        self.updates += 1

    def state_dict(self) -> dict:
        """The shadow weights (a module state_dict, loadable into the method itself)."""
        return self.shadow.state_dict()

    def load_state_dict(self, state: dict, updates: int) -> None:
        self.shadow.load_state_dict(state)
        self.updates = int(updates)
