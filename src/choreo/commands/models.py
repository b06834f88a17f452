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
    ``--style`` takes; empty for a model that takes none), size, data, licence."""
    from choreo.checkpoint import load_checkpoint
    from choreo.packaged import default_model_name, packaged_models

    rows = []
    for m in packaged_models():
        state = load_checkpoint(m.path)
        spec = state.get("spec") or {}
        skeleton = (spec.get("skeleton") or {}).get("skeleton_name")
        produces = state.get("produces", "dance")
        model_cfg = (state.get("config") or {}).get("model") or {}
        takes_style = state.get("method") == "d2mgan" or bool(model_cfg.get("style_cond"))
        styles = [str(x) for x in (spec.get("styles") or ())] if takes_style else []
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
        if r["representation"]:
            what = (
                f"at {r['fps']:g} fps, skeleton {r['skeleton']}, {r['representation']}, music features {r['features']}"
            )
        else:  # an audio model (a codec): no motion side
            what = f"audio at {r['audio_sr']} Hz"
        print(f"  makes {r['makes']} with {r['method']} {what}, {r['size_mb']} MB")
        if r["styles"]:
            print(f"  styles (--style): {', '.join(r['styles'])}")
        print(f"  data: {r['data']}")
        print(f"  licence of the data: {r['licence']}")
    return 0
