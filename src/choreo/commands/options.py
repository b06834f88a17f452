"""Argument parsing shared by several commands (no subcommand here: it has no ``NAME``)."""

from __future__ import annotations

from collections.abc import Sequence

from choreo.errors import ChoreoError


def parse_formats(text: str, allowed: Sequence[str]) -> list[str]:
    """``"mp4,bvh"`` -> ``["mp4", "bvh"]``: lower-cased, leading dots dropped, duplicates removed, order kept.

    Raises:
        ChoreoError: a format not in ``allowed``, or none at all.
    """
    out = []
    for f in text.split(","):
        f = f.strip().lower().lstrip(".")
        if not f:
            continue
        if f not in allowed:
            raise ChoreoError(f"unknown output format {f!r} (choose among {', '.join(allowed)})")
        if f not in out:
            out.append(f)
    if not out:
        raise ChoreoError("--format names no output")
    return out
