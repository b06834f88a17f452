"""Run configuration: data, model and training settings as dataclasses, saved with every run (YAML or JSON).

A config file has four sections::

    method: edge
    data:  {...}   # DataConfig
    model: {...}   # the method's own settings, passed as-is to choreo.models.build_method
    train: {...}   # TrainConfig

Built-in configs (``edge``, ``edge_tiny``) ship inside the package (``choreo/configs/*.yaml``) and are
found by name; anything else is a path.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from choreo.data.config import DataConfig
from choreo.errors import ChoreoError
from choreo.fileio import atomic_open


@dataclass
class TrainConfig:
    """Optimisation settings (shared by every method).

    Attributes:
        steps: total optimiser steps.
        batch_size: GLOBAL batch (split evenly over processes under torchrun).
        optimizer: ``adan`` or ``adamw``.
        lr: learning rate; weight_decay: decoupled weight decay.
        betas: optimizer betas (None: the optimizer's defaults; Adan (0.98, 0.92, 0.99), AdamW (0.9, 0.999)).
        eps: optimizer epsilon.
        warmup_steps: linear learning-rate warm-up from 0.
        schedule: after the warm-up, ``constant`` or ``cosine`` decay to ``min_lr_ratio * lr`` at ``steps``.
        min_lr_ratio: the cosine schedule's final fraction of ``lr``.
        grad_accum: split each process's share of the batch into this many micro-batches (same gradients,
            less memory; the batch must divide by processes x grad_accum).
        grad_clip: clip the global gradient norm to this (0: off).
        ema_decay: exponential moving average of the weights (0: off); ema_warmup: use
            min(decay, (1 + step) / (10 + step)) so that early EMA weights are not dominated by the init.
        precision: ``auto`` (bf16 on CUDA where supported, else fp16; fp32 on CPU), ``fp32``, ``bf16``, ``fp16``.
        seed: seeds the model init, the batch order and every per-sample random draw.
        log_every: write a CSV row every this many steps.
        save_every: checkpoint every this many steps (and at the end).
        keep_last: keep this many step-numbered checkpoints (``last.ckpt`` is always kept).
        device: ``auto`` (cuda if available), ``cpu`` or ``cuda``.
        threads: CPU threads for torch in each process (0: torch's default). Small models on a busy CPU
            train several times faster with 1 (no thread contention).
        init_from: a checkpoint file or run folder whose weights start this run (fine-tuning): each component's
            averaged (EMA) weights where it has them, else its trained ones; optimisers, schedules and the step
            start afresh. The run also takes that checkpoint's motion normaliser, so the weights see the data
            as they were trained to. Ignored when resuming (the run's own checkpoint has the weights).
        init_components: which components to take from ``init_from`` (None: all; e.g. ``[base, ssr]`` to
            fine-tune DiffDance's diffusion stages on a new embedding); the others start from the seed.
    """

    steps: int = 100_000
    batch_size: int = 128
    optimizer: str = "adan"
    lr: float = 4e-4
    weight_decay: float = 0.02
    betas: list[float] | None = None
    eps: float = 1e-8
    warmup_steps: int = 0
    schedule: str = "constant"
    min_lr_ratio: float = 0.0
    grad_accum: int = 1
    grad_clip: float = 1.0
    ema_decay: float = 0.9999
    ema_warmup: bool = True
    precision: str = "auto"
    seed: int = 0
    log_every: int = 10
    save_every: int = 1000
    keep_last: int = 3
    device: str = "auto"
    threads: int = 0
    init_from: str | None = None
    init_components: list[str] | None = None


@dataclass
class RunConfig:
    """Everything a run needs: the method name, data, model and training settings."""

    method: str = "edge"
    data: DataConfig = field(default_factory=DataConfig)
    model: dict[str, Any] = field(default_factory=dict)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict, source: str | os.PathLike | None = None) -> RunConfig:
        """Build from a plain dict; unknown keys and wrong types are a ChoreoError naming the key."""
        if not isinstance(d, dict):
            raise ChoreoError("a config must be a mapping with sections method, data, model, train", source)
        unknown = set(d) - {"method", "data", "model", "train"}
        if unknown:
            raise ChoreoError(f"unknown config section(s): {', '.join(sorted(unknown))}", source)
        model = d.get("model") or {}
        if not isinstance(model, dict):
            raise ChoreoError("config section 'model' must be a mapping", source)
        return cls(
            method=str(d.get("method", "edge")),
            data=_build(DataConfig, d.get("data") or {}, "data", source),
            model=dict(model),
            train=_build(TrainConfig, d.get("train") or {}, "train", source),
        )

    @classmethod
    def load(cls, path: str | os.PathLike) -> RunConfig:
        """Read a YAML (.yaml/.yml) or JSON config file, or a built-in config by name (``edge``, ``edge_tiny``)."""
        p = resolve_config_path(path)
        try:
            text = p.read_text()
            d = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
        except (OSError, UnicodeDecodeError) as exc:
            raise ChoreoError(f"cannot read config ({exc})", p) from None
        except (yaml.YAMLError, json.JSONDecodeError) as exc:
            raise ChoreoError(f"not valid YAML/JSON ({str(exc).splitlines()[0]})", p) from None
        return cls.from_dict(d, p)

    def save(self, path: str | os.PathLike) -> None:
        """Write atomically as YAML (or JSON for a .json name)."""
        p = Path(path)
        with atomic_open(p, "w") as fh:
            if p.suffix == ".json":
                json.dump(self.to_dict(), fh, indent=2)
            else:
                yaml.safe_dump(self.to_dict(), fh, sort_keys=False)


def parse_assignments(pairs: list[str], source: str = "--set") -> dict[str, Any]:
    """``["model.width=32", "guidance=3", "ssr_steps=null"]`` -> ``{"model.width": 32, "guidance": 3, "ssr_steps":
    None}``: each ``NAME=VALUE`` with its value read as YAML (``3`` a number, ``null`` None, ``[1, 2]`` a list, ``base``
    a string). A pair without ``=`` or a name, or a value that is not YAML, is a ChoreoError naming ``source``."""
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ChoreoError(f"{source} wants NAME=VALUE, got {pair!r}")
        try:
            out[name.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise ChoreoError(f"{source} {pair!r}: the value is not valid YAML") from None
    return out


def apply_overrides(cfg: RunConfig, pairs: list[str], source: str = "--set") -> RunConfig:
    """``cfg`` with ``SECTION.KEY=VALUE`` settings on top (values read as YAML, :func:`parse_assignments`), checked
    like a config file: an unknown section or key is a ChoreoError naming it.

    >>> apply_overrides(RunConfig(), ["model.width=32", "train.steps=2"]).train.steps
    2
    """
    d = cfg.to_dict()
    for name, value in parse_assignments(pairs, source).items():
        section, dot, key = name.partition(".")
        if not dot or not key:
            raise ChoreoError(f"{source} wants SECTION.KEY=VALUE (e.g. model.width=64), got {name!r}")
        if section not in ("data", "model", "train"):
            raise ChoreoError(f"{source} {name!r}: the section is data, model or train, not {section!r}")
        d[section][key] = value
    return RunConfig.from_dict(d, source)


def _build(cls, d: dict, section: str, source) -> Any:
    if not isinstance(d, dict):
        raise ChoreoError(f"config section {section!r} must be a mapping", source)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(d) - set(fields)
    if unknown:
        raise ChoreoError(f"unknown key(s) in section {section!r}: {', '.join(sorted(unknown))}", source)
    return cls(**{k: _coerce(v, str(fields[k].type), f"{section}.{k}", source) for k, v in d.items()})


def _coerce(v: Any, annotation: str, key: str, source) -> Any:
    """Check a value against its field's annotation (``float``, ``int | None``, ``list[str] | None``...).

    YAML 1.1 reads ``1e-4`` as a string and JSON writes whole floats as ints: both are accepted for floats.
    """
    kinds = [a.strip() for a in annotation.split("|")]
    if v is None:
        if "None" in kinds:
            return None
        raise ChoreoError(f"config key {key} must not be empty", source)
    kind = kinds[0]
    try:
        if kind == "bool" and isinstance(v, bool):
            return v
        if kind == "int" and not isinstance(v, bool) and float(v) == int(float(v)):
            return int(float(v))
        if kind == "float" and not isinstance(v, bool):
            return float(v)
        if kind == "str" and isinstance(v, str):
            return v
        if kind.startswith("list") and isinstance(v, (list, tuple)):
            item = kind[5:-1]
            return [_coerce(x, item, key, source) for x in v]
    except (TypeError, ValueError):
        pass
    raise ChoreoError(f"config key {key}: {v!r} is not a valid {kind}", source)


def builtin_configs() -> list[str]:
    """Names of the configs shipped with choreo."""
    root = resources.files("choreo") / "configs"
    try:
        return sorted(p.name[: -len(".yaml")] for p in root.iterdir() if p.name.endswith(".yaml"))
    except (FileNotFoundError, NotADirectoryError):
        return []


def resolve_config_path(name_or_path: str | os.PathLike) -> Path:
    """A config path as given, or the shipped ``choreo/configs/<name>.yaml`` for a bare name."""
    p = Path(name_or_path)
    if p.is_file():
        return p
    if p.suffix == "" and p.parent == Path("."):
        shipped = resources.files("choreo") / "configs" / f"{p.name}.yaml"
        if shipped.is_file():
            return Path(str(shipped))
        names = ", ".join(builtin_configs()) or "none"
        raise ChoreoError(f"no such config file or built-in config (built-in: {names})", p)
    raise ChoreoError("config file not found", p)
