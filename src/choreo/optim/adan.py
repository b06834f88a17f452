"""Adan: adaptive Nesterov momentum (Xie et al. 2022, arXiv:2208.06677), the optimiser EDGE trains with.

Per parameter, with gradient g_k and the previous gradient g_{k-1} (g_0's predecessor is g_0 itself):

    m_k = b1 m_{k-1} + (1 - b1) g_k                                  (gradient average)
    v_k = b2 v_{k-1} + (1 - b2) (g_k - g_{k-1})                      (gradient-difference average)
    n_k = b3 n_{k-1} + (1 - b3) (g_k + b2 (g_k - g_{k-1}))^2         (second moment of the Nesterov gradient)
    p_k = (p_{k-1} - lr (m^_k + b2 v^_k) / (sqrt(n^_k) + eps)) / (1 + lr wd)

with ^ the bias corrections 1 / (1 - b^k). Betas are given in the paper's decay form (0.98, 0.92, 0.99);
lucidrains' adan-pytorch (used by EDGE) writes the same as (0.02, 0.08, 0.01) = 1 - beta, and skips the
moment update on its first step; here the first step already uses g_0 (as the paper and its official code do).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


class Adan(torch.optim.Optimizer):
    """Adan with decoupled (proximal) weight decay.

    Args:
        params: parameters or parameter groups.
        lr: learning rate.
        betas: (b1, b2, b3) decay rates of the gradient, gradient-difference and second-moment averages.
        eps: added to the denominator.
        weight_decay: proximal weight decay: p <- p / (1 + lr * weight_decay) after each step.
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        betas: tuple[float, float, float] = (0.98, 0.92, 0.99),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        if lr < 0 or eps < 0 or weight_decay < 0:
            raise ValueError("lr, eps and weight_decay must be >= 0")
        if len(betas) != 3 or not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"betas must be three numbers in [0, 1), got {betas}")
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
            b1, b2, b3 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("Adan does not support sparse gradients")
                g = p.grad.float() if p.dtype in (torch.float16, torch.bfloat16) else p.grad
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["m"] = torch.zeros_like(g)
                    state["v"] = torch.zeros_like(g)
                    state["n"] = torch.zeros_like(g)
                    state["prev_grad"] = g.clone()
                state["step"] += 1
                k = state["step"]
                m, v, n, prev = state["m"], state["v"], state["n"], state["prev_grad"]
                diff = g - prev
                m.mul_(b1).add_(g, alpha=1 - b1)
                v.mul_(b2).add_(diff, alpha=1 - b2)
                nesterov = g + b2 * diff
                n.mul_(b3).addcmul_(nesterov, nesterov, value=1 - b3)
                c1, c2, c3 = (1 - b1**k), (1 - b2**k), (1 - b3**k)
                denom = (n / c3).sqrt_().add_(eps)
                update = (m / c1).add_(v, alpha=b2 / c2).div_(denom)
                p.add_(update.to(p.dtype), alpha=-lr)
                if wd:
                    p.div_(1 + lr * wd)
                prev.copy_(g)
        return loss
