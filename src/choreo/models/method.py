"""The method protocol: what the trainer, checkpoints and loaders need from any method.

A method is an ``nn.Module`` made of named components (its direct child modules: a denoiser; a base and an
SSR model plus encoders; a generator, a discriminator and a frozen codec), with

- ``configure_optimizers(train)``: its own optimisers and learning-rate schedules, by name (one by
  default, over every trainable parameter, from the run's :class:`~choreo.train.config.TrainConfig`);
- ``phases(step)``: which optimisers step at a global step, in order (a GAN: discriminator then
  generator; a staged method: encoders first, then the diffusion models);
- ``training_loss(batch, phase, step, epoch)``: a **per-sample** loss (B,) for that phase, plus per-sample
  (or scalar) terms to log. The trainer averages it over the global batch, so micro-batches and
  processes give the same gradients; a method weights samples (by diffusion timestep, by curriculum)
  inside it.

Sampling options live in the method's config (``sampling_defaults``); callers override them by name.

``produces`` says what a trained method makes: ``"dance"`` (music -> motion: ``generate(features, seed,
constraint, progress, **options) -> (L, C)``) or ``"music"`` (motion -> audio: ``compose(motion tensor,
seed, progress, **options) -> (samples,)`` at ``sample_rate``).
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import torch
from torch import nn

from choreo.errors import ChoreoError

C = TypeVar("C")


def style_index(styles: Sequence[str], style: str | int | None, unknown: int) -> int:
    """A dance style's index among a model's ``styles``: None or "" gives ``unknown``; a name or index the model
    knows gives its index; anything else (or any style for a model without styles) is a ChoreoError that says
    which styles it knows."""
    if style is None or style == "":
        return unknown
    if not styles:
        raise ChoreoError("this model was trained without dance styles: it takes no style")
    if isinstance(style, numbers.Integral) and not isinstance(style, bool) and 0 <= int(style) < len(styles):
        return int(style)
    if str(style) in styles:
        return list(styles).index(str(style))
    raise ChoreoError(f"unknown style {style!r} (this model knows: {', '.join(styles)})")


def module_device(module: nn.Module) -> torch.device:
    """Where a module's weights (else its buffers) live; CPU for a module that holds neither."""
    for t in module.parameters():
        return t.device
    for t in module.buffers():
        return t.device
    return torch.device("cpu")


def config_from_dict(cls: type[C], d: dict | None, what: str) -> C:
    """A method's settings dataclass from a plain dict; unknown keys are a ChoreoError naming them (and the
    known ones), so a typo in a config file never passes silently. ``what`` names the settings in the message."""
    d = dict(d or {})
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - names)
    if unknown:
        raise ChoreoError(f"unknown {what} settings: {', '.join(unknown)} (known: {', '.join(sorted(names))})")
    return cls(**d)


@dataclass
class Optimization:
    """One optimiser of a method: what it updates and how its learning rate moves.

    Attributes:
        optimizer: a torch optimiser over ``params``.
        scheduler: a torch LR scheduler stepped once after every step of this optimiser (None: fixed lr).
        params: the parameters it updates (gradients are averaged over processes and clipped over these).
        grad_clip: clip the global gradient norm of ``params`` to this (0: off; None: the run's setting).
    """

    optimizer: torch.optim.Optimizer
    scheduler: Any = None
    params: list[nn.Parameter] | None = None
    grad_clip: float | None = None

    def __post_init__(self) -> None:
        if self.params is None:
            self.params = [p for g in self.optimizer.param_groups for p in g["params"]]


