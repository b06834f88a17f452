"""Gaussian diffusion as a scheduler, separate from any network (diffusers-style).

The scheduler holds the noise schedule and does the math of the forward process (``q_sample``), the
posterior ``q(x_{t-1} | x_t, x_0)``, and one reverse step (DDPM ancestral or DDIM with any ``eta``)
for a network that predicts the clean sample ``x_0``. It also provides the two sampling-time
operations EDGE relies on: classifier-free guidance and inpainting (replace the known entries by a
noised copy of the reference after every step).

Conventions (EDGE's): timesteps are integers ``0 .. T-1``; ``alphas_cumprod[t]`` is
``prod_{i<=t} (1 - beta_i)``, so ``x_t = sqrt(alphas_cumprod[t]) x_0 + sqrt(1 - alphas_cumprod[t]) eps``.
A sampling plan is a descending list of timesteps; the step after the last one is ``-1``, meaning
"return the network's ``x_0``". Schedules are kept in float64 and cast to the sample's dtype when used.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch

from choreo.errors import ChoreoError

SAMPLERS = ("ddim", "ddpm", "dpm++2m")


def cosine_alphas_cumprod(n_timesteps: int = 1000, s: float = 0.008) -> torch.Tensor:
    """The cosine schedule's continuous ``alpha_bar`` at ``t = 0 .. T`` (Nichol & Dhariwal 2021).

    ``f(t) = cos^2(((t / T) + s) / (1 + s) * pi / 2)`` and ``alpha_bar(t) = f(t) / f(0)``.

    Returns:
        (T + 1,) float64, ``alpha_bar(0) = 1``.
    """
    steps = torch.arange(n_timesteps + 1, dtype=torch.float64) / n_timesteps
    f = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
    return f / f[0]


def cosine_betas(n_timesteps: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    """Per-step betas of the cosine schedule: ``1 - alpha_bar(t + 1) / alpha_bar(t)``, clipped to ``max_beta``.

    Returns:
        (T,) float64.
    """
    abar = cosine_alphas_cumprod(n_timesteps, s)
    return (1 - abar[1:] / abar[:-1]).clamp(0.0, max_beta)


def linear_betas(n_timesteps: int = 1000, start: float = 1e-4, end: float = 2e-2) -> torch.Tensor:
    """DDPM's schedule as EDGE writes it: betas linear in sqrt space. (T,) float64."""
    return torch.linspace(start**0.5, end**0.5, n_timesteps, dtype=torch.float64) ** 2


def guided(cond: torch.Tensor, uncond: torch.Tensor, weight: float) -> torch.Tensor:
    """Classifier-free guidance: ``uncond + w (cond - uncond)`` (w = 1: conditional, w = 0: unconditional)."""
    return uncond + weight * (cond - uncond)


def guidance_ramp(weight: float, steps: int) -> list[float]:
    """EDGE's long-form guidance: rises linearly from 0 and reaches ``weight`` half-way through the steps.

    Returns:
        ``steps`` weights, ``min(2 w i / (steps - 1), w)`` for step ``i`` (just ``[w]`` for one step).
    """
    if steps <= 1:
        return [float(weight)] * steps
    return [min(2.0 * weight * i / (steps - 1), float(weight)) for i in range(steps)]


def clip_bounds(normalizer, device: torch.device | str = "cpu") -> bool | tuple[torch.Tensor, torch.Tensor]:
    """The x0 clamp for data scaled by ``normalizer``: True ([-1, 1]) for min-max scaling, else its fitted data's
    normalised per-channel ``(lo, hi)`` (C,) tensors, for :meth:`GaussianDiffusion.sample_loop`'s ``clip``."""
    lo, hi = normalizer.bounds()
    if np.ndim(lo) == 0 and float(lo) == -1.0 and float(hi) == 1.0:
        return True
    as_t = lambda a: torch.as_tensor(np.asarray(a, np.float32), device=device)  # noqa: E731
    return as_t(lo), as_t(hi)


