"""One studio run: its files, uploads, takes, models and job queue, and the actions the page asks for.

Every action that takes time (dancing, editing, music, MP4) is queued as a job; the job's result names the
take or file it made. Requests arrive as plain dicts from the page and are checked here, so a bad value
becomes a message the page can show.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import Any

import numpy as np

from choreo.errors import ChoreoError
from choreo.motion.motion import Motion
from choreo.studio.catalog import Catalog
from choreo.studio.jobs import Job, JobQueue
from choreo.studio.store import Store
from choreo.studio.takes import Take, TakeBook, file_stem, span_audio
from choreo.studio.uploads import Upload

#: seconds of a take a continuation or an in-between starts from (the seed the model continues).
OVERLAP_SECONDS = 2.0


# --- request values ------------------------------------------------------------------------------------


def _number(
    req: dict, key: str, default: float | None = None, low: float | None = None, what: str = ""
) -> float | None:
    value = req.get(key)
    if value is None or value == "":
        return default
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ChoreoError(f"{what or key} must be a number, got {value!r}") from None
    if not math.isfinite(x) or (low is not None and x < low):
        raise ChoreoError(f"{what or key} must be a number >= {low:g}, got {value!r}")
    return x


def _integer(req: dict, key: str, default: int | None = None, low: int | None = None, what: str = "") -> int | None:
    x = _number(req, key, None, low, what)
    if x is None:
        return default
    if x != int(x):
        raise ChoreoError(f"{what or key} must be a whole number, got {req.get(key)!r}")
    return int(x)


# --- names ---------------------------------------------------------------------------------------------------


def model_label(model: str) -> str:
    """A short name for a model in a take's title: a packaged name as it is, a checkpoint by its run folder."""
    p = Path(model)
    if not p.exists():
        return model
    return p.name if p.is_dir() else f"{p.parent.name}/{p.name}"


def dance_title(song: str, model: str, start: float, sampling: dict) -> str:
    """``song · model · seed N`` (with the start, guidance and steps when they are not the defaults)."""
    parts = [Path(song).stem + (f" from {start:g} s" if start else ""), model_label(model), f"seed {sampling['seed']}"]
    if sampling.get("guidance") is not None:
        parts.append(f"guidance {sampling['guidance']:g}")
    if sampling.get("steps") is not None:
        parts.append(f"{sampling['steps']} steps")
    return " · ".join(parts)


def _span(a: float, b: float | None) -> str:
    return f"{a:g}-{'end' if b is None else f'{b:g}'} s"


def _concat(a: Motion, b: Motion) -> Motion:
    """``a`` then ``b`` (same skeleton; ``b`` resampled to ``a``'s rate)."""
    if abs(a.fps - b.fps) > 1e-6:
        b = b.resample(a.fps)
    meta = dict(a.meta)
    if a.rotations is not None and b.rotations is not None:
        return Motion(
            a.skeleton,
            a.fps,
            rotations=np.concatenate([a.rotations, b.rotations]),
            root=np.concatenate([a.root, b.root]),
            meta=meta,
        )
    return Motion(a.skeleton, a.fps, positions=np.concatenate([a.joint_positions(), b.joint_positions()]), meta=meta)


