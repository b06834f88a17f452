"""Taking in uploaded files: songs and motions, checked before anything is kept.

An upload is streamed into the store under a random name, never over the size limit (the stream stops
and the partial file is deleted as soon as it passes), then read by choreo's own readers: a song must
decode, a motion must parse into a finite 3D motion that at least one of the studio's models can use
(:mod:`choreo.studio.skeletons`). Anything wrong gives a :class:`ChoreoError` whose
message the page shows, and every file of the failed upload is deleted.

Motions: BVH, choreo npz, AIST++/EDGE pkl, GLB, or a Dance with Melody sequence folder packed as a zip.
Zips are unpacked with care: no absolute or ``..`` paths, no links, bounded file count and unpacked size.
"""

from __future__ import annotations

import contextlib
import shutil
import stat
import zipfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from choreo.errors import ChoreoError
from choreo.motion.motion import Motion
from choreo.studio.skeletons import ModelSkeleton, require_usable
from choreo.studio.store import Store, StoredFile, new_id

MOTION_SUFFIXES = (".bvh", ".npz", ".pkl", ".pickle", ".glb", ".zip")
ZIP_MAX_FILES = 2000
ZIP_MAX_BYTES = 1 << 30  # unpacked; Dance with Melody sequences are a few MB


def audio_suffixes() -> tuple[str, ...]:
    from choreo.audio.io import AUDIO_EXTENSIONS

    return tuple(sorted(AUDIO_EXTENSIONS))


class TooLarge(ChoreoError):
    """The upload is over the size limit."""


@dataclass
class Upload:
    """A checked upload: ``kind`` is ``audio`` or ``motion``; ``name`` is the user's file name (for display)."""

    kind: str
    name: str
    file: StoredFile
    duration: float
    motion: Motion | None = None
    id: str = field(default_factory=new_id)

    def to_dict(self) -> dict:
        out = {"id": self.id, "kind": self.kind, "name": self.name, "duration": round(self.duration, 3)}
        if self.motion is not None:
            sk = self.motion.skeleton
            out.update(fps=self.motion.fps, frames=self.motion.n_frames, skeleton=sk.name, joints=sk.n_joints)
        return out


def upload_kind(name: str) -> str:
    """``audio`` or ``motion`` from the file name, or a ChoreoError listing what is accepted."""
    suffix = PurePosixPath(str(name).replace("\\", "/")).suffix.lower()
    if suffix in audio_suffixes():
        return "audio"
    if suffix in MOTION_SUFFIXES:
        return "motion"
    raise ChoreoError(
        f"{suffix or 'a file without an extension'} is neither a song nor a motion this studio reads; songs: "
        f"{', '.join(s.lstrip('.') for s in audio_suffixes())}; motions: BVH, npz, pkl, GLB, or a Dance with "
        "Melody folder as .zip"
    )


async def receive(chunks: AsyncIterator[bytes], store: Store, suffix: str, limit: int) -> Path:
    """Write an upload's byte stream into a new store file, stopping (and deleting it) past ``limit`` bytes."""
    path = store.new_path(suffix)
    size = 0
    try:
        with open(path, "wb") as fh:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise TooLarge(f"the file is larger than the upload limit of {limit / 2**20:g} MB")
                fh.write(chunk)
    except BaseException:
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    if size == 0:
        path.unlink()
        raise ChoreoError("the file is empty (0 bytes)")
    return path


def _check_song(path: Path) -> float:
    """The song's length in seconds; decoding its first seconds proves it is audio."""
    import numpy as np

    from choreo.audio.io import audio_duration, load_audio

    try:
        duration = audio_duration(path)
        y, _ = load_audio(path, end=min(duration, 5.0) if duration > 0 else None)
    except ChoreoError as exc:
        raise ChoreoError(f"this is not a song choreo can read ({exc.message})") from None
    if not duration > 0 or y.size == 0:
        raise ChoreoError("the song holds no audio")
    if not np.all(np.isfinite(y)):
        raise ChoreoError("the song contains NaN or infinite samples")
    return float(duration)


def _unzip(path: Path, dest: Path) -> Path:
    """Unpack a zip safely into ``dest``; returns the Dance with Melody folder inside it."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ChoreoError(f"not a readable zip file ({exc})") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > ZIP_MAX_FILES:
            raise ChoreoError(f"the zip holds {len(infos)} files; at most {ZIP_MAX_FILES} are unpacked")
        if sum(i.file_size for i in infos) > ZIP_MAX_BYTES:
            raise ChoreoError(f"the zip unpacks to more than {ZIP_MAX_BYTES >> 20} MB")
        for info in infos:
            parts = PurePosixPath(info.filename.replace("\\", "/")).parts
            if info.filename.startswith(("/", "\\")) or ".." in parts or any(":" in p for p in parts):
                raise ChoreoError(f"the zip holds an unsafe path {info.filename!r}")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise ChoreoError(f"the zip holds a link ({info.filename!r}); links are not unpacked")
            if info.is_dir() or not parts:
                continue
            target = dest.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with zf.open(info) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
                raise ChoreoError(f"the zip is corrupt ({exc})") from None
    found = sorted(p.parent for p in dest.rglob("skeletons.json"))
    if not found:
        raise ChoreoError("the zip holds no Dance with Melody sequence (a folder with skeletons.json)")
    return found[0]


def _named(motion: Motion, path: Path, name: str) -> Motion:
    """The motion with the user's file name where the reader took the store's random one: a BVH's skeleton is
    named after its file, and every motion records its source, which messages quote."""
    stem = PurePosixPath(name).stem or "upload"
    skeleton = motion.skeleton
    if skeleton.name in (path.stem, path.name):
        skeleton = replace(skeleton, name=stem)
    return replace(motion, skeleton=skeleton, meta={**motion.meta, "source": name})


def _check_motion(path: Path, store: Store) -> Motion:
    """The motion in an uploaded file (a zip is unpacked into a scratch folder, deleted afterwards)."""
    from choreo.motion.formats import read_motion

    unpacked = store.new_dir() if path.suffix == ".zip" else None
    try:
        source = path if unpacked is None else _unzip(path, unpacked)
        try:
            motion = read_motion(source)
        except ChoreoError as exc:
            raise ChoreoError(f"this motion cannot be read: {exc.message}") from None
    finally:
        # the motion is in memory now: the unpacked copy is not needed either way
        if unpacked is not None:
            shutil.rmtree(unpacked, ignore_errors=True)
    if motion.skeleton.dim != 3:
        raise ChoreoError("this is a 2D keypoint motion; the studio works with 3D dances")
    return motion


def check_upload(
    store: Store,
    path: Path,
    name: str,
    kind: str,
    targets: Callable[[], list[ModelSkeleton]] | None = None,
) -> Upload:
    """Read and check a received file; on any problem delete it (and anything unpacked) and raise.

    Args:
        name: the user's file name (what the studio calls the upload).
        targets: the models' skeletons; a motion that none of them can use is refused
            (:func:`choreo.studio.skeletons.require_usable`). None: not checked.
    """
    try:
        if kind == "audio":
            duration = _check_song(path)
            motion = None
        else:
            motion = _named(_check_motion(path, store), path, name)
            if targets is not None:
                require_usable(motion, targets())
            duration = motion.duration
        return Upload(kind, name, store.add(path, name), duration, motion)
    except BaseException:
        with contextlib.suppress(OSError):
            path.unlink()
        raise
