"""The models shipped inside the package (``choreo/assets``), by name.

``assets/models.json`` lists them: a name, the checkpoint file, what it was trained on and the licence of that
data; which one is the default for each kind of output (``dance``, ``music``). Everything else (method, frame
rate, skeleton, feature set) is read from the checkpoint itself.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from choreo.errors import ChoreoError

INDEX = "models.json"


@dataclass(frozen=True)
class PackagedModel:
    """One shipped model: ``name``, ``path`` (its checkpoint), ``description``, ``data``, ``licence``."""

    name: str
    path: Path
    description: str
    data: str
    licence: str


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
                PackagedModel(name, path, entry.get("description", ""), entry.get("data", ""), entry.get("licence", ""))
            )
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
        ChoreoError: neither an existing path nor a packaged name (the message lists the names).
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
    names = ", ".join(models) or "none installed"
    if p.suffix or os.sep in str(name_or_path):
        raise ChoreoError(f"checkpoint not found (packaged models: {names})", p)
    raise ChoreoError(f"no such packaged model (packaged: {names}; or give a checkpoint file or run folder)", p)
