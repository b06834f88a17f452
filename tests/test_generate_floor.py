"""Every packaged dance model's dances stand on the floor (choreo.motion.floor), also when edited or continued:
the lowest joint's 5th-percentile height within 3 cm of the floor, under 1 % of frames with a joint more than 3 cm
below it (issue targets), on choreo's demo song and a real Dance with Melody song."""

from __future__ import annotations

import numpy as np
import pytest

from choreo.audio.demo import demo_song
from choreo.generate import Choreographer
from choreo.models.editing import Edit
from choreo.motion.formats import read_motion
from conftest import DWM

FAST = {"diffdance": {"steps": 10}, "diffdance_style": {"steps": 10}, "edge": {}, "dancerevolution": {}}


def _on_the_floor(motion) -> tuple[float, float]:
    low = motion.joint_positions()[..., 1].min(axis=1)
    return float(np.percentile(low, 5)), float(np.mean(low < -0.03))


@pytest.fixture(scope="module")
def songs():
    real = read_motion(DWM / "DANCE_W_17")
    return {"demo": demo_song(seconds=10.0, seed=1), "waltz": real.meta["audio"]}


@pytest.mark.parametrize("name", sorted(FAST))
def test_every_packaged_model_dances_on_the_floor(name, songs):
    model = Choreographer.load(name, device="cpu", threads=1)
    for song in songs.values():
        raw = model.dance(song, seconds=8, start=1, seed=2, progress=False, ground=False, **FAST[name])
        d = model.dance(song, seconds=8, start=1, seed=2, progress=False, **FAST[name])
        p5, under = _on_the_floor(d)
        assert abs(p5) < 0.03 and under < 0.01, (name, p5, under, _on_the_floor(raw))
        assert d.meta["ground"] is True and raw.meta["ground"] is False


@pytest.mark.parametrize("joints, frames", [("upper", None), ("all", (0, 50))], ids=["edit-upper", "continue"])
def test_edited_and_continued_dances_stand_on_the_floor(songs, joints, frames):
    model = Choreographer.load("edge", device="cpu", threads=1)
    ref = read_motion(DWM / "DANCE_W_3").grounded()  # a real capture, stood on the floor as a user's take would be
    ref = ref.copy(positions=ref.positions[: 8 * int(ref.fps)])
    d = model.dance(songs["waltz"], seconds=8, seed=0, progress=False, edit=Edit(ref, frames=frames, joints=joints))
    p5, under = _on_the_floor(d)
    assert abs(p5) < 0.03 and under < 0.01, (joints, p5, under)
