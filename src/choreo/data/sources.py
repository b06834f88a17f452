"""Data folders: what kind a folder is, which motion goes with which song, and the train/test split.

Three kinds, detected from the folder's content:

- ``aistpp``: AIST++ / EDGE layout, ``motions/<name>.pkl`` + ``wavs/<name>.wav`` (or the AIST music file
  ``wavs/<music id>.wav``, e.g. ``mBR2.wav``), with the official split files where present
  (``splits/crossmodal_train.txt``, ``splits/crossmodal_test.txt``, ``ignore_list.txt``, in ``splits/`` or
  the folder itself).
- ``dwm``: Dance with Melody, sequence folders ``DANCE_<style>_<n>`` with ``skeletons.json``,
  ``config.json`` and ``audio.mp3`` (the dance starts ``start_position / 25`` s into the song).
- ``pairs``: any folder of ``NAME.<bvh|npz|pkl>`` + ``NAME.<wav|mp3|ogg|flac|...>``, optionally with
  ``train.txt`` / ``test.txt`` (one name per line) in the folder or in ``splits/``. The motion may also be
  an OpenPose BODY_25 sequence: a sub-folder ``NAME/`` holding ``*_keypoints.json`` frame files (2D, read
  by :mod:`choreo.motion.formats.keypoints2d`). OpenPose files do not store a frame rate: it is 30 fps
  (``read_motion``'s default) unless ``NAME/fps.txt`` holds another number (e.g. ``25``); the item
  carries it as :attr:`Item.fps`. A name with both a motion file and such a folder uses the file.

Detection: a ``motions/`` sub-folder makes ``aistpp`` (unless it is itself an OpenPose sequence, i.e.
holds ``*_keypoints.json``); a sub-folder with ``skeletons.json`` makes ``dwm``; anything else is
``pairs``. OpenPose sequence folders never hold ``skeletons.json``, so they cannot be taken for Dance
with Melody ones.

Splits are deterministic: the official lists where they exist, :data:`DWM_TEST` for Dance with Melody, and
otherwise every name whose CRC-32 is divisible by 10 (about a tenth) goes to test.
"""

from __future__ import annotations

import math
import os
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

from choreo.errors import ChoreoError

KINDS = ("aistpp", "dwm", "pairs")
#: Dance with Melody's held-out sequences (about a tenth: one cha-cha, one rumba, two waltzes).
DWM_TEST = ("DANCE_C_4", "DANCE_R_5", "DANCE_W_3", "DANCE_W_17")
#: motion suffixes of a ``pairs`` folder, in preference order when a name has several.
PAIR_MOTION_EXTENSIONS = (".npz", ".bvh", ".pkl", ".pickle")
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".m4a", ".aac", ".oga", ".aiff", ".aif", ".opus")
#: the frame files that make a sub-folder of a ``pairs`` folder an OpenPose sequence.
OPENPOSE_FRAME_GLOB = "*_keypoints.json"
#: optional file in an OpenPose sequence folder holding its frame rate (frames per second).
OPENPOSE_FPS_FILE = "fps.txt"
_AIST_MUSIC = re.compile(r"_(m[A-Z]{2}\d+)(?:_|$)")
#: dance styles named by the sequence names: Dance with Melody's letter, AIST++'s genre code.
DWM_STYLES = {"C": "cha-cha", "R": "rumba", "T": "tango", "W": "waltz"}
AISTPP_STYLES = {
    "BR": "break", "PO": "pop", "LO": "lock", "MH": "middle hip-hop", "LH": "LA hip-hop",
    "HO": "house", "WA": "waack", "KR": "krump", "JS": "street jazz", "JB": "ballet jazz",
}  # fmt: skip
_DWM_NAME = re.compile(r"^DANCE_([CRTW])_\d+$")
_AIST_GENRE = re.compile(r"^g([A-Z]{2})_")


@dataclass(frozen=True)
class Item:
    """One paired sequence.

    Attributes:
        name: sequence name (file stem or folder name).
        motion: the motion file or folder (anything ``read_motion`` reads).
        audio: the song; None when the motion reader supplies it (Dance with Melody: ``meta["audio"]``).
        audio_start: seconds into the song where motion frame 0 is (None: from the motion's meta, else 0).
        fps: frames per second to read the motion at, for formats that store none (OpenPose folders:
            from ``fps.txt``); None: the file's own rate or the reader's default. Pass it as
            ``read_motion(item.motion, fps=item.fps)``.
    """

    name: str
    motion: Path
    audio: Path | None = None
    audio_start: float | None = None
    fps: float | None = None


