"""`scripts/tune_sampling.py --songs DIR`: a model dances to songs it never heard, scored against the real training
dances; the test split is refused."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from choreo.cli import main as cli_main
from choreo.motion.formats import read_motion
from choreo.train.config import resolve_config_path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "tune_sampling.py"
DANCES = ["DANCE_W_22", "DANCE_W_24"]
SONGS = ["Kevin_MacLeod_-_Vibe_Ace.hq.ogg", "admiralbob77_-_Choice_-_Drum-bass.hq.ogg"]


def tune(*args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(SCRIPT), *args]
    return subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, check=False)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, data_dir):
    root = tmp_path_factory.mktemp("tune")
    cfg = yaml.safe_load(resolve_config_path("diffdance_tiny").read_text())
    cfg["data"]["sequences"] = DANCES
    (root / "tiny.yaml").write_text(yaml.safe_dump(cfg))
    argv = ["train", "--config", str(root / "tiny.yaml"), "--data", str(data_dir / "dance_with_melody")]
    argv += ["--out", str(root / "run"), "--cache-dir", str(root / "cache"), "--device", "cpu", "--no-progress"]
    assert cli_main([*argv, "--steps", "3"]) == 0
    return root


def test_songs_are_danced_and_scored_against_the_training_dances(tiny_run, data_dir):
    songs = tiny_run / "songs"
    songs.mkdir()
    for song in SONGS:
        shutil.copy(data_dir / "cc_music" / song, songs / song)
    (songs / "notes.txt").write_text("not a song")
    out = tiny_run / "out"
    args = ["--checkpoint", str(tiny_run / "run"), "--data", str(data_dir / "dance_with_melody"), "--dances", *DANCES]
    args += ["--songs", str(songs), "--seconds", "8"]
    r = tune(*args, "--out", str(out), "--settings", "steps=2", "steps=2;guidance=0")
    assert r.returncode == 0, r.stderr
    stems = [Path(s).stem for s in SONGS]
    # the reference: the training dances, cut to --seconds; the dances: one per song, as long as asked
    assert sorted(p.stem for p in (out / "gt").glob("*.npz")) == DANCES
    assert sorted(p.name for p in (out / "music").iterdir()) == sorted(f"{s}.beats" for s in stems)
    for k in (0, 1):
        for stem in stems:
            dance = read_motion(out / f"setting{k}_seed0" / f"{stem}.npz")
            assert dance.duration == pytest.approx(8.0, abs=0.1)
    for stem in stems:
        beats = np.loadtxt(out / "music" / f"{stem}.beats", ndmin=1)
        assert len(beats) >= 8 and beats.max() <= 8.0  # a steady beat within the 8 s danced to
    table = (out / "table.md").read_text().splitlines()
    rows = [[c.strip() for c in row.split("|")[1:-1]] for row in table[2:]]
    assert [r[0] for r in rows] == ["real dances", "steps=2", "steps=2;guidance=0"]
    assert all(np.isfinite(float(r[3])) for r in rows)  # Div_k over the two songs' dances


def test_the_test_split_and_two_sources_are_refused(tiny_run, data_dir):
    r = tune("--checkpoint", str(tiny_run / "run"), "--dances", "DANCE_C_4", "--settings", "steps=1")
    assert r.returncode != 0 and "in the test split" in r.stderr
    both = ["--after-dance", "--songs", str(data_dir / "cc_music"), "--settings", "steps=1"]
    r = tune("--checkpoint", str(tiny_run / "run"), *both)
    assert r.returncode != 0 and "exclusive" in r.stderr


def test_options_are_typed_booleans_included():
    sys.path.insert(0, str(SCRIPT.parent))
    from evaluate_default_model import parse_options

    got = parse_options(["guide_root_height=false", "x=True", "steps=50", "g=2.5", "r=base", "s=none"])
    assert got == {"guide_root_height": False, "x": True, "steps": 50, "g": 2.5, "r": "base", "s": None}
    assert got["guide_root_height"] is False and got["x"] is True
