"""Beat coverage / hit (D2M-GAN), music pairing from audio, and the joint-name mapping for other skeletons."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from choreo.errors import ChoreoError
from choreo.metrics.beats import _strict_minima
from choreo.metrics.collect import collect, find_music
from choreo.metrics.features import GEOMETRIC_ROLES
from choreo.metrics.joint_map import geometric_joints, geometric_roles, split_name
from choreo.metrics.music import beat_coverage_hit, onset_bins
from choreo.motion.formats import write_motion
from choreo.motion.formats.dwm import DWM23
from choreo.motion.motion import Motion
from choreo.motion.skeleton import SMPL24, Skeleton


def _clicks(times, seconds, sr=22050):
    y = np.zeros(int(seconds * sr), np.float32)
    burst = np.random.default_rng(0).normal(size=400) * np.exp(-np.arange(400) / 80)
    for t in times:
        i = int(t * sr)
        y[i : i + 400] += burst
    return y


def test_onset_bins_of_a_click_track():
    bins = onset_bins(_clicks([0.5, 1.5, 3.2], 5.0), 22050)
    assert bins.tolist() == [True, True, False, True, False]


def test_beat_coverage_and_hit_hand_computed():
    sr = 22050
    real = _clicks([0.5, 1.5, 3.2], 5.0)
    gen = _clicks([0.5, 2.5, 4.5, 3.7], 5.0)  # bins 0, 2, 4, 3 -> 4 generated bins, 2 shared with real (0, 3)
    cov, hit = beat_coverage_hit(gen, real, sr)
    assert (cov, hit) == (pytest.approx(4 / 3), pytest.approx(2 / 3))
    assert beat_coverage_hit(real, real, sr) == (1.0, 1.0)
    assert beat_coverage_hit(np.zeros_like(real), real, sr) == (0.0, 0.0)
    with pytest.raises(ChoreoError, match="same length"):
        beat_coverage_hit(real[: 3 * sr], real, sr)


def test_beat_coverage_on_real_music(data_dir):
    y, sr = sf.read(data_dir / "beat_fixtures" / "madmom" / "sample.wav")
    assert onset_bins(y, sr).tolist() == [True, True, True]
    assert beat_coverage_hit(y, y, sr) == (1.0, 1.0)


def test_music_from_audio_files_by_stem(tmp_path, fixtures_dir):
    from choreo.audio.beats import beat_times
    from choreo.audio.demo import demo_song, write_wav

    w = np.load(fixtures_dir / "metrics" / "windows.npz")["windows"]
    (tmp_path / "m").mkdir()
    (tmp_path / "music").mkdir()
    for i in range(3):
        write_motion(Motion(SMPL24, 60, positions=w[i]), tmp_path / "m" / f"take{i}.npz")
    y, sr = demo_song(seconds=4.0, bpm=120)
    write_wav(tmp_path / "music" / "take0.wav", y, sr)
    (tmp_path / "music" / "take1.beats").write_text("0.5\n1.0\n")
    write_wav(tmp_path / "music" / "take1.wav", y, sr)  # a .beats file wins over audio
    ents = collect(tmp_path / "m", tmp_path / "music")
    assert [e.name for e in ents] == ["take0.npz", "take1.npz", "take2.npz"]
    assert ents[0].music.endswith("take0.wav")
    from choreo.audio import load_audio

    np.testing.assert_allclose(ents[0].beats, beat_times(*load_audio(tmp_path / "music" / "take0.wav")))
    assert len(ents[0].beats) >= 6
    assert ents[1].music.endswith("take1.beats") and ents[1].beats.tolist() == [0.5, 1.0]
    assert ents[2].beats is None and ents[2].music is None
    assert find_music("take2", tmp_path / "music") is None


def test_strict_minima_matches_scipy_argrelextrema():
    from scipy.signal import argrelextrema

    rng = np.random.default_rng(1)
    x = rng.integers(0, 5, size=(20, 100)).astype(float)  # many ties: the strict comparison matters
    for order in (1, 3, 10):
        rows, cols = argrelextrema(x, np.less, axis=-1, order=order)
        for i, mine in enumerate(_strict_minima(x, order)):
            np.testing.assert_array_equal(mine, cols[rows == i])


def test_split_name():
    assert split_name("Foot_L") == ("l", "foot")
    assert split_name("mixamorig:LeftUpLeg") == ("l", "upleg")
    assert split_name("right_shoulder") == ("r", "shoulder")
    assert split_name("lhip") == ("l", "hip")
    assert split_name("RHand") == ("r", "hand")
    assert split_name("Spine1") == (None, "spine1")
    assert split_name("joint_Root") == (None, "root")


def test_roles_on_named_skeletons():
    assert geometric_roles(SMPL24) == GEOMETRIC_ROLES
    # SMPL names in another structure go through the patterns and land on the same joints
    smpl_like = Skeleton("smpl-like", SMPL24.joint_names, SMPL24.parents)
    assert geometric_roles(smpl_like, {"root": "pelvis"}) == GEOMETRIC_ROLES
    aist = ["root", "lhip", "rhip", "belly", "lknee", "rknee", "spine", "lankle", "rankle", "chest", "ltoes",
            "rtoes", "neck", "linshoulder", "rinshoulder", "head", "lshoulder", "rshoulder", "lelbow", "relbow",
            "lwrist", "rwrist", "lhand", "rhand"]  # fmt: skip
    assert geometric_roles(Skeleton("aist", aist, SMPL24.parents)) == GEOMETRIC_ROLES
    names = ["joint_Root", "Hips", "Spine", "Chest", "Neck", "Head", "Shoulder_L", "UpperArm_L", "LowerArm_L",
             "Hand_L", "Shoulder_R", "UpperArm_R", "LowerArm_R", "Hand_R", "UpperLeg_L", "LowerLeg_L", "Foot_L",
             "Toes_L", "UpperLeg_R", "LowerLeg_R", "Foot_R", "Toes_R"]  # fmt: skip
    parents = [-1, 0, 1, 2, 3, 4, 3, 6, 7, 8, 3, 10, 11, 12, 1, 14, 15, 16, 1, 18, 19, 20]
    roles = {r: names[j] for r, j in geometric_roles(Skeleton("bandai", names, parents)).items()}
    assert roles == {
        "root": "Hips", "lhip": "UpperLeg_L", "rhip": "UpperLeg_R", "belly": "Spine", "lknee": "LowerLeg_L",
        "rknee": "LowerLeg_R", "lankle": "Foot_L", "rankle": "Foot_R", "chest": "Chest", "ltoes": "Toes_L",
        "rtoes": "Toes_R", "neck": "Neck", "lshoulder": "UpperArm_L", "rshoulder": "UpperArm_R",
        "lelbow": "LowerArm_L", "relbow": "LowerArm_R", "lwrist": "Hand_L", "rwrist": "Hand_R",
    }  # fmt: skip
    mixamo = [f"mixamorig:{n}" for n in ("Hips", "Spine", "Spine1", "Spine2", "Neck", "Head", "LeftShoulder",
              "LeftArm", "LeftForeArm", "LeftHand", "RightShoulder", "RightArm", "RightForeArm", "RightHand",
              "LeftUpLeg", "LeftLeg", "LeftFoot", "LeftToeBase", "RightUpLeg", "RightLeg", "RightFoot",
              "RightToeBase")]  # fmt: skip
    parents = [-1, 0, 1, 2, 3, 4, 3, 6, 7, 8, 3, 10, 11, 12, 0, 14, 15, 16, 0, 18, 19, 20]
    roles = {r: mixamo[j].split(":")[1] for r, j in geometric_roles(Skeleton("mixamo", mixamo, parents)).items()}
    assert (roles["belly"], roles["chest"], roles["lshoulder"], roles["lknee"], roles["ltoes"]) == (
        "Spine", "Spine2", "LeftArm", "LeftLeg", "LeftToeBase")  # fmt: skip


def test_dwm_gets_derived_joints_and_unmappable_skeletons_fail():
    with pytest.raises(ChoreoError, match="neck"):
        geometric_roles(DWM23)
    g = geometric_joints(DWM23)
    assert g.roles["neck"] == 23 and g.roles["belly"] == 24 and g.roles["chest"] == 25
    p = np.random.default_rng(0).normal(size=(5, 23, 3))
    ext = g.extend(p)
    np.testing.assert_allclose(ext[:, 23], (p[:, 12] + p[:, 3]) / 2)
    np.testing.assert_allclose(ext[:, 25], p[:, 2] + 0.6 * (ext[:, 23] - p[:, 2]))
    no_arms = Skeleton("legs", ("pelvis", "left_hip", "right_hip"), np.array([-1, 0, 0]))
    with pytest.raises(ChoreoError, match="lwrist"):
        geometric_joints(no_arms)
