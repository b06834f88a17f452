"""The models shipped inside the package (``choreo/assets``), by name.

``assets/models.json`` lists them: a name, the checkpoint file, what it was trained on and the licence of that
data, and the recipe that rebuilds it (a built-in config of ``choreo/configs``, the step the file was taken at when
that is not the schedule's end, and the packaged models it is built on); which one is the default for each kind
of output (``dance``, ``music``). Everything else (method, frame rate, skeleton, feature set) is read from the
checkpoint itself. ``scripts/rebuild_packaged_model.py NAME`` rebuilds a file from its recipe.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from choreo.errors import ChoreoError

INDEX = "models.json"


@dataclass(frozen=True)
class PackagedModel:
    """One shipped model: ``name``, ``path`` (its checkpoint), ``description``, ``data``, ``licence`` and
    ``recipe``: ``{"config": built-in config name, "stop_at": step (optional), "legs": [built-in config, ...]
    (optional: runs trained first, in order, each starting from the one before through ``train.init_from``; the
    config's own run starts from the last), "needs": {"model.KEY": packaged model name} (optional: a setting that
    names another packaged model, which is built first)}``."""

    name: str
    path: Path
    description: str
    data: str
    licence: str
    recipe: dict = field(default_factory=dict)


def _assets() -> Path:
    return Path(str(resources.files("choreo") / "assets"))


def _index() -> dict:
    path = _assets() / INDEX
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {"default": {}, "models": {}}
    except (OSError, ValueError) as exc:
        raise ChoreoError(f"the packaged model index is unreadable ({exc})", path) from None


def packaged_models() -> list[PackagedModel]:
    """Every model in the index whose checkpoint is installed, in index order."""
    out = []
    for name, entry in _index().get("models", {}).items():
        path = _assets() / entry["file"]
        if path.is_file():
            out.append(
                PackagedModel(
                    name,
                    path,
                    entry.get("description", ""),
                    entry.get("data", ""),
                    entry.get("licence", ""),
                    dict(entry.get("recipe") or {}),
                )
            )
    return out


def packaged_names(makes: str | None = None) -> list[str]:
    """Names of the installed packaged models, in index order; with ``makes`` (``dance``, ``music``) only those
    whose checkpoint makes that (the codec, a part of D2M-GAN, makes neither)."""
    models = packaged_models()
    if makes is None:
        return [m.name for m in models]
    from choreo.checkpoint import load_checkpoint

    out = []
    for m in models:
        try:
            produces = load_checkpoint(m.path).get("produces", "dance")
        except ChoreoError:
            continue  # an unreadable file is nobody's choice
        if produces == makes:
            out.append(m.name)
    return out


def default_model_name(produces: str = "dance") -> str:
    """The name of the default model for ``dance`` (music -> dance) or ``music`` (dance -> music)."""
    name = _index().get("default", {}).get(produces)
    if not name:
        raise ChoreoError(f"no default {produces} model is packaged with choreo; pass --checkpoint FILE_OR_RUN_DIR")
    return name


def resolve_model(name_or_path: str | os.PathLike | None, produces: str = "dance") -> Path:
    """The checkpoint file of a path (a run folder gives its ``last.ckpt``), a packaged model's by name, or
    (None) the default's.

    Raises:
        ChoreoError: neither an existing path nor a packaged name (the message lists the names of the packaged
            models that make ``produces``).
    """
    if name_or_path is None:
        name_or_path = default_model_name(produces)
    p = Path(name_or_path)
    if p.exists():
        from choreo.checkpoint import resolve_checkpoint

        return resolve_checkpoint(p)
    models = {m.name: m for m in packaged_models()}
    if str(name_or_path) in models:
        return models[str(name_or_path)].path
    names = ", ".join(packaged_names(produces)) or "none installed"
    if p.suffix or os.sep in str(name_or_path):
        raise ChoreoError(f"checkpoint not found (packaged {produces} models: {names})", p)
    raise ChoreoError(
        f"no such packaged model (packaged {produces} models: {names}; or give a checkpoint file or run folder)", p
    )
