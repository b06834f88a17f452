"""The shipped dance-to-music model (`choreo music DANCE` with no checkpoint): small, self-contained, and music as
long as the dance, not silent, for a Dance with Melody test dance and for a BVH on another skeleton."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from choreo.cli import main
from choreo.motion.formats import read_motion, write_motion
from choreo.packaged import default_model_name, resolve_model
from conftest import DWM

pytestmark = pytest.mark.usefixtures("private_cache")


def test_the_default_music_model_is_packaged_small_and_self_contained():
    import choreo
    from choreo.compose import Composer

    assert default_model_name("music") == "d2mgan"
    path = resolve_model(None, produces="music")
    assert path.stat().st_size < 20 * 2**20
    composer = choreo.load(str(path), device="cpu", threads=1)  # the codec travels inside the file
    assert isinstance(composer, Composer) and composer.sample_rate == 22050
    assert "Dance with Melody" in composer.info["data"]


@pytest.mark.skipif(not DWM.is_dir(), reason="needs ../shared/data")
def test_music_for_a_test_dance_and_for_another_skeleton(tmp_path):
    from edge_standin import smooth_smpl

    dance = read_motion(DWM / "DANCE_C_4")  # a test-split cha-cha: not trained on
    write_motion(dance.crop(0, 250), tmp_path / "chacha.npz")  # 10 s at 25 fps
    write_motion(smooth_smpl(90), tmp_path / "moves.bvh")  # 3 s of an SMPL skeleton at 30 fps
    for name, seconds in (("chacha.npz", 10.0), ("moves.bvh", 3.0)):
        out = tmp_path / "out"
        assert main(["music", str(tmp_path / name), "-o", str(out), "--threads", "1", "--seed", "0"]) == 0
        y, sr = sf.read(out / f"{Path(name).stem}.wav")
        assert sr == 22050 and len(y) / sr == pytest.approx(seconds, abs=0.01)
        rms = np.sqrt(np.mean(y**2))
        assert np.isfinite(y).all() and rms > 0.01, (name, rms)
        # sound throughout, not one burst: every second carries some of the mean energy
        per_second = [np.sqrt(np.mean(s**2)) for s in np.array_split(y, int(seconds))]
        assert min(per_second) > 0.05 * rms, (name, np.round(per_second, 4))