def is_openpose_sequence(path: str | os.PathLike) -> bool:
    """True for a folder holding OpenPose ``*_keypoints.json`` frame files (and no ``skeletons.json``)."""
    p = Path(path)
    if not p.is_dir() or (p / "skeletons.json").exists():
        return False
    return any(f.is_file() for f in p.glob(OPENPOSE_FRAME_GLOB))


def openpose_fps(folder: str | os.PathLike) -> float | None:
    """The frame rate in ``folder/fps.txt`` (None when there is no such file).

    Raises:
        ChoreoError: the file does not hold one positive finite number.
    """
    f = Path(folder) / OPENPOSE_FPS_FILE
    if not f.is_file():
        return None
    try:
        text = f.read_text(errors="replace").strip()
    except OSError as exc:
        raise ChoreoError(f"cannot read {OPENPOSE_FPS_FILE} ({exc.strerror})", f) from None
    try:
        fps = float(text)
    except ValueError:
        msg = f"{OPENPOSE_FPS_FILE} must hold one number (frames per second), got {text[:40]!r}"
        raise ChoreoError(msg, f) from None
    if not math.isfinite(fps) or fps <= 0:
        raise ChoreoError(f"{OPENPOSE_FPS_FILE} must hold a positive frame rate, got {text[:40]!r}", f)
    return fps


def detect_kind(folder: str | os.PathLike) -> str:
    """``aistpp``, ``dwm`` or ``pairs`` from a folder's content (ChoreoError if it is not a folder).

    See the module docstring for the rules (OpenPose sequence sub-folders mean ``pairs``).
    """
    root = Path(folder)
    if not root.is_dir():
        raise ChoreoError("data folder not found" if not root.exists() else "the data path is not a folder", root)
    if (root / "motions").is_dir() and not is_openpose_sequence(root / "motions"):
        return "aistpp"
    if any(p.is_dir() and (p / "skeletons.json").exists() for p in root.iterdir()):
        return "dwm"
    return "pairs"


def _read_list(path: Path) -> list[str]:
    names = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            names.append(Path(line).stem if line.endswith((".pkl", ".wav")) else line)
    return names


def _find(root: Path, *names: str) -> Path | None:
    for sub in ("splits", "."):
        for n in names:
            p = root / sub / n
            if p.is_file():
                return p
    return None


def style_of(name: str) -> str | None:
    """The dance style a sequence name tells: ``DANCE_W_3`` -> ``"waltz"``, ``gBR_sBM_..._mBR0_ch01`` ->
    ``"break"``; None for other names."""
    m = _DWM_NAME.match(name)
    if m:
        return DWM_STYLES[m.group(1)]
    m = _AIST_GENRE.match(name)
    if m and m.group(1) in AISTPP_STYLES:
        return AISTPP_STYLES[m.group(1)]
    return None


def style_names(kind: str) -> tuple[str, ...]:
    """Every style a data folder of ``kind`` can name (the label order), empty for ``pairs``."""
    if kind == "dwm":
        return tuple(DWM_STYLES.values())
    if kind == "aistpp":
        return tuple(AISTPP_STYLES.values())
    return ()


def _hash_test(name: str) -> bool:
    return zlib.crc32(name.encode()) % 10 == 0


def list_items(folder: str | os.PathLike, kind: str = "auto") -> tuple[list[Item], list[str], str]:
    """The paired sequences of a data folder.

    Returns:
        (items sorted by name, problems (one line per unpaired/broken entry), kind).
    """
    root = Path(folder)
    kind = detect_kind(root) if kind == "auto" else kind
    if kind not in KINDS:
        raise ChoreoError(f"unknown data kind {kind!r} (auto, {', '.join(KINDS)})")
    if not root.is_dir():
        raise ChoreoError("data folder not found", root)
    return (*{"aistpp": _aistpp, "dwm": _dwm, "pairs": _pairs}[kind](root), kind)


