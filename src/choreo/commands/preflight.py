"""Checks a command makes before it computes anything, and outputs that appear all together or not at all.

A dance takes seconds to minutes to sample; an output folder that cannot be written, a format the model's
skeleton cannot take or a time range outside the song must be refused before the model even loads. What a
command can know that early comes from the arguments, the input files' headers and the checkpoint's stored
spec (:func:`model_facts` reads it without building the network). A command's outputs are written under
temporary names beside their targets and renamed together at the end (:func:`staged_outputs`), so a failure
half-way leaves nothing behind.

No subcommand here (no ``NAME``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from choreo.errors import ChoreoError
from choreo.motion.skeleton import Skeleton

#: outputs every skeleton can be drawn to (the renderer draws 3D and 2D skeletons alike)
VIDEO_FORMATS = ("mp4", "gif")


def check_out_dir(out_dir: str | os.PathLike) -> Path:
    """The output folder, checked: it is a folder or can be made one (no regular file on its path) and the
    nearest existing folder on its path is writable. Nothing is created.

    Raises:
        ChoreoError: naming the path that is in the way.
    """
    out = Path(out_dir)
    probe = out
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        where = "is a file, not a folder" if probe == out else f"cannot make output folder {out}: {probe} is a file"
        raise ChoreoError(where, probe if probe == out else None)
    if probe.exists() and not os.access(probe, os.W_OK | os.X_OK):
        raise ChoreoError("cannot write here (permission denied)", probe)
    return out


@dataclass(frozen=True)
class ModelFacts:
    """What a checkpoint says about its model without building it: ``path``, ``makes`` (``dance``, ``music``,
    ``codec``), ``method``, ``fps`` (its motion frame rate), ``skeleton`` and ``representation`` (its name;
    both None for audio-only models)."""

    path: Path
    makes: str
    method: str
    fps: float | None
    skeleton: Skeleton | None
    representation: str | None = None


def model_facts(path: str | os.PathLike) -> ModelFacts:
    """Read a checkpoint's stored spec (a fraction of a second: no network is built).

    Raises:
        ChoreoError: a missing, corrupt or foreign file.
    """
    import numpy as np

    from choreo.checkpoint import load_checkpoint, resolve_checkpoint
    from choreo.models import METHODS

    p = resolve_checkpoint(path)
    state = load_checkpoint(p)
    method = str(state.get("method"))
    if method not in METHODS:
        raise ChoreoError(f"method {method!r} is not one this choreo runs ({', '.join(METHODS)})", p)
    spec = state.get("spec") or {}
    skeleton = None
    if spec.get("representation") and spec.get("skeleton"):
        try:
            skeleton = Skeleton.from_arrays({k: np.asarray(v) for k, v in spec["skeleton"].items()})
        except (KeyError, TypeError, ValueError) as exc:
            raise ChoreoError(f"malformed checkpoint spec ({type(exc).__name__}: {exc})", p) from None
    fps = spec.get("fps")
    rate = None if fps is None else float(fps)
    rep = spec.get("representation")
    return ModelFacts(p, str(state.get("produces", "dance")), method, rate, skeleton, None if rep is None else str(rep))


def check_model_makes(facts: ModelFacts, makes: str, given: str | None) -> None:
    """Refuse a model that makes something else than ``makes`` (``dance`` or ``music``), naming those that do.

    Args:
        given: the name or path the user gave (None: the packaged default).
    """
    if facts.makes == makes:
        return
    from choreo.packaged import packaged_names

    names = ", ".join(packaged_names(makes)) or "none packaged"
    what = {"dance": "dances", "music": "music"}.get(makes, makes)
    made = {"dance": "dances", "music": "music"}.get(facts.makes)
    does = f"makes {made}, not {what}" if made else f"makes no {what} (it is a part that other models build on)"
    raise ChoreoError(f"{given or facts.path} ({facts.method} model) {does} (packaged {makes} models: {names})")


def check_formats(skeleton: Skeleton | None, formats: Sequence[str], what: str = "the model's dances") -> None:
    """Refuse any motion format that ``skeleton`` cannot be written as (videos take every skeleton).

    Raises:
        ChoreoError: the first format that cannot be written, with the reason.
    """
    if skeleton is None:
        return
    from choreo.motion.formats import write_problem

    for fmt in formats:
        if fmt in VIDEO_FORMATS:
            continue
        problem = write_problem(skeleton, fmt)
        if problem:
            raise ChoreoError(f"--format {fmt}: {what} cannot be written as {fmt}: {problem}")


def _made_folders(folder: Path) -> list[Path]:
    """Make ``folder`` (and missing parents); return the folders made, deepest first."""
    missing = []
    probe = folder
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ChoreoError(f"cannot make the output folder ({exc.strerror or exc})", folder) from None
    return missing


@contextlib.contextmanager
def staged_outputs(targets: Sequence[str | os.PathLike]) -> Iterator[list[Path]]:
    """Temporary paths, one beside each target (same suffix, hidden name); when the block ends without error
    they are renamed to their targets one after the other, so a command's outputs appear together. On any
    error (or Ctrl-C) every temporary file is removed, and so is any folder made for them that is left empty.

    Yields:
        the temporary paths, in the order of ``targets`` (each exists, empty: writers replace it).
    """
    targets = [Path(t) for t in targets]
    made: list[Path] = []
    tmps: list[Path] = []
    try:
        for t in targets:
            folder = t.parent if str(t.parent) else Path(".")
            made += _made_folders(folder)
            try:
                fd, name = tempfile.mkstemp(prefix=f".{t.stem}.part-", suffix=t.suffix, dir=folder)
            except OSError as exc:
                raise ChoreoError(f"cannot write here ({exc.strerror or exc})", t) from None
            os.close(fd)
            tmps.append(Path(name))
        yield list(tmps)
        umask = os.umask(0)
        os.umask(umask)
        for tmp, t in zip(tmps, targets, strict=True):
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; give the permissions a plain open() would
            os.replace(tmp, t)
    except BaseException:
        for tmp in tmps:
            with contextlib.suppress(OSError):
                tmp.unlink()
        for folder in made:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when empty
        raise
