"""The high-level dance API: a trained music-to-dance model (any method) in, a dance out.

    >>> from choreo.generate import Choreographer, Edit
    >>> ch = Choreographer.load("runs/edge")               # a checkpoint file, a run folder or a packaged name
    >>> dance = ch.dance("song.mp3", seconds=30, seed=1)   # -> choreo.motion.Motion at the model's fps

Sampling settings (EDGE: guidance, steps, sampler, eta) default to those saved in the checkpoint's config;
pass any of them to override.

Music is a path (features computed with the checkpoint's feature set and fps, cached by the audio
layer), an ``(samples, sample_rate)`` tuple, or an already computed (frames, F) feature array. The
default length is the whole song (from ``start``); any length works: long songs are generated from
overlapping windows (EDGE's long-form scheme) in bounded memory, songs shorter than one window are
padded (features mirrored at the end) and the dance cropped to the song. Silence is music too. A dance lasts at
least :data:`MIN_SECONDS` (1 s): a shorter song or ``seconds`` is refused before anything is computed.

Post-processing (position-based models): feet are locked while in contact (``foot_lock``), then the skeleton is
fitted once so that every bone keeps one length (``fit_skeleton``): the dance's BVH, GLB and npz then agree.

Editing (inpainting): pass ``edit=`` one or more :class:`Edit` (continue from a seed motion,
in-between two motions, keep the upper/lower body or any joints of a reference over any frames).

Styles: a model trained with dance styles (DiffDance with ``style_cond``) dances the ``style`` option when
given; otherwise, when the music is audio, the style choreo's music-style classifier
(:class:`~choreo.metrics.music_style.StyleClassifier`) hears in the part of the song being danced to, if the
model knows that style; otherwise (feature arrays) style unknown. ``meta["style"]`` and ``meta["style_from"]``
(``given``, ``audio`` or ``unknown``) record which.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from choreo.errors import ChoreoError
from choreo.models.editing import Constraint, Edit, build_constraint
from choreo.motion.motion import Motion
from choreo.trained import TrainedModel, default_threads

__all__ = ["Choreographer", "Edit", "Constraint", "default_threads", "MIN_SECONDS"]

#: the shortest dance choreo makes, in seconds: below it no model has a step to dance, and a few frames of a
#: "dance" would only hide a wrong --start or --seconds.
MIN_SECONDS = 1.0
#: how much more a joint an edit keeps counts in the skeleton fit than a free one
EDIT_WEIGHT = 100.0


def check_time_range(seconds: float | None, start: float, available: float | None = None, what: str = "song") -> None:
    """Check a dance's time range before anything is computed.

    Args:
        seconds: the dance's length (None: the rest of the music after ``start``).
        start: seconds into the music where the dance begins.
        available: the music's length in seconds, when known.

    Raises:
        ChoreoError: a negative or non-finite start, a length under :data:`MIN_SECONDS`, or a start that
            leaves less than :data:`MIN_SECONDS` of music.
    """
    if not np.isfinite(start) or start < 0:
        raise ChoreoError(f"--start must be 0 or more seconds, got {start:g}")
    if seconds is not None and (not np.isfinite(seconds) or seconds < MIN_SECONDS):
        raise ChoreoError(f"--seconds must be at least {MIN_SECONDS:g} (a dance needs that much), got {seconds:g}")
    if available is not None and available - start < MIN_SECONDS:
        if start > 0:
            raise ChoreoError(
                f"the {what} lasts {available:.2f} s: from --start {start:g} there is less than the "
                f"{MIN_SECONDS:g} s a dance needs"
            )
        raise ChoreoError(f"the {what} lasts {available:.2f} s; a dance needs at least {MIN_SECONDS:g} s")


def _mono(samples) -> np.ndarray:
    """float32 samples, (n, channels) or (channels, n) mixed down to (n,); other shapes as they are."""
    y = np.asarray(samples, np.float32)
    if y.ndim == 2:
        y = y.mean(axis=1) if y.shape[1] <= 8 else y.mean(axis=0)
    return y


class Choreographer(TrainedModel):
    """A trained music-to-dance model ready to dance (any method whose checkpoint ``produces`` dances).

    Build it with :meth:`load` (or ``choreo.load``). Attributes: those of :class:`TrainedModel` plus
    ``feature_set`` and ``window_frames``.
    """

    produces = "dance"

    def __init__(self, method, checkpoint: str | None = None, threads: int | None = None, info: dict | None = None):
        super().__init__(method, checkpoint, threads, info)
        self.feature_set = str(self.spec.feature_set)
        self.window_frames = int(self.spec.window_frames)

    # ---- music --------------------------------------------------------------------------------------
    def features(self, music, seconds: float | None = None, start: float = 0.0) -> tuple[np.ndarray, dict]:
        """(frames, F) features at the model fps for ``music`` from ``start`` for ``seconds`` (all if None),
        and provenance for the motion's ``meta``."""
        check_time_range(seconds, start)
        n_frames = None if seconds is None else max(1, int(round(seconds * self.fps)))
        if isinstance(music, (str, os.PathLike)):
            from choreo.audio.features import song_features

            path = Path(music)
            from choreo.audio.io import audio_duration

            try:
                check_time_range(seconds, start, audio_duration(path))
            except ChoreoError as exc:
                raise ChoreoError(exc.message, path) from None
            end = None if seconds is None else start + seconds
            feats = song_features(path, self.feature_set, self.fps, n_frames=n_frames, start=start, end=end)
            meta = {"audio": str(path), "audio_start": float(start)}
        elif isinstance(music, tuple) and len(music) == 2:
            from choreo.audio.features import compute_features

            y, sr = _mono(music[0]), int(music[1])
            if y.ndim != 1 or sr <= 0:
                raise ChoreoError("music must be (samples, sample_rate) with mono or (n, channels) samples")
            check_time_range(seconds, start, len(y) / sr, "music")
            a = int(round(start * sr))
            b = len(y) if seconds is None else a + int(round(seconds * sr))
            y = y[a:b]
            if n_frames is None:
                n_frames = int(len(y) / sr * self.fps)
            if n_frames < 1:
                raise ChoreoError(f"the music lasts {len(y) / sr:.3f} s from {start:g} s: not one frame to dance to")
            feats = compute_features(y, sr, self.feature_set, self.fps, n_frames)
            meta = {"audio_start": float(start)}
        else:
            feats = np.asarray(music, np.float32)
            if feats.ndim != 2:
                raise ChoreoError("music must be a path, a (samples, sample_rate) tuple or a (frames, features) array")
            check_time_range(seconds, start, len(feats) / self.fps, "music")
            a = int(round(start * self.fps))
            feats = feats[a : None if n_frames is None else a + n_frames]
            meta = {"audio_start": float(start)}
        feats = np.asarray(feats, np.float32)
        if feats.ndim != 2 or len(feats) == 0:
            raise ChoreoError("the music gives no frames to dance to (empty, or --start past its end)")
        return feats, meta

    # ---- styles -------------------------------------------------------------------------------------
    def hear_style(self, music, seconds: float | None = None, start: float = 0.0) -> tuple[str | None, dict]:
        """The dance style the music-style classifier hears in ``music`` (a path or ``(samples, rate)``) from
        ``start`` for ``seconds``, if this model knows it: ``(name or None, {style: probability})``.
        Feature arrays carry no audio: ``(None, {})``."""
        styles = tuple(getattr(self.method, "styles", ()) or ())
        if not styles:
            return None, {}
        end = None if seconds is None else start + seconds
        if isinstance(music, (str, os.PathLike)):
            from choreo.audio.io import load_audio

            y, sr = load_audio(music, start=start, end=end)
        elif isinstance(music, tuple) and len(music) == 2:
            from choreo.audio.io import mono_samples

            sr = int(music[1])
            y = mono_samples(_mono(music[0]))
            y = y[int(round(start * sr)) : None if end is None else int(round(end * sr))]
        else:
            return None, {}
        from choreo.metrics.music_style import StyleClassifier

        clf = StyleClassifier.load()
        name, p = clf.classify(y, sr)
        probs = {c: round(float(q), 4) for c, q in zip(clf.classes, p, strict=True)}
        return (name if name in styles else None), probs

    # ---- dancing ------------------------------------------------------------------------------------
    def dance(
        self,
        music,
        seconds: float | None = None,
        start: float = 0.0,
        seed: int = 0,
        guidance: float | None = None,
        steps: int | None = None,
        edit: Edit | Sequence[Edit] | None = None,
        sampler: str | None = None,
        eta: float | None = None,
        progress: bool = True,
        chunk_windows: int | None = None,
        foot_lock: bool = True,
        ground: bool = True,
        fit_skeleton: bool = True,
        **options,
    ) -> Motion:
        """Dance to ``music``.

        Args:
            music: a song path, ``(samples, sample_rate)``, or (frames, F) features at the model fps.
            seconds: length of the dance (default: the rest of the song after ``start``).
            start: seconds into the song where the dance begins.
            seed: same seed, same dance.
            guidance: classifier-free guidance weight w (EDGE: 2; 1 = plain conditional). None: the
                checkpoint's setting, as for every sampling option.
            steps: denoising steps (DDIM by default; at most the model's T).
            edit: constraints from reference motions (see :class:`Edit`); frames are counted at the
                model fps from the dance's first frame.
            sampler, eta: ``"ddim"`` (eta 0: deterministic, 1: EDGE) or ``"ddpm"``.
            progress: progress bar over the sampling.
            chunk_windows: most windows sampled per batch (bounds memory on long songs; None: the method's).
            options: other sampling options of the method (``method.sampling_options``).
            foot_lock: pin feet while the model says they are in contact (:func:`choreo.motion.cleanup.lock_feet`;
                position-based models only, never on frames an edit constrains).
            ground: stand the dance on the floor where its feet are planted, frame by frame
                (:func:`choreo.motion.floor.stand_on_floor`: planted feet at height 0, jumps kept, nothing under
                the floor), after foot locking and the skeleton fit; never on frames an edit holds.
            fit_skeleton: give the dance constant bone lengths, fitted once after foot locking
                (:func:`choreo.motion.cleanup.fit_skeleton`; position-based models only), so that its BVH, GLB
                and npz are the same dance. False: the network's positions as they are (bones may stretch).

        Returns:
            a :class:`Motion` at the model fps; ``meta`` records the song, start, seed and settings.
        """
        settings = self.method.sampling_settings(guidance=guidance, steps=steps, sampler=sampler, eta=eta, **options)
        if "steps" in settings and int(settings["steps"]) < 1:
            raise ChoreoError(f"--steps must be at least 1, got {settings['steps']}")
        feats, meta = self.features(music, seconds, start)
        if "style" in settings:
            if settings["style"] is not None:
                meta["style_from"] = "given"
            else:
                settings["style"], probs = self.hear_style(music, len(feats) / self.fps, start)
                meta["style_from"] = "audio" if settings["style"] is not None else "unknown"
                if probs:
                    meta["style_probabilities"] = probs
        constraint = None
        if edit is not None and (not isinstance(edit, Sequence) or len(edit) > 0):
            constraint = build_constraint(edit, self.representation, self.fps, len(feats))
        extra = {} if chunk_windows is None else {"chunk_windows": int(chunk_windows)}
        x = self.method.generate(feats, seed=seed, constraint=constraint, progress=progress, **settings, **extra)
        motion = self.representation.decode(x, self.fps)
        keep = None  # frames where an edit holds the feet or the root: neither locking nor grounding moves them
        if constraint is not None:
            feet = [j for j in self.representation.skeleton.feet if j >= 0]
            chans = self.representation.joint_channels([*feet, self.representation.skeleton.root])
            keep = np.asarray(constraint.mask)[:, chans].any(axis=1)
        if foot_lock:
            from choreo.motion.cleanup import lock_feet

            motion = lock_feet(motion, motion.meta.get("contacts"), keep=keep)
        fitted = fit_skeleton and motion.positions is not None and motion.skeleton.dim == 3
        if fitted:
            from choreo.motion.cleanup import fit_skeleton as fit

            weights = None
            if constraint is not None:  # joints an edit keeps stay on their reference as far as fixed bones allow
                mask = np.asarray(constraint.mask, bool)
                J = self.representation.skeleton.n_joints
                kept = np.stack([mask[:, self.representation.joint_channels([j])].any(axis=1) for j in range(J)], 1)
                weights = np.where(kept, EDIT_WEIGHT, 1.0)
            motion = fit(motion, weights=weights)
        if ground:  # last: a vertical shift per frame, which keeps the fitted bones and the locked feet
            from choreo.motion.floor import stand_on_floor

            motion = stand_on_floor(motion, motion.meta.get("contacts"), keep=keep)
        motion.meta.update(meta)
        motion.meta.update(
            {
                "source": "choreo dance",
                "method": self.method.name,
                "checkpoint": self.checkpoint,
                "seed": int(seed),
                **settings,
                "foot_lock": bool(foot_lock and motion.positions is not None),
                "ground": "floor" in motion.meta,
                "fit_skeleton": motion.meta.get("fit_skeleton", False) if fitted else False,
            }
        )
        return motion
