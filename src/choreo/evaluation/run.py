"""The evaluation pipeline: music -> the model's dances (feet locked, as ``choreo dance`` makes them) -> the
field's metrics against real dances, for every seed, beside the baselines.

:func:`evaluate_model` returns a report (a JSON-ready dict) that :mod:`choreo.evaluation.table` prints:

``{"model", "protocol", "seeds", "settings", "sections": [section, ...], "speed"}``, a section being
``{"title", "reference", "sets": {key: {"label", "seeded", "settings", "runs": [result per seed]}}}``. A
result is :func:`choreo.metrics.suite.evaluate`'s dict (plus ``"dancerevolution"`` and ``"per_dance"`` when
asked); ``runs`` of a set that does not depend on the seed (the real dances, the baselines made of real dances)
hold one result. ``speed`` counts every dance sampled (baselines included).

Seeds: the dance to target k under seed s is sampled with seed ``s * seed_stride + k`` (extra dances for
multimodality: ``+ 1000 j``), so that seed 0 gives every song its own noise and seeds are reproducible
one by one (``seed_stride`` 1 is what MODEL_CARD.md's test-split tables used, 100 its sampling table).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from choreo.evaluation.baselines import mismatched_dances, no_music_settings, training_dances
from choreo.evaluation.sets import Target, as_stored
from choreo.metrics.suite import Entry, Protocol, evaluate
from choreo.motion.motion import Motion

#: the metrics every per-dance row carries (keys of :func:`choreo.metrics.suite.evaluate`'s result)
PER_DANCE_KEYS = (
    "fid_k",
    "fid_g",
    "div_k",
    "div_g",
    "bas",
    "pfc",
    "foot_sliding",
    "jitter",
    "freezing",
    "floor_height",
)


@dataclass
class Scoring:
    """How dances become numbers.

    Attributes:
        protocol: the metric protocol (MODEL_CARD.md: ``edge``).
        feature_variant: ``reference`` or ``corrected`` (None: the protocol's).
        dancerevolution: also Dance Revolution's metrics (:mod:`choreo.metrics.dancerevolution`).
        style, style_classifier: for Dance Revolution's ACC (see ``choreo eval --help``).
        per_dance: also every metric per dance (each dance scored alone against the whole reference set).
    """

    protocol: Protocol
    feature_variant: str | None = None
    dancerevolution: bool = False
    style: str | None = None
    style_classifier: str | None = None
    per_dance: bool = False
    _classifier: Any = field(default=None, repr=False)

    def classifier(self):
        if self._classifier is None:
            from choreo.metrics.dance_style import StyleClassifier

            self._classifier = StyleClassifier.load(self.style_classifier)
        return self._classifier


def score(pred: Sequence[Entry], gt: Sequence[Entry], scoring: Scoring) -> dict:
    """Every metric of ``pred`` against ``gt`` (``choreo eval``'s JSON), with ``per_dance`` rows when asked."""
    result = evaluate(pred, gt, scoring.protocol, feature_variant=scoring.feature_variant)
    if scoring.dancerevolution:
        from choreo.metrics.dancerevolution import evaluate_dancerevolution

        variant = scoring.feature_variant or scoring.protocol.feature_variant
        result["dancerevolution"] = evaluate_dancerevolution(
            pred, gt, scoring.style, scoring.classifier(), feature_variant=variant
        )
    if scoring.per_dance:
        result["per_dance"] = per_dance(pred, gt, scoring)
    return result


def per_dance(pred: Sequence[Entry], gt: Sequence[Entry], scoring: Scoring) -> dict[str, dict]:
    """Each generated dance scored alone against the whole reference set: ``{name: {metric: value, "clips": n,
    "undefined": {...}}}``.

    BAS, PFC, foot sliding, jitter, freezing and floor height are the dance's own numbers (the set's are their
    mean over clips or over dances); FID is the dance's clips against the reference set (normalised with it, as
    the set's), Div the spread of its own clips (None for a dance of one clip).
    """
    out = {}
    for e in pred:
        r = evaluate([e], gt, scoring.protocol, feature_variant=scoring.feature_variant)
        row = {k: r.get(k) for k in PER_DANCE_KEYS}
        row["clips"] = r["n_clips"]["pred"]
        row["undefined"] = r.get("undefined") or {}
        out[e.name] = row
    return out


def _entries(motions: Mapping[str, Motion], targets: Mapping[str, Target]) -> list[Entry]:
    """Entries of dances named ``TARGET`` or ``TARGET_seed<j>`` with their target's beats."""
    out = []
    for name, m in motions.items():
        t = targets[name if name in targets else name.rsplit("_seed", 1)[0]]
        out.append(Entry(name, m, t.beats, str(t.song)))
    return out


def _write(out: Path | None, folder: str, motions: Mapping[str, Motion]) -> None:
    if out is None:
        return
    from choreo.motion.formats import write_motion

    (out / folder).mkdir(parents=True, exist_ok=True)
    for name, m in motions.items():
        write_motion(m, out / folder / f"{name}.npz")


def _write_beats(out: Path | None, folder: str, targets: Sequence[Target]) -> None:
    if out is None:
        return
    from choreo.audio.beats import write_beats

    (out / folder).mkdir(parents=True, exist_ok=True)
    for t in targets:
        write_beats(out / folder / f"{t.name}.beats", t.beats)


@dataclass
class Dancer:
    """A model and how many dances it makes per target (seeds as in the module docstring)."""

    model: Any  # a choreo.generate.Choreographer
    seed_stride: int = 1
    samples: int = 1
    compute_s: float = 0.0
    dance_s: float = 0.0

    def dance(
        self, targets: Sequence[Target], seed: int, options: Mapping[str, Any], raw: bool = False
    ) -> dict[str, Motion]:
        """The model's dances to ``targets``, as ``choreo dance`` makes them (``raw``: the model's own output,
        without foot locking, grounding or the skeleton fit) and its npz files hold them (float32,
        :func:`~choreo.evaluation.sets.as_stored`). Extra samples are named ``TARGET_seed<j>``."""
        out = {}
        for k, t in enumerate(targets):
            for j in range(self.samples):
                t0 = time.perf_counter()
                name = t.name if j == 0 else f"{t.name}_seed{j}"
                dance = self.model.dance(
                    str(t.song),
                    seconds=t.seconds,
                    start=t.start,
                    seed=seed * self.seed_stride + k + 1000 * j,
                    progress=False,
                    foot_lock=not raw,
                    ground=not raw,
                    fit_skeleton=not raw,
                    **options,
                )
                out[name] = as_stored(dance)
                self.compute_s += time.perf_counter() - t0
                self.dance_s += t.seconds
        return out


def _setting_label(options: Mapping[str, Any]) -> str:
    return ";".join(f"{k}={v}" for k, v in options.items()) or "its own settings"


def evaluate_model(
    dancer: Dancer,
    targets: Sequence[Target],
    scoring: Scoring,
    seeds: Sequence[int] = (0,),
    settings: Sequence[Mapping[str, Any]] = ({},),
    data: Path | None = None,
    held: set[str] | None = None,
    songs: Sequence[Target] = (),
    unlocked: bool = False,
    title: str = "split",
    model_label: str = "model",
    out: Path | None = None,
    log: Callable[[str], None] | None = None,
) -> dict:
    """Dance to ``targets`` (and ``songs``) with every setting and seed, and score everything.

    Args:
        dancer: the model (:class:`Dancer`).
        targets: music with real dances (:mod:`choreo.evaluation.sets`); the reference set.
        scoring: protocol and extras (:class:`Scoring`).
        seeds: one run per seed; tables give mean [min, max] over them.
        settings: sampling options per setting (the first one also makes the baselines that sample).
        data: the Dance with Melody folder the training-dance baseline draws from (None: no such baseline).
        held: dance names that are not training dances (default: the targets' names).
        unlocked: also the first setting's raw dances: no foot locking, grounding or skeleton fit (every dance
            sampled twice).
        songs: music without real dances (e.g. Creative-Commons clips), judged against ``targets``' real dances.
        title: the section's title; model_label: the model's column label.
        out: a folder to write every dance (npz), the real ones and the beats, so that ``choreo eval --pred``
            can score any set again (None: nothing written).
        log: called with a progress line after each seed's dances (None: silent).

    Returns:
        the report (module docstring).
    """
    method = dancer.model.method
    real = {t.name: t.real for t in targets if t.real is not None}
    by_name = {t.name: t for t in targets}
    gt = _entries(real, by_name)
    _write(out, "split/real", real)
    _write_beats(out, "split/music", targets)
    plain = no_music_settings(method.sampling_options, settings[0])
    guided_label = " (guidance 0)"

    sets: dict[str, dict] = {}

    def add(key: str, label: str, seeded: bool, options, motions_per_seed: list[dict[str, Motion]]) -> None:
        runs = [score(_entries(m, by_name), gt, scoring) for m in motions_per_seed]
        sets[key] = {"label": label, "seeded": seeded, "settings": options, "runs": runs}
        for s, m in zip(seeds if seeded else [None], motions_per_seed, strict=False):
            _write(out, f"split/{key}" + ("" if s is None else f"/seed{s}"), m)

    add("real", "real dances", False, None, [real])
    for i, options in enumerate(settings):
        key = "model" if len(settings) == 1 else f"model_{i}"
        label = model_label if len(settings) == 1 else f"{model_label}, {_setting_label(options)}"
        locked = []
        for seed in seeds:
            locked.append(dancer.dance(targets, seed, options))
            if log is not None:
                log(f"{title}: {label}, seed {seed}: {len(locked[-1])} dances")
        add(key, label, True, dict(options), locked)
        if i == 0 and unlocked:
            raw = [dancer.dance(targets, seed, options, raw=True) for seed in seeds]
            add("model_raw", f"{model_label}, raw (no foot lock, grounding or fit)", True, dict(options), raw)
    if plain is not None:
        no_music = [dancer.dance(targets, seed, plain) for seed in seeds]
        add("no_music", "no music" + guided_label, True, plain, no_music)
    if data is not None:
        held = held if held is not None else {t.name for t in targets}
        add("training_dances", "training dances, these songs", False, None, [training_dances(targets, data, held)])
    mismatched = mismatched_dances(targets)
    if mismatched:
        add("mismatched", "real dances, mismatched songs", False, None, [mismatched])
    sections = [{"title": title, "reference": "real dances", "sets": sets}]

    if songs:
        song_by_name = {t.name: t for t in songs}
        song_sets: dict[str, dict] = {}
        _write_beats(out, "songs/music", songs)
        for key, label, options in (
            ("model", model_label, settings[0]),
            ("no_music", "no music" + guided_label, plain),
        ):
            if options is None:
                continue
            runs = []
            for seed in seeds:
                dances = dancer.dance(songs, seed, options)
                _write(out, f"songs/{key}/seed{seed}", dances)
                runs.append(score(_entries(dances, song_by_name), gt, scoring))
            song_sets[key] = {"label": label, "seeded": True, "settings": dict(options), "runs": runs}
        title = f"Songs without dances ({len(songs)}, first {max(t.seconds for t in songs):.0f} s)"
        sections.append({"title": title, "reference": "the split's real dances", "sets": song_sets})

    speed = dancer.dance_s / dancer.compute_s if dancer.compute_s else None
    return {
        "model": model_label,
        "protocol": scoring.protocol.name,
        "seeds": list(seeds),
        "seed_stride": dancer.seed_stride,
        "samples": dancer.samples,
        "settings": [method.sampling_settings(**dict(o)) for o in settings],
        "sections": sections,
        "speed": {"dance_seconds": dancer.dance_s, "compute_seconds": dancer.compute_s, "ratio": speed},
    }
