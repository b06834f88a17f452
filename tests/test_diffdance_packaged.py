"""The shipped DiffDance model (`choreo dance SONG --model diffdance`): small and self-contained; a four-minute
song in one call dances to the end without seams at the borders of either stage's windows."""

from __future__ import annotations

import numpy as np
import pytest

from choreo.cli import main
from choreo.motion.formats import read_motion
from choreo.packaged import resolve_model
from conftest import DWM
from conftest import DWM_TEST_SPLIT as TEST_DANCES

pytestmark = pytest.mark.usefixtures("private_cache")


def test_packaged_diffdance_is_small_and_self_contained():
    from choreo.generate import Choreographer

    path = resolve_model("diffdance")
    assert path.stat().st_size < 20 * 2**20
    model = Choreographer.load(path, device="cpu", threads=1)
    assert model.method.name == "diffdance" and model.fps == 25.0 and model.feature_set == "rhythm"
    assert model.representation.skeleton.name == "dwm23"
    assert model.method.low_fps == 12.5 and model.method.ssr_window == 100
    assert model.method.styles == ("cha-cha", "rumba", "tango", "waltz")
    assert model.method.config.music_dropout == 0.2  # what guidance from the style needs
    assert "Dance with Melody" in model.info["data"]
    # the sampling defaults chosen on songs no model heard and on training songs' unheard music (MODEL_CARD.md,
    # choreo eval --split validation): base guidance 3.5 from the style, the SSR at guidance 1 on the base stage's
    # dance as it is, the root's travel from the base stage
    d = model.method.sampling_defaults()
    got = (d["guidance"], d["guidance_from"], d["steps"], d["ssr_guidance"], d["noise_level"], d["ssr_root"])
    assert got == (3.5, "style", 100, 1.0, 0.0, "base")


def border_ratios(speed: np.ndarray, hop: int) -> tuple[float, float]:
    """How the speeds across window borders (every ``hop`` frames) compare with the interior's.

    Returns:
        the larger median speed of the two border phases (speed index ``-1`` and ``0`` mod ``hop``: the steps
        into and out of a border frame) over the largest median of any interior phase, and the fastest speed
        across a border over the fastest elsewhere. A seam repeats at the border phase of every window, so
        either ratio over 1 is a seam.
    """
    n = len(speed) // hop * hop
    phases = np.median(speed[:n].reshape(-1, hop), axis=0)
    border = np.zeros(len(speed), bool)
    for s in range(hop, len(speed) + 1, hop):
        border[s - 1 : s + 1] = True
    border_phase = float(phases[[0, hop - 1]].max() / phases[1 : hop - 1].max())
    return border_phase, float(speed[border].max() / speed[~border].max())


@pytest.mark.skipif(not DWM.is_dir(), reason="needs ../shared/data")
def test_a_four_minute_song_in_one_call_has_no_seams(tmp_path):
    """A test-split song (DANCE_W_3's waltz) played four times in a row, 240 s, danced in one call at the
    default settings (the SSR's border phase of the shipped file reads 0.998 at 20 denoising steps, 0.992 at 50
    and 0.964 at the default 100: fewer steps leave the stitching more to do). Joint speed at the borders
    of the base stage's windows (every 10 s) and of the SSR's (every 2 s) stays within the interior's range,
    and the dance keeps moving to its end."""
    import soundfile as sf

    from choreo.audio.io import load_audio

    y, sr = load_audio(DWM / "DANCE_W_3" / "audio.mp3", sr=22050)
    song = tmp_path / "four_minutes.wav"
    sf.write(song, np.tile(np.asarray(y, np.float32), int(np.ceil(240 * sr / len(y))))[: 240 * sr], sr)
    out = tmp_path / "dd"
    args = ["dance", str(song), "--model", "diffdance", "--format", "npz", "-o", str(out)]
    assert main([*args, "--no-progress", "--threads", "2", "--seed", "0"]) == 0
    dance = read_motion(out / "four_minutes.npz")
    assert dance.fps == 25.0 and abs(dance.duration - 240.0) < 0.2
    p = dance.joint_positions()
    assert np.isfinite(p).all()
    speed = np.linalg.norm(np.diff(p, axis=0), axis=-1).mean(axis=-1)
    for hop in (50, 250):  # SSR windows of 100 frames, base windows of 250 frames at 12.5 fps, each every half
        med, top = border_ratios(speed, hop)
        assert med <= 1.0 and top <= 1.0, (hop, med, top)
    # the check sees a seam: the same dance with a 5 cm jump at every base-window border
    jumped = p + 0.05 * (np.arange(len(p)) // 250)[:, None, None] * np.array([1.0, 0.0, 0.0])
    assert border_ratios(np.linalg.norm(np.diff(jumped, axis=0), axis=-1).mean(axis=-1), 250)[0] > 1.0
    stretches = [s.mean() for s in np.array_split(speed, 8)]
    assert min(stretches) > 0.5 * max(stretches), stretches
    reals = [read_motion(DWM / n).joint_positions() for n in TEST_DANCES]
    real = np.mean([np.linalg.norm(np.diff(r, axis=0), axis=-1).mean() for r in reals])
    assert 0.3 * real < speed.mean() < 3.0 * real, (speed.mean(), real)
    sk = dance.skeleton
    assert np.mean(p[:, sk.index("left_head"), 1] > p[:, sk.index("pelvis"), 1]) > 0.99