def _aistpp(root: Path) -> tuple[list[Item], list[str]]:
    motions = sorted((root / "motions").glob("*.pkl"))
    wavs = root / "wavs"
    ignore_file = _find(root, "ignore_list.txt")
    ignore = set(_read_list(ignore_file)) if ignore_file else set()
    items, problems = [], []
    for m in motions:
        name = m.stem
        if name in ignore:
            continue
        candidates = [wavs / f"{name}.wav"]
        music = _AIST_MUSIC.search(name)
        if music:
            candidates.append(wavs / f"{music.group(1)}.wav")
        audio = next((c for c in candidates if c.is_file()), None)
        if audio is None:
            problems.append(f"{name}: no music ({' or '.join(c.name for c in candidates)} in {wavs})")
            continue
        items.append(Item(name, m, audio, 0.0))
    return items, problems


def _dwm(root: Path) -> tuple[list[Item], list[str]]:
    items, problems = [], []
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        missing = [f for f in ("skeletons.json", "config.json", "audio.mp3") if not (d / f).is_file()]
        if len(missing) == 3:
            continue  # not a sequence folder
        if missing:
            problems.append(f"{d.name}: missing {', '.join(missing)}")
            continue
        items.append(Item(d.name, d, None, None))
    return items, problems


def _pairs(root: Path) -> tuple[list[Item], list[str]]:
    motions: dict[str, Path] = {}
    audio: dict[str, Path] = {}
    folders: dict[str, Path] = {}  # OpenPose sequence folders; a motion file of the same name wins
    for p in sorted(root.iterdir()):
        if p.name.startswith("."):
            continue
        if p.is_dir():
            if is_openpose_sequence(p):
                folders[p.name] = p
            continue
        if not p.is_file():
            continue
        suffix = p.suffix.lower()
        if suffix in PAIR_MOTION_EXTENSIONS:
            prev = motions.get(p.stem)
            if prev is None or PAIR_MOTION_EXTENSIONS.index(suffix) < PAIR_MOTION_EXTENSIONS.index(prev.suffix.lower()):
                motions[p.stem] = p
        elif suffix in AUDIO_EXTENSIONS:
            audio.setdefault(p.stem, p)
    for name, folder in folders.items():
        motions.setdefault(name, folder)
    items, problems = [], []
    for name in sorted(set(motions) | set(audio)):
        motion = motions.get(name)
        if name not in audio:
            label = f"{motion.name}/" if motion.is_dir() else motion.name
            problems.append(f"{label}: no music file with the same name")
        elif motion is None:
            problems.append(f"{audio[name].name}: no motion file with the same name")
        elif motion.is_dir():
            try:
                fps = openpose_fps(motion)
            except ChoreoError as exc:
                problems.append(f"{name}/: {exc.message}")
                continue
            items.append(Item(name, motion, audio[name], 0.0, fps))
        else:
            items.append(Item(name, motion, audio[name], 0.0))
    return items, problems


def split_items(items: list[Item], kind: str, folder: str | os.PathLike, split: str) -> list[Item]:
    """The items of ``split`` (``train``, ``test`` or ``all``), deterministically (see the module docstring)."""
    if split == "all":
        return list(items)
    if split not in ("train", "test"):
        raise ChoreoError(f"unknown split {split!r} (train, test or all)")
    root = Path(folder)
    names = [it.name for it in items]
    if kind == "aistpp":
        lists = (_find(root, "crossmodal_train.txt"), _find(root, "crossmodal_test.txt"))
    elif kind == "pairs":
        lists = (_find(root, "train.txt"), _find(root, "test.txt"))
    else:
        lists = (None, None)
    if lists[0] or lists[1]:
        wanted = set(_read_list(lists[0 if split == "train" else 1])) if lists[0 if split == "train" else 1] else None
        if wanted is None:  # only the other list exists: this split is everything else
            other = set(_read_list(lists[1 if split == "train" else 0]))
            return [it for it in items if it.name not in other]
        return [it for it in items if it.name in wanted]
    if kind == "dwm":
        test = set(DWM_TEST)
    else:
        test = {n for n in names if _hash_test(n)}
        if len(test) == len(names):
            test = set()  # too few sequences to hold any out
    return [it for it in items if (it.name in test) == (split == "test")]