class GaussianDiffusion:
    """Noise schedule plus forward/posterior/reverse-step math for an x0-predicting model.

    Args:
        n_timesteps: T, the number of diffusion steps of the training process.
        schedule: ``"cosine"`` (EDGE, ``s``) or ``"linear"``.
        s: the cosine schedule's offset.
    """

    def __init__(self, n_timesteps: int = 1000, schedule: str = "cosine", s: float = 0.008):
        if n_timesteps < 1:
            raise ChoreoError(f"the diffusion needs at least one timestep, got {n_timesteps}")
        if schedule == "cosine":
            betas = cosine_betas(n_timesteps, s)
        elif schedule == "linear":
            betas = linear_betas(n_timesteps)
        else:
            raise ChoreoError(f"unknown noise schedule {schedule!r} (known: cosine, linear)")
        self.n_timesteps = int(n_timesteps)
        self.schedule = schedule
        self.betas = betas
        self.alphas_cumprod = torch.cumprod(1.0 - betas, dim=0)
        self.alphas_cumprod_prev = torch.cat([torch.ones(1, dtype=torch.float64), self.alphas_cumprod[:-1]])
        # posterior q(x_{t-1} | x_t, x_0) of the full chain
        self.posterior_variance = betas * (1 - self.alphas_cumprod_prev) / (1 - self.alphas_cumprod)
        self.posterior_mean_coef1 = betas * self.alphas_cumprod_prev.sqrt() / (1 - self.alphas_cumprod)
        self.posterior_mean_coef2 = (1 - self.alphas_cumprod_prev) * (1 - betas).sqrt() / (1 - self.alphas_cumprod)

    # ---- helpers -------------------------------------------------------------------------------------
    def _coef(self, table: torch.Tensor, t: torch.Tensor | int, x: torch.Tensor) -> torch.Tensor | float:
        """``table[t]`` shaped to broadcast over ``x`` (a python float when ``t`` is one integer)."""
        if isinstance(t, int):
            return float(table[t])
        t = torch.as_tensor(t, device="cpu").long()
        out = table[t].to(device=x.device, dtype=x.dtype)
        return out.reshape(-1, *([1] * (x.ndim - 1)))

    def abar(self, t: int) -> float:
        """``alpha_bar`` at integer timestep ``t``; 1 for ``t = -1`` (clean data)."""
        return 1.0 if t < 0 else float(self.alphas_cumprod[t])

    # ---- forward process -----------------------------------------------------------------------------
    def q_sample(self, x0: torch.Tensor, t: torch.Tensor | int, noise: torch.Tensor) -> torch.Tensor:
        """``x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise``; ``t`` an int or (B,) per leading index.

        ``t = -1`` (int) returns ``x0`` unchanged.
        """
        if isinstance(t, int) and t < 0:
            return x0
        a = self._coef(self.alphas_cumprod, t, x0)
        if isinstance(a, float):
            return math.sqrt(a) * x0 + math.sqrt(1 - a) * noise
        return a.sqrt() * x0 + (1 - a).sqrt() * noise

    def q_posterior(
        self, x0: torch.Tensor, xt: torch.Tensor, t: torch.Tensor | int
    ) -> tuple[torch.Tensor, torch.Tensor | float]:
        """Mean and variance of ``q(x_{t-1} | x_t, x0)`` for the full T-step chain."""
        c1 = self._coef(self.posterior_mean_coef1, t, xt)
        c2 = self._coef(self.posterior_mean_coef2, t, xt)
        return c1 * x0 + c2 * xt, self._coef(self.posterior_variance, t, xt)

    def eps_from_x0(self, xt: torch.Tensor, t: torch.Tensor | int, x0: torch.Tensor) -> torch.Tensor:
        """The noise implied by a clean-sample prediction: ``(x_t - sqrt(abar) x0) / sqrt(1 - abar)``."""
        a = self._coef(self.alphas_cumprod, t, xt)
        if isinstance(a, float):
            return (xt - math.sqrt(a) * x0) / math.sqrt(1 - a)
        return (xt - a.sqrt() * x0) / (1 - a).sqrt()

    # ---- reverse process -----------------------------------------------------------------------------
    def timesteps(self, steps: int) -> list[int]:
        """A descending sampling plan of ``steps`` distinct timesteps from ``T-1`` to 0 (evenly spaced)."""
        if steps < 1:
            raise ChoreoError(f"the number of sampling steps must be at least 1, got {steps}")
        steps = min(int(steps), self.n_timesteps)
        if steps == 1:
            return [self.n_timesteps - 1]
        span = self.n_timesteps - 1
        return [round(span - i * span / (steps - 1)) for i in range(steps)]

    def step(
        self,
        x0: torch.Tensor,
        xt: torch.Tensor,
        t: int,
        t_next: int,
        sampler: str = "ddim",
        eta: float = 1.0,
        noise: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """One reverse step from timestep ``t`` to ``t_next < t`` given the model's ``x0``.

        ``ddpm``: ancestral sampling from the posterior of the (respaced) chain between ``t`` and
        ``t_next`` (with every step, the standard DDPM posterior). ``ddim``: DDIM with ``eta``
        (0 deterministic; 1 has DDPM's variance and equals ``ddpm``). ``t_next = -1`` returns ``x0``.

        Args:
            noise: standard normal noise shaped like ``xt`` (needed unless the step is deterministic).
        """
        if t_next < 0:
            return x0
        a_t, a_n = self.abar(t), self.abar(t_next)
        if sampler == "ddpm":
            beta = 1 - a_t / a_n
            c1 = beta * math.sqrt(a_n) / (1 - a_t)
            c2 = (1 - a_n) * math.sqrt(1 - beta) / (1 - a_t)
            var = beta * (1 - a_n) / (1 - a_t)
            out = c1 * x0 + c2 * xt
            return out + math.sqrt(var) * noise if var > 0 else out
        if sampler != "ddim":
            raise ChoreoError(f"unknown sampler {sampler!r} (known: {', '.join(SAMPLERS)})")
        sigma = eta * math.sqrt(max((1 - a_n) / (1 - a_t) * (1 - a_t / a_n), 0.0))
        eps = (xt - math.sqrt(a_t) * x0) / math.sqrt(1 - a_t)
        out = math.sqrt(a_n) * x0 + math.sqrt(max(1 - a_n - sigma**2, 0.0)) * eps
        return out + sigma * noise if sigma > 0 else out

    def log_snr(self, t: int) -> float:
        """``lambda_t = log(alpha_t / sigma_t)`` with ``alpha = sqrt(abar)``, ``sigma = sqrt(1 - abar)``."""
        a = self.abar(t)
        return 0.5 * math.log(a / (1.0 - a))

    def dpm_step(
        self,
        x0: torch.Tensor,
        xt: torch.Tensor,
        t: int,
        t_next: int,
        x0_prev: torch.Tensor | None = None,
        h_prev: float | None = None,
        eta: float = 0.0,
        noise: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, float]:
        """One DPM-Solver++(2M) step (Lu et al. 2022) of the data-prediction ODE, or its SDE variant for ``eta > 0``.

        With ``h = lambda_next - lambda_t`` and ``D = x0 + (x0 - x0_prev) / (2 r)``, ``r = h_prev / h`` (the
        second-order correction from the previous step's prediction; ``D = x0`` on the first step)::

            x_next = (sigma_next / sigma_t) e^(-eta h) x_t + alpha_next (1 - e^(-(1 + eta) h)) D
                     + sigma_next sqrt(1 - e^(-2 eta h)) noise

        ``eta = 0`` is the deterministic solver (its first-order case is DDIM with eta 0); ``t_next = -1``
        returns ``x0``. Returns ``(x_next, h)``; pass ``h`` and this ``x0`` to the next step.
        """
        if t_next < 0:
            return x0, 0.0
        a_t, a_n = self.abar(t), self.abar(t_next)
        h = self.log_snr(t_next) - self.log_snr(t)
        d = x0
        if x0_prev is not None and h_prev:
            d = x0 + (x0 - x0_prev) * (h / (2.0 * h_prev))
        sig_t, sig_n, alpha_n = math.sqrt(1.0 - a_t), math.sqrt(1.0 - a_n), math.sqrt(a_n)
        out = (sig_n / sig_t) * math.exp(-eta * h) * xt + alpha_n * (-math.expm1(-(1.0 + eta) * h)) * d
        if eta > 0:
            out = out + sig_n * math.sqrt(-math.expm1(-2.0 * eta * h)) * noise
        return out, h

    def sample_loop(
        self,
        model_fn: Callable[[torch.Tensor, int, int], torch.Tensor],
        x: torch.Tensor,
        steps: int,
        sampler: str = "ddim",
        eta: float = 1.0,
        generator: Noise = None,
        post_step: Callable[[torch.Tensor, int, int], torch.Tensor] | None = None,
        clip: bool | tuple[torch.Tensor, torch.Tensor] = True,
        on_step: Callable[[], None] | None = None,
    ) -> torch.Tensor:
        """Run the reverse process from ``x`` (pure noise at ``T-1``) to a clean sample.

        Args:
            model_fn: ``(x_t, t, step_index) -> x0`` prediction (guidance already combined).
            x: the starting noise, any shape.
            steps: number of network evaluations (``T`` or fewer).
            sampler / eta: ``ddim`` / ``ddpm`` (see :meth:`step`) or ``dpm++2m`` (see :meth:`dpm_step`; a
                good sample in 10-20 steps where DDIM needs 50).
            generator: source of the per-step noise, one generator or one per row (see :func:`randn_like`).
            post_step: ``(x_{t_next}, t_next, step_index) -> x`` applied after every step (inpainting,
                long-form window coupling); ``t_next = -1`` after the last step.
            clip: clamp the predicted x0 to [-1, 1] (min-max normalised data), or to per-channel ``(lo, hi)``
                (C,) bounds (:func:`clip_bounds`), or not at all (False).
            on_step: called once per step (progress bars).
        """
        if sampler not in SAMPLERS:
            raise ChoreoError(f"unknown sampler {sampler!r} (known: {', '.join(SAMPLERS)})")
        plan = self.timesteps(steps)
        x0_prev, h_prev = None, None
        for i, t in enumerate(plan):
            t_next = plan[i + 1] if i + 1 < len(plan) else -1
            x0 = model_fn(x, t, i)
            if clip is True:
                x0 = x0.clamp(-1.0, 1.0)
            elif clip is not False and clip is not None:
                x0 = torch.minimum(torch.maximum(x0, clip[0].to(x0.dtype)), clip[1].to(x0.dtype))
            noise = None
            if t_next >= 0 and (sampler == "ddpm" or eta > 0):
                noise = randn_like(x, generator)
            if sampler == "dpm++2m":
                # first order into the last timestep: its logSNR jump is the largest of the plan, and
                # extrapolating across it overshoots (DPM-Solver's "lower order final")
                last = i + 2 >= len(plan)
                x, h_prev = self.dpm_step(x0, x, t, t_next, None if last else x0_prev, h_prev, eta, noise)
                x0_prev = x0
            else:
                x = self.step(x0, x, t, t_next, sampler, eta, noise)
            if post_step is not None:
                x = post_step(x, t_next, i)
            if on_step is not None:
                on_step()
        return x

    def constrain(
        self,
        x: torch.Tensor,
        known: torch.Tensor,
        mask: torch.Tensor,
        t: int,
        generator: Noise = None,
    ) -> torch.Tensor:
        """Inpainting: ``q_sample(known, t) * mask + x * (1 - mask)``; exact ``known`` where masked at ``t = -1``.

        Args:
            x: the current sample at timestep ``t``.
            known: reference values (normalised), broadcastable to ``x``.
            mask: 1/True where the reference holds, broadcastable to ``x``.
        """
        noisy = known if t < 0 else self.q_sample(known, t, randn_like(known, generator))
        return torch.where(mask.bool(), noisy.to(x.dtype), x)


Noise = torch.Generator | Sequence[torch.Generator] | None


def randn_like(x: torch.Tensor, generator: Noise) -> torch.Tensor:
    """Standard normal noise shaped like ``x``.

    ``generator`` is one ``torch.Generator`` or one per leading index of ``x`` (row ``i`` drawn from
    ``generator[i]``, so a row's noise does not depend on which other rows share its batch). Noise is
    drawn on the generator's device, then moved to ``x``'s (CPU generators give the same numbers on any
    device).
    """
    if isinstance(generator, (list, tuple)):
        if len(generator) != x.shape[0]:
            raise ValueError(f"{len(generator)} generators for {x.shape[0]} rows")
        rows = [torch.randn(x.shape[1:], generator=g, device=g.device, dtype=x.dtype) for g in generator]
        return torch.stack(rows).to(x.device)
    dev = generator.device if generator is not None else x.device
    return torch.randn(x.shape, generator=generator, device=dev, dtype=x.dtype).to(x.device)
