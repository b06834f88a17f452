"""What users take away is exactly the dance: every export read back and compared with the npz.

Real data (a Dance with Melody dance, the Bandai Namco BVH, an AIST++ SMPL pickle) and a dance the packaged
``edge`` model makes (a few seconds of the demo song, few steps): the BVH read back is the npz within 1 cm on
average and 5 cm at worst, bones keep their length within 1 mm, a .pkl of any skeleton reads back as SMPL-24,
and ``Motion.save`` / ``Motion.load`` round-trip every format.
"""

from __future__ import annotations

import numpy as np
import pytest

from choreo.errors import ChoreoError
from choreo.motion import Motion
from choreo.motion.cleanup import bone_lengths, fit_skeleton
from choreo.motion.formats import write_problem
from choreo.motion.formats.aistpp import as_smpl24
from choreo.motion.skeleton import SMPL24, Skeleton

DWM_DANCE = "dance_with_melody/DANCE_C_2"
BANDAI = "bandai_namco_dance/data/dataset-1_dance-short_normal_001.bvh"
AISTPP = "aistpp_samples/annotation/motions/gBR_sBM_cAll_d04_mBR2_ch08.pkl"


def _error(a: Motion, b: Motion) -> np.ndarray:
    """(T, J) distances in metres between two motions' joints, frame by frame."""
    assert a.n_frames == b.n_frames and a.skeleton.same_structure(b.skeleton)
    return np.linalg.norm(a.joint_positions() - b.joint_positions(), axis=-1)


def _spread(m: Motion) -> float:
    """The largest change of any bone's length over the motion (metres)."""
    return float(np.ptp(bone_lengths(m), axis=0).max())


def _directions(m: Motion) -> np.ndarray:
    P = m.joint_positions()
    par = np.asarray(m.skeleton.parents)
    child = par >= 0
    v = P[:, child] - P[:, par[child]]
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


@pytest.fixture(scope="module")
def generated():
    """(fitted, raw): a dance of the packaged edge model, with and without the skeleton fit."""
    from choreo.audio.demo import demo_song
    from choreo.generate import Choreographer

    ch = Choreographer.load("edge", device="cpu", threads=1)
    song = demo_song(seconds=4.0, seed=1)
    kw = dict(seconds=4.0, seed=2, steps=4, progress=False)
    return ch.dance(song, **kw), ch.dance(song, fit_skeleton=False, **kw)


def test_generated_dance_has_fixed_bones_and_its_bvh_is_its_npz(generated, tmp_path):
    fitted, raw = generated
    assert _spread(raw) > 0.02  # the network stretches bones: this is what the fit is for
    assert _spread(fitted) < 1e-3
    assert fitted.meta["fit_skeleton"]["max_moved"] < 0.3
    fitted.save(tmp_path / "d.npz")
    fitted.save(tmp_path / "d.bvh")
    npz, bvh = Motion.load(tmp_path / "d.npz"), Motion.load(tmp_path / "d.bvh")
    assert _spread(npz) < 1e-3
    err = _error(bvh, npz)
    assert err.mean() < 0.01 and err.max() < 0.05
    # without the fit the BVH's fixed bones absorb the stretching as error (the 1.8-4.5 cm)
    raw.save(tmp_path / "raw.npz")
    raw.save(tmp_path / "raw.bvh")
    assert _error(Motion.load(tmp_path / "raw.bvh"), Motion.load(tmp_path / "raw.npz")).mean() > 0.01


def test_generated_dance_glb_is_its_npz(generated, tmp_path):
    fitted, _ = generated
    fitted.save(tmp_path / "d.glb")
    err = _error(Motion.load(tmp_path / "d.glb"), fitted)
    assert err.mean() < 0.01 and err.max() < 0.05


def test_generated_dance_pkl_reads_back_as_smpl24(generated, tmp_path):
    fitted, _ = generated
    assert write_problem(fitted.skeleton, "pkl") is None
    fitted.save(tmp_path / "d.pkl")
    back = Motion.load(tmp_path / "d.pkl")
    assert back.skeleton.same_structure(SMPL24) and back.n_frames == fitted.n_frames and back.fps == fitted.fps
    assert np.isfinite(back.joint_positions()).all()
    # the SMPL body moves as the retargeted dance does: single-child bones point the same way
    mapped = as_smpl24(fitted)
    cos = np.sum(_directions(back) * _directions(mapped), axis=-1)
    single = [
        k
        for k, j in enumerate(np.nonzero(np.asarray(SMPL24.parents) >= 0)[0])
        if len(SMPL24.children(SMPL24.parents[j])) == 1
    ]
    assert np.degrees(np.arccos(np.clip(cos[:, single], -1, 1))).max() < 1.0
    # and the root follows the dance's pelvis path (SMPL's pelvis sits a little above Dance with Melody's hips)
    hips = fitted.joint_positions()[:, [7, 16]].mean(axis=1)
    drift = back.root - hips
    assert np.ptp(drift[:, [0, 2]], axis=0).max() < 0.05


