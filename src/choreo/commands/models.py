"""``choreo models``: the models shipped with choreo (method, data, size, frame rate, licence of the data)."""

from __future__ import annotations

import argparse
import json

NAME = "models"


def add_parser(sub) -> None:
    p = sub.add_parser(
        NAME,
        help="list the packaged models",
        description="List the models shipped inside choreo; use one with `choreo dance SONG --model NAME`.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    p.set_defaults(func=run)


def describe() -> list[dict]:
    """One dict per packaged model: name, default, makes, method, fps, skeleton, features, styles (the ones
    ``--style`` takes; empty for a model that takes none), sampling (its sampling defaults), recipe (the built-in
    config that rebuilds it), size, data, licence. Read from the files and the method classes, nothing built."""
    from choreo.checkpoint import load_checkpoint
    from choreo.models import method_class
    from choreo.packaged import default_model_name, packaged_models

    rows = []
    for m in packaged_models():
        state = load_checkpoint(m.path)
        spec = state.get("spec") or {}
        skeleton = (spec.get("skeleton") or {}).get("skeleton_name")
        produces = state.get("produces", "dance")
        model_cfg = (state.get("config") or {}).get("model") or {}
        cls = method_class(str(state.get("method")))
        styles = [str(x) for x in (spec.get("styles") or ())] if cls.takes_style(model_cfg) else []
        sampling = {k: model_cfg[k] for k in cls.sampling_options if k in model_cfg}
        try:
            default = default_model_name(produces) == m.name
        except Exception:  # noqa: BLE001 - no default of that kind
            default = False
        rows.append(
            {
                "name": m.name,
                "default": default,
                "makes": produces,
                "method": state.get("method"),
                "fps": spec.get("fps"),
                "skeleton": str(skeleton) if skeleton is not None else None,
                "representation": spec.get("representation"),
                "features": spec.get("feature_set"),
                "audio_sr": spec.get("audio_sr"),
                "styles": styles,
                "sampling": sampling,
                "recipe": m.recipe.get("config"),
                "size_mb": round(m.path.stat().st_size / 1e6, 1),
                "data": m.data,
                "licence": m.licence,
                "description": m.description,
                "path": str(m.path),
            }
        )
    return rows


def run(args) -> int:
    rows = describe()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no packaged models are installed")
        return 0
    for r in rows:
        flag = "  (default)" if r["default"] else ""
        print(f"{r['name']}{flag}")
        print(f"  {_what(r)}, {r['size_mb']} MB")
        if r["styles"]:
            print(f"  styles (--style): {', '.join(r['styles'])}")
        if r["sampling"]:
            print("  sampling defaults: " + ", ".join(f"{k} {v}" for k, v in r["sampling"].items() if v is not None))
        if r["recipe"]:
            print(f"  recipe: choreo train --config {r['recipe']} (scripts/rebuild_packaged_model.py {r['name']})")
        print(f"  data: {r['data']}")
        print(f"  licence of the data: {r['licence']}")
    return 0


def _what(r: dict) -> str:
    """What a model makes, in words."""
    motion = f"{r['fps']:g} fps, skeleton {r['skeleton']}"
    if r["makes"] == "dance":
        return f"dances from music with {r['method']}: {motion}, music features {r['features']}"
    if r["makes"] == "music":
        return f"music from dances with {r['method']}: reads {motion}, writes audio at {r['audio_sr']} Hz"
    return f"an audio codec at {r['audio_sr']} Hz (a part of the music models, not a generator by itself)"
