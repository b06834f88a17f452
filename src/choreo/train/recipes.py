"""The runs that rebuild a packaged model from its recipe (``assets/models.json``, :mod:`choreo.packaged`)."""

from __future__ import annotations

from pathlib import Path

from choreo.errors import ChoreoError
from choreo.packaged import PackagedModel
from choreo.train.config import RunConfig, apply_overrides


def recipe_runs(
    model: PackagedModel, data: str, out: str | Path, built: dict[str, str] | None = None
) -> list[tuple[RunConfig, Path]]:
    """The runs that rebuild ``model`` on ``data``, in order: ``(config, run folder)`` per leg, the recipe's own
    config last (in ``out``). ``built`` maps a packaged model the recipe needs to the file or run that replaces it
    (default: the packaged one)."""
    if not model.recipe.get("config"):
        raise ChoreoError(f"the packaged model {model.name!r} names no recipe in models.json")
    needs = [f"{k}={(built or {}).get(v, v)}" for k, v in (model.recipe.get("needs") or {}).items()]
    runs, previous = [], None
    legs = [*model.recipe.get("legs", []), model.recipe["config"]]
    for i, name in enumerate(legs):
        cfg = RunConfig.load(name)
        cfg.data.path = str(data)
        cfg = apply_overrides(cfg, [n for n in needs if n.split("=")[0].split(".")[1] in cfg.model], "models.json")
        if previous is not None:
            cfg.train.init_from = str(previous)
        run = Path(out) if i == len(legs) - 1 else Path(out) / name
        runs.append((cfg, run))
        previous = run
    return runs
