"""Sampling settings as text: ``"guidance=3;ssr_guidance=1.0;ssr_root=base"`` -> typed options.

A setting is ``;``-separated ``NAME=VALUE`` pairs: ``steps``, ``guidance`` or any of the method's sampling
options (``choreo dance --help``); the model's own values fill in the rest. The empty setting is the model's own.
"""

from __future__ import annotations

from typing import Any

from choreo.errors import ChoreoError


def parse_value(text: str) -> Any:
    """``"none"`` / ``"null"`` -> None, ``"true"`` / ``"false"`` -> bool, then int, then float, else the text."""
    value = text.strip()
    if value.lower() in ("none", "null"):
        return None
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def parse_options(items: list[str]) -> dict[str, Any]:
    """``["ssr_steps=50", "noise_level=0.1", "ssr_guidance=none"]`` -> ``{"ssr_steps": 50, ...}`` (typed values).

    Raises:
        ChoreoError: an item that is not ``NAME=VALUE``.
    """
    out = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise ChoreoError(f"a setting is NAME=VALUE pairs separated by ';', got {item!r}")
        out[name.strip()] = parse_value(text)
    return out


def parse_setting(text: str) -> dict[str, Any]:
    """One setting (``"guidance=4;ssr_guidance=1.5"``; empty: the model's own) -> its options."""
    return parse_options([item for item in text.split(";") if item.strip()])