class Method(nn.Module):
    """Base class of every method (see the module docstring).

    Subclasses set ``name`` and ``produces``, build their components in ``__init__(config, spec)`` and
    implement :meth:`training_loss` and their sampler.

    Attributes:
        name: registry name (``edge``, ``diffdance``, ...).
        produces: ``"dance"`` (music -> motion), ``"music"`` (motion -> audio) or ``"codec"`` (audio <-> codes: a
            component of other methods, not a generator by itself).
        trains_on: ``"pairs"`` (motion + music windows) or ``"audio"`` (waveform windows from songs alone).
        ema_components: components whose weights are averaged during training (and sampled with);
            None: every component with trainable parameters.
        sampling_options: option names accepted by the sampler (with defaults from the config).
    """

    name: ClassVar[str] = ""
    produces: ClassVar[str] = "dance"
    trains_on: ClassVar[str] = "pairs"
    ema_components: ClassVar[tuple[str, ...] | None] = None
    sampling_options: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: Any, spec: Any):
        super().__init__()
        self.config = config
        self.spec = spec

    @classmethod
    def takes_style(cls, model_config: dict) -> bool:
        """Whether a model with these settings (a checkpoint's ``config["model"]``) takes a dance style (``--style``):
        the CLI and the studio ask this instead of checking method names."""
        return False

    @classmethod
    def trained_parts(cls, model_config: dict) -> dict[str, str]:
        """Trained models these settings build on, ``{builder keyword: file, run folder or packaged name}`` (D2M-GAN:
        its codec). The trainer loads them and passes them to the builder, so a method never reads files; empty
        when the settings embed them (as a checkpoint's do) or need none."""
        return {}

    @classmethod
    def sampling_stages(cls, model_config: dict) -> dict[str, int]:
        """The denoising steps each sampling stage runs by default, ``{stage: steps}`` (a cascade has several; a
        method that does not denoise, none): what a user interface shows beside ``steps``."""
        steps = model_config.get("steps") if "steps" in cls.sampling_options else None
        return {"model": int(steps)} if steps is not None else {}

    # ---- structure ------------------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return module_device(self)

    def components(self) -> dict[str, nn.Module]:
        """Named parts saved in checkpoints: the direct child modules that hold weights or buffers."""
        return {
            n: m
            for n, m in self.named_children()
            if any(True for _ in m.parameters()) or any(True for _ in m.buffers())
        }

    def ema_names(self) -> list[str]:
        """Components that get an EMA copy."""
        comps = self.components()
        if self.ema_components is not None:
            missing = [n for n in self.ema_components if n not in comps]
            if missing:
                raise ChoreoError(f"method {self.name!r} has no component(s) {', '.join(missing)} for EMA")
            return list(self.ema_components)
        return [n for n, m in comps.items() if any(p.requires_grad for p in m.parameters())]

    def component_state(self) -> dict[str, dict[str, torch.Tensor]]:
        """``{component: state_dict}``."""
        return {n: m.state_dict() for n, m in self.components().items()}

    def load_component_state(self, states: dict[str, dict[str, torch.Tensor]], strict: bool = True) -> None:
        """Load ``{component: state_dict}`` (every component must be there when ``strict``)."""
        comps = self.components()
        unknown = sorted(set(states) - set(comps))
        missing = sorted(set(comps) - set(states))
        if unknown or (strict and missing):
            raise ChoreoError(
                f"checkpoint components do not fit method {self.name!r}: "
                + (f"unknown {', '.join(unknown)}; " if unknown else "")
                + (f"missing {', '.join(missing)}" if missing else "")
            )
        for n, sd in states.items():
            try:
                comps[n].load_state_dict(sd)
            except (RuntimeError, KeyError, TypeError) as exc:
                first = str(exc).strip().splitlines()[0][:200]
                raise ChoreoError(f"the weights of {n!r} do not fit the {self.name} config ({first})") from None

    # ---- training -------------------------------------------------------------------------------------
    def configure_optimizers(self, train: Any) -> dict[str, Optimization]:
        """One optimiser ``main`` over every trainable parameter, with the run's warm-up and decay."""
        from choreo.optim import build_optimizer, warmup_schedule

        params = [p for p in self.parameters() if p.requires_grad]
        if not params:
            raise ChoreoError(f"method {self.name!r} has no trainable parameters")
        opt = build_optimizer(params, train)
        sched = warmup_schedule(opt, train.warmup_steps, train.steps, train.schedule, train.min_lr_ratio)
        return {"main": Optimization(opt, sched, params)}

    def phases(self, step: int) -> Sequence[str]:
        """Optimisers to step at global step ``step``, in order (default: the only one, ``main``)."""
        return ("main",)

    def training_loss(
        self, batch: dict[str, torch.Tensor], phase: str, step: int, epoch: float
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor | float]]:  # pragma: no cover - abstract
        """Per-sample loss (B,) of ``phase`` on ``batch`` and per-sample (B,) or scalar terms to log.

        Args:
            batch: ``motion`` (B, W, C) normalised, ``music`` (B, W, F), ``seed`` (B,) int64 per-sample
                seeds (draw every random number of sample i from a generator seeded with it: resume and
                process count then do not change the noise), plus ``motion@<fps>`` and ``audio`` when the
                data config asks for them.
            phase: the optimiser being stepped.
            step: global step (0-based); epoch: ``step * batch_size / dataset size`` (fractional).
        """
        raise NotImplementedError

    # ---- sampling -------------------------------------------------------------------------------------
    def sampling_defaults(self) -> dict[str, Any]:
        """The config's value of every sampling option (what a caller that passes none gets)."""
        return {k: getattr(self.config, k) for k in self.sampling_options}

    def sampling_settings(self, **options: Any) -> dict[str, Any]:
        """The defaults with the caller's non-None options on top; an unknown option is a ChoreoError."""
        unknown = sorted(k for k, v in options.items() if v is not None and k not in self.sampling_options)
        if unknown:
            known = ", ".join(self.sampling_options) or "none"
            raise ChoreoError(f"{', '.join(unknown)} do(es) not apply to method {self.name!r} (its options: {known})")
        out = self.sampling_defaults()
        out.update({k: v for k, v in options.items() if v is not None})
        return out
