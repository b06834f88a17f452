"""The tables of MODEL_CARD.md from an evaluation report (:func:`choreo.evaluation.run.evaluate_model`).

One markdown table per section: a row per metric, a column per set, each cell the mean [min, max] over seeds
(a single value for sets that do not depend on the seed, or for one seed). A number the reference formula
cannot define on a set (:func:`choreo.metrics.suite.zero_spread_reasons`) reads ``undefined (...)``, its
reason below the table; the JSON keeps the reference-exact value. With per-dance rows, a table per set gives
every metric per dance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

#: (key, label, how to read it): the rows of every table
ROWS = (
    ("fid_k", "FID_k", "lower is better"),
    ("fid_g", "FID_g", "lower is better"),
    ("div_k", "Div_k", "close to real"),
    ("div_g", "Div_g", "close to real"),
    ("bas", "BAS (Bailando)", "higher is better"),
    ("pfc", "PFC", "close to real / lower"),
    ("foot_sliding", "foot sliding (m/s)", "close to real / lower"),
    ("jitter", "jitter (m/s^3)", "close to real"),
    ("floor_height", "floor height (m, lowest joint)", "close to real"),
)
#: the rows Dance Revolution's metrics add (keys of the ``dancerevolution`` block, and freezing)
DR_ROWS = (
    ("freezing", "freezing (last / first fifth)", "close to real (~1)"),
    ("beat_coverage", "beat coverage (first 60 s)", "close to real"),
    ("beat_hit", "beat hit rate (first 60 s)", "higher is better"),
    ("acc", "ACC (style, per dance)", "higher is better"),
    ("multimodality_k", "multimodality_k", "higher is more varied"),
    ("fid_k_over_time_slope", "FID_k slope per 4 s clip", "~0: no drift"),
)
#: the columns of a per-dance table
PER_DANCE_COLUMNS = (
    ("fid_k", "FID_k"),
    ("div_k", "Div_k"),
    ("fid_g", "FID_g"),
    ("bas", "BAS"),
    ("pfc", "PFC"),
    ("foot_sliding", "sliding"),
    ("jitter", "jitter"),
    ("floor_height", "floor"),
)
UNDEFINED = "undefined (zero spread in the real set)"


def value(result: Mapping, key: str) -> float | None:
    """A metric of one result: top level first, then the Dance Revolution block."""
    if key in result:
        return result[key]
    return (result.get("dancerevolution") or {}).get(key)


def _num(v: float) -> str:
    # a set scored against itself gives 0 up to float round-off (FID -2.8e-14): print the 0 it is
    return "0" if abs(v) < 1e-9 else f"{v:.4g}"


def summarize(values: Sequence[float | None]) -> dict | None:
    """``{"mean", "min", "max", "n"}`` of the defined values (None when none is)."""
    v = np.array([x for x in values if x is not None], float)
    if v.size == 0:
        return None
    return {"mean": float(v.mean()), "min": float(v.min()), "max": float(v.max()), "n": int(v.size)}


def cell(values: Sequence[float | None], undefined: bool = False) -> str:
    """``mean [min, max]`` over seeds (one value alone), ``n/a`` when no value, the undefined mark."""
    if undefined:
        return UNDEFINED
    s = summarize(values)
    if s is None:
        return "n/a"
    if s["n"] == 1:
        return _num(s["mean"])
    return f"{_num(s['mean'])} [{_num(s['min'])}, {_num(s['max'])}]"


def _undefined(runs: Sequence[Mapping], key: str) -> list[str]:
    return [r["undefined"][key] for r in runs if key in (r.get("undefined") or {})]


def format_section(section: Mapping, dancerevolution: bool = False) -> str:
    """The markdown table of one section, then the reasons of its undefined cells."""
    sets = section["sets"]
    rows = ROWS + (DR_ROWS if dancerevolution else ())
    lines = [
        "| metric | " + " | ".join(s["label"] for s in sets.values()) + " | |",
        "|---" * (len(sets) + 2) + "|",
    ]
    reasons = []
    for key, label, note in rows:
        cells = []
        for s in sets.values():
            why = _undefined(s["runs"], key)
            cells.append(cell([value(r, key) for r in s["runs"]], undefined=bool(why)))
            if why:
                reasons.append(f"- {label} of {s['label']}: {why[0]}")
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {note} |")
    if dancerevolution:
        lines += ["", "FID_k per 4 s clip of the first minute (first seed):", ""]
        for s in sets.values():
            curve = value(s["runs"][0], "fid_k_over_time") or []
            lines.append(f"- {s['label']}: " + " ".join("n/a" if v is None else f"{v:.1f}" for v in curve))
    if reasons:
        lines += ["", "Undefined (the JSON keeps the reference-exact number):", *reasons]
    return "\n".join(lines)


def per_dance_rows(set_: Mapping) -> dict[str, dict[str, dict | None]]:
    """``{dance: {metric: summary over seeds}}`` of one set's per-dance results (see :func:`summarize`)."""
    names: list[str] = []
    for r in set_["runs"]:
        names += [n for n in r.get("per_dance", {}) if n not in names]
    out = {}
    for name in names:
        rows = [r["per_dance"][name] for r in set_["runs"] if name in r.get("per_dance", {})]
        out[name] = {k: summarize([row.get(k) for row in rows]) for k in rows[0] if k not in ("undefined",)}
        out[name]["undefined"] = {k: v for row in rows for k, v in row["undefined"].items()}
    return out


def format_per_dance(section: Mapping) -> str:
    """A markdown table per set: a row per dance, each metric mean [min, max] over seeds."""
    blocks = []
    for s in section["sets"].values():
        if not any("per_dance" in r for r in s["runs"]):
            continue
        lines = [
            f"{s['label']}, per dance:",
            "",
            "| dance | " + " | ".join(label for _, label in PER_DANCE_COLUMNS) + " |",
            "|---" * (len(PER_DANCE_COLUMNS) + 1) + "|",
        ]
        names = list(per_dance_rows(s))
        for name in names:
            cells = []
            for key, _ in PER_DANCE_COLUMNS:
                runs = [r["per_dance"][name] for r in s["runs"] if name in r.get("per_dance", {})]
                why = [row["undefined"][key] for row in runs if key in row["undefined"]]
                cells.append(cell([row.get(key) for row in runs], undefined=bool(why)))
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def format_report(report: Mapping, dancerevolution: bool = False, per_dance: bool = False) -> str:
    """Every section's table (and per-dance tables), the seeds and the speed, in markdown."""
    seeds = ", ".join(str(s) for s in report["seeds"])
    parts = [
        f"Model {report['model']}, protocol {report['protocol']}; seeds {seeds}: mean [min, max] over seeds.",
    ]
    for section in report["sections"]:
        parts.append(f"### {section['title']}\n\n{format_section(section, dancerevolution)}")
        if per_dance:
            parts.append(format_per_dance(section))
    sp = report["speed"]
    if sp["ratio"]:
        parts.append(
            f"Generation: {sp['dance_seconds']:.0f} s of dance in {sp['compute_seconds']:.0f} s of compute "
            f"({sp['ratio']:.2f} s of dance per second)."
        )
    return "\n\n".join(parts) + "\n"