def test_dance_with_melody_fitted_exports(data_dir, tmp_path):
    dance = Motion.load(data_dir / DWM_DANCE).crop(0, 250)
    assert _spread(dance) > 0.02  # captured positions: bones vary frame to frame
    fitted = fit_skeleton(dance)
    assert _spread(fitted) < 1e-3
    assert fitted.meta["fit_skeleton"]["mean_moved"] < 0.03
    for fmt in ("npz", "bvh", "glb"):
        fitted.save(tmp_path / f"d.{fmt}")
        err = _error(Motion.load(tmp_path / f"d.{fmt}"), fitted)
        assert err.mean() < 0.01 and err.max() < 0.05, fmt
    dance.save(tmp_path / "d.pkl")
    back = Motion.load(tmp_path / "d.pkl")
    assert back.skeleton.name == "smpl24" and back.n_frames == 250 and back.fps == 25.0


def test_bandai_bvh_exports(data_dir, tmp_path):
    dance = Motion.load(data_dir / BANDAI).crop(0, 200)
    assert dance.has_rotations and _spread(dance) < 1e-6  # a rig: fixed bones already, the fit leaves it alone
    assert fit_skeleton(dance) is dance
    for fmt in ("npz", "bvh", "glb"):
        dance.save(tmp_path / f"d.{fmt}")
        err = _error(Motion.load(tmp_path / f"d.{fmt}"), dance)
        assert err.max() < 1e-3, fmt
    dance.save(tmp_path / "d.pkl")
    back = Motion.load(tmp_path / "d.pkl")
    assert back.skeleton.name == "smpl24" and back.n_frames == 200
    mapped = as_smpl24(dance)
    hips = mapped.joint_positions()[:, 0]
    assert np.abs(back.root - hips).mean() < 0.02


def test_aistpp_pickle_round_trips(data_dir, tmp_path):
    dance = Motion.load(data_dir / AISTPP).crop(0, 300)
    dance.save(tmp_path / "d.pkl")
    again = Motion.load(tmp_path / "d.pkl")
    assert again.fps == dance.fps and _error(again, dance).max() < 1e-4
    for fmt in ("npz", "bvh", "glb"):
        dance.save(tmp_path / f"d.{fmt}")
        assert _error(Motion.load(tmp_path / f"d.{fmt}"), dance).max() < 1e-3, fmt


def test_save_load_round_trip_every_format(tmp_path):
    from edge_standin import smooth_smpl

    dance = smooth_smpl(40, fps=30.0)
    for fmt in ("npz", "pkl", "bvh", "glb"):
        path = dance.save(tmp_path / f"m.{fmt}")
        assert path == tmp_path / f"m.{fmt}"
        back = Motion.load(path)
        assert back.fps == 30.0 and back.skeleton.same_structure(SMPL24), fmt
        assert _error(back, dance).max() < 1e-3, fmt
    with pytest.raises(ChoreoError, match="cannot write motion format"):
        dance.save(tmp_path / "m.fbx")
    assert not list(tmp_path.glob("*.fbx")) and not list(tmp_path.glob(".*"))


def test_what_cannot_be_written_is_said_before_writing(tmp_path):
    two = Skeleton("two", ("a", "b"), np.array([-1, 0]))
    flat = Skeleton("flat", ("root", "tip"), np.array([-1, 0]), dim=2)
    assert "left hip" in write_problem(two, "pkl") and write_problem(two, "npz") is None
    assert write_problem(two, "bvh") is None
    assert "2D" in write_problem(flat, "bvh") and "2D" in write_problem(flat, ".glb")
    assert write_problem(SMPL24, ".PKL") is None
    motion = Motion(two, 25.0, positions=np.random.default_rng(0).normal(size=(30, 2, 3)))
    with pytest.raises(ChoreoError, match="SMPL-24"):
        motion.save(tmp_path / "two.pkl")
    assert not list(tmp_path.iterdir())


def test_music_result_saves_and_unpacks(tmp_path):
    from choreo.audio.io import load_audio
    from choreo.compose import Music

    sr = 22050
    y = (0.5 * np.sin(2 * np.pi * 440 * np.arange(sr) / sr)).astype(np.float32)
    music = Music(y, sr)
    a, rate = music
    assert a is y and rate == sr and music.duration == pytest.approx(1.0)
    for suffix in (".wav", ".mp3"):
        music.save(tmp_path / f"m{suffix}")
        back, back_sr = load_audio(tmp_path / f"m{suffix}", sr=sr)
        assert abs(len(back) - sr) < 0.06 * sr, suffix  # mp3 pads a frame
        assert np.abs(back).max() == pytest.approx(0.5, abs=0.05), suffix
    with pytest.raises(ChoreoError, match="cannot write audio"):
        music.save(tmp_path / "m.txt")


def test_composer_music_is_a_result_that_saves(generated, tmp_path):
    from choreo.audio.io import load_audio
    from choreo.compose import Composer, Music

    fitted, _ = generated
    music = Composer.load("d2mgan", device="cpu", threads=1).music(fitted, seed=0)
    assert isinstance(music, Music) and music.sample_rate > 0
    y, sr = music  # callers unpack it as before
    assert len(y) == round(fitted.duration * sr)
    music.save(tmp_path / "m.wav")
    back, back_sr = load_audio(tmp_path / "m.wav")
    assert back_sr == sr and len(back) == len(y)
