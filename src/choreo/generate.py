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
padded (features mirrored at the end) and the dance cropped to the song. Silence is music too.

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

__all__ = ["Choreographer", "Edit", "Constraint", "default_threads"]


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
        if seconds is not None and not seconds > 0:
            raise ChoreoError(f"--seconds must be positive, got {seconds}")
        if start < 0:
            raise ChoreoError(f"--start must be >= 0, got {start}")
        n_frames = None if seconds is None else max(1, int(round(seconds * self.fps)))
        if isinstance(music, (str, os.PathLike)):
            from choreo.audio.features import song_features

            path = Path(music)
            end = None if seconds is None else start + seconds
            feats = song_features(path, self.feature_set, self.fps, n_frames=n_frames, start=start, end=end)
            meta = {"audio": str(path), "audio_start": float(start)}
        elif isinstance(music, tuple) and len(music) == 2:
            from choreo.audio.features import compute_features

            y, sr = _mono(music[0]), int(music[1])
            if y.ndim != 1 or sr <= 0:
                raise ChoreoError("music must be (samples, sample_rate) with mono or (n, channels) samples")
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
        if foot_lock:
            from choreo.motion.cleanup import lock_feet

            keep = None
            if constraint is not None:
                feet = [j for j in self.representation.skeleton.feet if j >= 0]
                chans = self.representation.joint_channels([*feet, self.representation.skeleton.root])
                keep = np.asarray(constraint.mask)[:, chans].any(axis=1)
            motion = lock_feet(motion, motion.meta.get("contacts"), keep=keep)
        motion.meta.update(meta)
        motion.meta.update(
            {
                "source": "choreo dance",
                "method": self.method.name,
                "checkpoint": self.checkpoint,
                "seed": int(seed),
                **settings,
                "foot_lock": bool(foot_lock and motion.positions is not None),
            }
        )
        return motion