class Studio:
    """The state of a studio run.

    Args:
        max_upload_bytes: the largest upload accepted.
        threads: CPU threads for generation (None: choreo's default).
        root: where the temporary folder goes (default: the system's).
        max_waiting: most jobs waiting in the queue.
    """

    def __init__(
        self,
        max_upload_bytes: int = 100 << 20,
        threads: int | None = None,
        root: str | Path | None = None,
        max_waiting: int = 8,
    ):
        from choreo.studio import progress

        progress.install()
        self.max_upload_bytes = int(max_upload_bytes)
        self.store = Store(root)
        self.catalog = Catalog(threads=threads)
        self.takes = TakeBook(self.store)
        self.jobs = JobQueue(max_waiting=max_waiting, describe=self.describe_error)
        self._uploads: dict[str, Upload] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        """Stop the worker and delete every file this run made."""
        self.jobs.close()
        self.store.close()

    # ---- messages ---------------------------------------------------------------------------------------
    def describe_error(self, exc: ChoreoError) -> str:
        """A problem in words for the page: the store's own paths become the user's file names."""
        if exc.path is None:
            return exc.message
        path = Path(exc.path)
        if self.store.folder in path.parents or path == self.store.folder:
            with self._lock:
                names = {u.file.path: u.name for u in self._uploads.values()}
            return f"{names[path]}: {exc.message}" if path in names else exc.message
        return str(exc)

    # ---- uploads ------------------------------------------------------------------------------------------
    def add_upload(self, upload: Upload) -> Upload:
        with self._lock:
            self._uploads[upload.id] = upload
        return upload

    def uploads(self) -> list[Upload]:
        with self._lock:
            return list(self._uploads.values())

    def upload(self, upload_id: Any, kind: str | None = None) -> Upload:
        with self._lock:
            up = self._uploads.get(str(upload_id))
        if up is None:
            raise ChoreoError("that file is not here any more: upload it again")
        if kind is not None and up.kind != kind:
            raise ChoreoError(f"{up.name} is not {'a song' if kind == 'audio' else 'a motion'}")
        return up

    def motion_source(self, source: Any) -> tuple[Motion, str]:
        """The motion of a take or an uploaded motion, by id, and its title."""
        take = self.takes.get(str(source))
        if take is not None:
            # music made for a take keeps that take's motion: name the motion, not "music for music for ..."
            return take.motion, str(take.settings.get("source", take.title)) if take.kind == "music" else take.title
        up = self.upload(source, "motion")
        return up.motion, up.name

    def add_motion_take(self, upload: Upload) -> Take:
        """An uploaded motion as a take (silent until music is made for it)."""
        settings = {"source": upload.name}
        return self.takes.add(upload.motion, upload.name, "upload", settings)

    # ---- dancing --------------------------------------------------------------------------------------------
    def submit_dance(self, req: dict) -> Job:
        """Queue a dance (plain, edited, continued or in-between) for a request from the page.

        Request keys: ``song`` (upload id), ``model``, ``start``, ``seconds``, ``seed``, ``guidance``,
        ``steps``; ``edit``: ``{"mode": "keep", "source": id, "joints": "upper", "from": s, "to": s}``,
        ``{"mode": "continue", "source": take id, "seconds": s}`` or
        ``{"mode": "inbetween", "a": take id, "b": take id, "seconds": s}``.
        """
        edit = req.get("edit") or None
        mode = None if edit is None else str(edit.get("mode", "keep"))
        if mode not in (None, "keep", "continue", "inbetween"):
            raise ChoreoError(f"unknown edit {mode!r} (keep, continue or inbetween)")
        seed = _integer(req, "seed", 0, 0, "the seed")
        guidance = _number(req, "guidance", None, 0.0, "guidance")
        steps = _integer(req, "steps", None, 1, "steps")
        model = str(req.get("model") or "").strip()
        if not model:
            raise ChoreoError("choose a model (a packaged one, or type a checkpoint file or run folder)")
        info = self.catalog.describe(model, "dance")  # a wrong path or name fails now, in the page
        if info["produces"] != "dance":
            raise ChoreoError(f"this {info['method']!r} model makes music from dances; choose one that makes dances")
        sampling = {"seed": seed, "guidance": guidance, "steps": steps}

        if mode == "continue":
            take = self.takes.require(edit.get("source"))
            song, start, length = self._take_song(take)
            more = _number(edit, "seconds", 8.0, 0.5, "the continuation's length")
            title = f"{take.title} · continued {more:g} s, seed {seed}"
            return self.jobs.submit(
                "dance", title, lambda job: self._continue(job, take, model, song, start + length, more, sampling)
            )
        if mode == "inbetween":
            a, b = self.takes.require(edit.get("a")), self.takes.require(edit.get("b"))
            song, start, length = self._take_song(a)
            gap = _number(edit, "seconds", 4.0, 0.5, "the in-between's length")
            title = f"in-between #{a.number} and #{b.number} ({gap:g} s, {model_label(model)}, seed {seed})"
            return self.jobs.submit(
                "dance", title, lambda job: self._inbetween(job, a, b, model, song, start + length, gap, sampling)
            )

        song_up = self.upload(req.get("song"), "audio")
        start = _number(req, "start", 0.0, 0.0, "start")
        seconds = _number(req, "seconds", None, 0.0, "length")
        keep = None
        if mode == "keep":
            ref, ref_title = self.motion_source(edit.get("source"))
            joints = str(edit.get("joints") or "all").strip() or "all"
            a_s = _number(edit, "from", 0.0, 0.0, "the edit's start")
            b_s = _number(edit, "to", None, 0.0, "the edit's end")
            if b_s is not None and b_s <= a_s:
                raise ChoreoError("the kept range is empty: its end must come after its start")
            keep = (ref, joints, a_s, b_s)
            title = f"{ref_title} · kept {joints} {_span(a_s, b_s)}, seed {seed}"
        else:
            title = dance_title(song_up.name, model, start, sampling)
        if start >= song_up.duration:
            raise ChoreoError(f"the song is {song_up.duration:.1f} s long: start must be earlier than that")
        if seconds is None or seconds == 0 or seconds > song_up.duration - start:
            seconds = song_up.duration - start  # the dance ends with the song
        return self.jobs.submit(
            "dance", title, lambda job: self._dance(job, title, model, song_up, start, seconds, sampling, keep)
        )

    def _take_song(self, take: Take) -> tuple[Upload, float, float]:
        s = take.settings
        if take.kind != "dance" or "song" not in s:
            raise ChoreoError(f"{take.title} was not danced to a song here, so there is no music to continue")
        return self.upload(s["song"], "audio"), float(s["start"]), take.motion.duration

    def _generate(self, job: Job, model_name: str, song: Upload, start: float, seconds: float, sampling: dict, edit):
        job.stage(0.0, 0.05, "loading the model")
        model = self.catalog.load(model_name, "dance")
        job.stage(0.05, 0.9, "dancing")
        return model.dance(
            str(song.file.path), seconds=seconds, start=start, edit=edit, progress=False, **sampling
        ), model

    def _finish(self, job: Job, motion: Motion, title: str, settings: dict, song: Upload, start: float) -> dict:
        job.stage(0.9, 1.0, "preparing the viewer")
        take = self.takes.add(
            motion, title, "dance", settings, music=span_audio(str(song.file.path), start, motion.duration)
        )
        return {"take": take.id}

    def _settings(self, model: str, song: Upload, start: float, sampling: dict, **more) -> dict:
        out = {"model": model, "song": song.id, "song_name": song.name, "start": start, **sampling, **more}
        return {k: v for k, v in out.items() if v is not None}

    def _dance(self, job, title, model, song, start, seconds, sampling, keep) -> dict:
        from choreo.generate import Edit

        edit = None
        fps = self.catalog.describe(model, "dance")["fps"] or 30.0
        if keep is not None:
            ref, joints, a_s, b_s = keep
            a = int(round(a_s * fps))
            b = None if b_s is None else int(round(b_s * fps))
            edit = Edit(ref, frames=(a, b), joints=joints)
        motion, _ = self._generate(job, model, song, start, seconds, sampling, edit)
        more = {}
        if keep is not None:
            until = "the end" if keep[3] is None else f"{keep[3]:g} s"
            more["edit"] = f"kept {keep[1]} from {keep[2]:g} s to {until}"
        return self._finish(job, motion, title, self._settings(model, song, start, sampling, **more), song, start)

    def _continue(self, job, take: Take, model, song, end_s, more, sampling) -> dict:
        from choreo.generate import Edit

        fps = take.motion.fps
        k = max(1, min(take.motion.n_frames, int(round(OVERLAP_SECONDS * fps))))
        seed_part = take.motion.crop(-k)
        start = end_s - k / fps
        motion, model_obj = self._generate(
            job, model, song, start, more + k / fps, sampling, Edit(seed_part, frames=(0, None))
        )
        k_model = int(round(k / fps * model_obj.fps))
        joined = _concat(take.motion, motion.crop(k_model))
        t0 = float(take.settings["start"])
        return self._finish(
            job, joined, job.title, self._settings(model, song, t0, sampling, edit=f"continued {take.title}"), song, t0
        )

    def _inbetween(self, job, a: Take, b: Take, model, song, end_s, gap, sampling) -> dict:
        from choreo.generate import Edit

        fa = a.motion.fps
        k = max(1, min(a.motion.n_frames, b.motion.n_frames, int(round(OVERLAP_SECONDS * fa))))
        start = end_s - k / fa
        seconds = gap + 2 * k / fa
        model_fps = self.catalog.describe(model, "dance")["fps"] or fa
        n = int(round(seconds * model_fps))
        kb = int(round(k / fa * model_fps))
        # A's last k frames open the dance, B's first k close it (frames counted at the model's rate)
        edits = [
            Edit(a.motion.crop(-k), frames=(0, None)),
            Edit(b.motion.crop(0, k), frames=(n - kb, None), offset=n - kb),
        ]
        motion, _ = self._generate(job, model, song, start, seconds, sampling, edits)
        middle = motion.crop(kb, max(kb + 1, motion.n_frames - kb))
        joined = _concat(_concat(a.motion, middle), b.motion)
        t0 = float(a.settings["start"])
        settings = self._settings(model, song, t0, sampling, edit=f"in-between {a.title} and {b.title}")
        return self._finish(job, joined, job.title, settings, song, t0)

    # ---- music ------------------------------------------------------------------------------------------
    def submit_music(self, req: dict) -> Job:
        """Queue music for a motion (``source``: a take or an uploaded motion) with a music model."""
        motion, title = self.motion_source(req.get("source"))
        model = str(req.get("model") or "").strip()
        if not model:
            raise ChoreoError(
                "no music model is installed; type the checkpoint file or run folder of a dance-to-music model"
            )
        info = self.catalog.describe(model, "music")
        if info["produces"] != "music":
            raise ChoreoError(f"this {info['method']!r} model makes dances, not music: choose a dance-to-music model")
        seed = _integer(req, "seed", 0, 0, "the seed")

        def run(job: Job) -> dict:
            job.stage(0.0, 0.1, "loading the model")
            composer = self.catalog.load(model, "music")
            job.stage(0.1, 0.9, "making music")
            y, sr = composer.music(motion, seed=seed, progress=False)
            job.stage(0.9, 1.0, "preparing the viewer")
            settings = {"model": model, "seed": seed, "source": title}
            take = self.takes.add(motion, name, "music", settings, music=(y, sr))
            return {"take": take.id}

        name = f"music for {title} · {model_label(model)} · seed {seed}"
        return self.jobs.submit("music", name, run)

    # ---- video -----------------------------------------------------------------------------------------------
    def submit_video(self, take: Take) -> Job:
        """Queue an MP4 of the take with its music (kept with the take once made)."""

        def run(job: Job) -> dict:
            from choreo.render import render

            done = take.files.get("mp4")
            if done is not None:
                return {"file": done.id, "take": take.id}
            job.stage(0.0, 1.0, "rendering")
            path = self.store.new_path(".mp4")
            music = None if take.audio is None else take.audio.path
            beats = np.asarray(take.beats) if take.beats else None
            render(take.motion, path, music=music, beats=beats, progress=True)
            entry = self.store.add(path, f"{file_stem(take.title)}.mp4")
            self.takes.attach(take, "mp4", entry)
            return {"file": entry.id, "take": take.id}

        return self.jobs.submit("video", f"MP4 of {take.title}", run)
