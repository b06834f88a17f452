"""What a model's dances are compared with, besides the real dances.

- **no music** (:func:`no_music_settings`): the same model at guidance 0, its unconditional branch, which never
  hears the music, nor the style a model with styles would hear in it (``guidance_from`` is ``nothing``
  whatever the model's own). Only for methods with guidance.
- **training dances** (:func:`training_dances`): for each target, a real training dance of the same style
  (C/R/T/W, the longest one) cut to the target's length and played to its music: real dancing, not to this
  music. It is the floor of FID (real kinetics) and the BAS of dancing that ignores the music.
- **mismatched real dances** (:func:`mismatched_dances`): the split's own real dances, each played to the
  next target's music (a rotation by one): the reference's own kinetics, with music it was not danced to.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from choreo.errors import ChoreoError
from choreo.evaluation.sets import Target, as_stored
from choreo.motion.motion import Motion


def no_music_settings(sampling_options: Sequence[str], options: Mapping[str, Any]) -> dict[str, Any] | None:
    """The sampling options of the no-music baseline (guidance 0 from nothing), or None for a method without
    guidance (its music cannot be switched off)."""
    if "guidance" not in sampling_options:
        return None
    plain = {**options, "guidance": 0.0}
    if "guidance_from" in sampling_options:
        plain["guidance_from"] = "nothing"
    return plain


def _style_letter(name: str) -> str | None:
    """``DANCE_W_3`` -> ``"W"``; None for other names."""
    from choreo.data.sources import style_of

    style = style_of(name)
    return None if style is None else name.split("_")[1]


def training_dances(targets: Sequence[Target], data: Path, held: set[str]) -> dict[str, Motion]:
    """For every target with a real dance, the longest training dance of its style (any style where it has
    none, or the name tells none) in the Dance with Melody folder ``data``, cut to the target's length.

    Args:
        targets: the targets (their names pick the style).
        data: the Dance with Melody folder.
        held: dance names that are not training dances (the test split and the evaluated dances).

    Returns:
        ``{target name: motion}``.
    """
    from choreo.data.sources import style_of
    from choreo.motion.formats import read_motion

    train = sorted(p.name for p in data.glob("DANCE_*") if p.is_dir() and p.name not in held and style_of(p.name))
    if not train:
        raise ChoreoError("no training dances (DANCE_<style>_<n> folders) for the training-dance baseline", data)
    longest: dict[str | None, Motion] = {}
    out = {}
    for t in targets:
        if t.real is None:
            continue
        letter = _style_letter(t.name)
        if letter not in longest:
            same = [n for n in train if n.split("_")[1] == letter] or train
            longest[letter] = as_stored(max((read_motion(data / n) for n in same), key=lambda m: m.n_frames))
        other = longest[letter]
        out[t.name] = other.crop(0, min(other.n_frames, int(round(t.seconds * other.fps))))
    return out


def mismatched_dances(targets: Sequence[Target]) -> dict[str, Motion]:
    """Each target's music with the next target's real dance (cut to the music's length); empty with fewer than
    two real dances."""
    real = [t for t in targets if t.real is not None]
    if len(real) < 2:
        return {}
    out = {}
    for k, t in enumerate(real):
        other = real[(k + 1) % len(real)].real
        out[t.name] = other.crop(0, min(other.n_frames, int(round(t.seconds * other.fps))))
    return out
