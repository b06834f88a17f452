"""Choreographer: loading checkpoints, dancing to real songs, tuples, silence, edits, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from choreo.audio.features import frame_count
from choreo.errors import ChoreoError
from choreo.generate import Choreographer, Edit
from choreo.motion import rotations as R
from edge_standin import make_checkpoint, rot6d_rep, smooth_smpl

TRUMPET = "cc_music/sorohanro_-_solo-trumpet-06.hq.ogg"  # 5.33 s


@pytest.fixture(autouse=True)
def quiet_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CHOREO_CACHE", str(tmp_path / "cache"))
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("run")
    make_checkpoint(d / "last.ckpt")
    return d


def test_load_file_or_run_dir(run_dir):
    a = Choreographer.load(run_dir, device="cpu", threads=1)
    b = Choreographer.load(run_dir / "last.ckpt", device="cpu", threads=1)
    assert a.checkpoint == b.checkpoint and a.fps == 30.0 and a.window_frames == 16 and a.feature_set == "baseline35"
    assert a.representation.name == "smpl_rot6d" and a.method.name == "edge"
    for pa, pb in zip(a.method.parameters(), b.method.parameters(), strict=True):
        assert torch.equal(pa, pb)


def test_dance_to_a_real_song(run_dir, data_dir):
    ch = Choreographer.load(run_dir, device="cpu", threads=1)
    song = data_dir / TRUMPET
    m = ch.dance(song, seconds=3.0, start=1.0, steps=3, progress=False)
    assert m.n_frames == 90 and m.fps == 30.0 and m.skeleton.name == "smpl24"
    assert np.isfinite(m.rotations).all() and np.isfinite(m.root).all()
    assert m.meta["audio"] == str(song) and m.meta["audio_start"] == 1.0 and m.meta["seed"] == 0
    whole = ch.dance(song, steps=2, progress=False)  # default: the whole song
    info = sf.info(str(song))
    assert whole.n_frames == frame_count(info.frames / info.samplerate, 30.0)  # about 5.33 s


def test_tuple_silence_and_short_songs(run_dir):
    ch = Choreographer.load(run_dir, device="cpu", threads=1)
    sr = 22050
    silence = ch.dance((np.zeros(2 * sr, np.float32), sr), steps=2, progress=False)
    assert silence.n_frames == 60 and np.isfinite(silence.rotations).all()
    with pytest.raises(ChoreoError, match="lasts 0.20 s"):  # a 0.2 s song is too short to dance to
        ch.dance((0.1 * np.random.default_rng(0).normal(size=sr // 5).astype(np.float32), sr), steps=2)
    short = ch.dance((0.1 * np.random.default_rng(0).normal(size=sr * 5 // 4).astype(np.float32), sr), steps=2)
    assert short.n_frames == 37  # 1.25 s, shorter than one window: padded, then cropped
    with pytest.raises(ChoreoError, match="at least 1"):
        ch.dance((np.zeros(2 * sr, np.float32), sr), seconds=0.1, steps=2)
    stereo = ch.dance((np.zeros((sr, 2), np.float32), sr), steps=2, progress=False)
    assert stereo.n_frames == 30


def test_seeds_and_features_input(run_dir):
    ch = Choreographer.load(run_dir, device="cpu", threads=1)
    feats = np.random.default_rng(1).normal(size=(50, 35)).astype(np.float32)
    a = ch.dance(feats, steps=3, seed=5, progress=False)
    b = ch.dance(feats, steps=3, seed=5, progress=False)
    c = ch.dance(feats, steps=3, seed=6, progress=False)
    assert np.array_equal(a.rotations, b.rotations) and np.array_equal(a.root, b.root)
    assert not np.allclose(a.root, c.root)
    part = ch.dance(feats, seconds=1.0, start=0.5, steps=2, progress=False)
    assert part.n_frames == 30


def test_edit_through_the_api(run_dir):
    ch = Choreographer.load(run_dir, device="cpu", threads=1)
    ref = smooth_smpl(60, phase=0.2)
    feats = np.zeros((60, 35), np.float32)
    m = ch.dance(feats, steps=3, edit=Edit(ref, frames=(20, 50), joints="upper"), progress=False)
    up = sorted(ref.skeleton.upper_body)
    mat = lambda q: R.quat_to_matrix(torch.from_numpy(np.asarray(q, np.float64))).numpy()  # noqa: E731
    np.testing.assert_allclose(mat(m.rotations[20:50, up]), mat(ref.rotations[20:50, up]), atol=1e-5)


def test_bad_checkpoints(tmp_path, run_dir):
    corrupt = tmp_path / "corrupt.ckpt"
    corrupt.write_bytes(b"not a checkpoint at all" * 10)
    with pytest.raises(ChoreoError, match="corrupt"):
        Choreographer.load(corrupt)
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes((run_dir / "last.ckpt").read_bytes()[:5000])
    with pytest.raises(ChoreoError):
        Choreographer.load(truncated)
    with pytest.raises(ChoreoError, match="not found"):
        Choreographer.load(tmp_path / "missing.ckpt")
    with pytest.raises(ChoreoError, match="no checkpoint"):
        Choreographer.load(tmp_path)

    from choreo.checkpoint import load_checkpoint, save_checkpoint

    state = load_checkpoint(run_dir / "last.ckpt")
    other = dict(state, method="d2m")
    save_checkpoint(tmp_path / "other.ckpt", other)
    with pytest.raises(ChoreoError, match="method 'd2m' is not one this choreo runs") as err:
        Choreographer.load(tmp_path / "other.ckpt")
    assert str(tmp_path / "other.ckpt") in str(err.value)
    config = dict(state["config"], model=dict(state["config"]["model"], width=64))
    save_checkpoint(tmp_path / "wrong.ckpt", dict(state, config=config))
    with pytest.raises(ChoreoError, match="do not fit"):
        Choreographer.load(tmp_path / "wrong.ckpt")
    save_checkpoint(tmp_path / "partial.ckpt", {k: v for k, v in state.items() if k != "spec"})
    with pytest.raises(ChoreoError, match="spec"):
        Choreographer.load(tmp_path / "partial.ckpt")


def test_bad_music(run_dir, tmp_path):
    ch = Choreographer.load(run_dir, device="cpu", threads=1)
    with pytest.raises(ChoreoError):
        ch.dance((np.zeros(100, np.float32), 22050), start=5.0, steps=1)
    with pytest.raises(ChoreoError, match="seconds"):
        ch.dance(np.zeros((30, 35), np.float32), seconds=-1.0)
    with pytest.raises(ChoreoError):
        ch.dance(tmp_path / "nope.wav", steps=1)
    with pytest.raises(ChoreoError):
        ch.dance(np.zeros((30, 35), np.float32), steps=0)
    with pytest.raises(ChoreoError, match="skeleton"):
        from edge_standin import positions_motion

        ch.dance(np.zeros((30, 35), np.float32), steps=1, edit=Edit(positions_motion(10)))


def test_rot6d_representation_helper_is_smpl():
    assert rot6d_rep().dim == 151


def test_edit_with_a_real_aistpp_motion(run_dir, data_dir):
    # AIST++ at 60 fps, resampled to the model's 30: lower body and root follow it over frames 30:90
    from choreo.motion.formats import read_motion

    ref = read_motion(data_dir / "aistpp_samples/annotation/motions/gBR_sBM_cAll_d04_mBR2_ch08.pkl")
    ch = Choreographer.load(run_dir, device="cpu", threads=1)
    m = ch.dance(np.zeros((120, 35), np.float32), steps=3, edit=Edit(ref, frames=(30, 90), joints="lower"))
    low = sorted(ref.skeleton.lower_body)
    mat = lambda q: R.quat_to_matrix(torch.from_numpy(np.asarray(q, np.float64))).numpy()  # noqa: E731
    np.testing.assert_allclose(mat(m.rotations[30:90, low]), mat(ref.rotations[60:180:2, low]), atol=1e-5)
    np.testing.assert_allclose(m.root[30:90], ref.root[60:180:2], atol=1e-5)
    assert np.abs(m.root[:30] - ref.root[:60:2]).max() > 1e-2


def test_dance_with_melody_song_and_upper_body_edit(tmp_path, data_dir):
    # a positions model on the Dance with Melody skeleton (25 fps), its real song, its real dance as reference
    from choreo.data.representation import get_representation
    from choreo.motion.formats import read_motion

    ref = read_motion(data_dir / "dance_with_melody/DANCE_C_2")
    rep = get_representation("positions", ref.skeleton)
    ckpt = make_checkpoint(tmp_path / "dwm.ckpt", rep=rep, fps=25.0, window=20, reference=ref)
    ch = Choreographer.load(ckpt, device="cpu", threads=1)
    kw = dict(seconds=3.0, start=ref.meta["audio_start"], steps=3, edit=Edit(ref, joints="upper"))
    m = ch.dance(ref.meta["audio"], fit_skeleton=False, **kw)
    assert m.n_frames == 75 and m.fps == 25.0 and m.skeleton.same_structure(ref.skeleton)
    up, root = sorted(ref.skeleton.upper_body), ref.skeleton.root
    rel = lambda p: p[:, up] - p[:, root : root + 1]  # noqa: E731
    np.testing.assert_allclose(rel(m.positions), rel(ref.positions[:75]), atol=1e-5)
    # with fixed bones (the default) the kept joints follow the reference as far as its stretching bones allow
    fitted = ch.dance(ref.meta["audio"], **kw)
    err = np.linalg.norm(rel(fitted.positions) - rel(ref.positions[:75]), axis=-1)
    assert err.mean() < 0.03 and fitted.meta["fit_skeleton"]["mean_moved"] < 0.05


def test_foot_lock_pins_predicted_contacts_and_touches_only_the_legs(tmp_path):
    """Position models: with foot_lock the feet stand still wherever the model predicts a long contact."""
    from choreo.motion.cleanup import contact_segments
    from edge_standin import positions_rep

    ckpt = make_checkpoint(tmp_path / "pos.ckpt", rep=positions_rep())
    ch = Choreographer.load(ckpt, device="cpu", threads=1)
    music = (0.1 * np.random.default_rng(1).normal(size=22050 * 3).astype(np.float32), 22050)
    raw = ch.dance(music, steps=3, seed=4, progress=False, foot_lock=False, fit_skeleton=False)
    locked = ch.dance(music, steps=3, seed=4, progress=False, fit_skeleton=False)
    assert locked.meta["foot_lock"] and not raw.meta["foot_lock"] and not locked.meta["fit_skeleton"]
    contacts = raw.meta["contacts"]
    left = locked.skeleton.feet[0]
    segments = contact_segments(contacts[:, 0] | contacts[:, 1], min_frames=3)  # ankle = toe here
    assert segments, "the untrained stand-in predicts some contacts"
    for a, b in segments:
        assert np.ptp(locked.positions[a:b, left][:, [0, 2]], axis=0).max() < 1e-5
    # the root and the chest never move; heights never change
    np.testing.assert_array_equal(locked.positions[:, :2], raw.positions[:, :2])
    np.testing.assert_array_equal(locked.positions[..., 1], raw.positions[..., 1])


def test_fitted_skeleton_keeps_bones_fixed_and_feet_near_their_lock(tmp_path):
    """The default post-processing gives the dance constant bones, moving the locked feet little."""
    from choreo.motion.cleanup import bone_lengths
    from edge_standin import positions_rep

    ckpt = make_checkpoint(tmp_path / "pos.ckpt", rep=positions_rep())
    ch = Choreographer.load(ckpt, device="cpu", threads=1)
    music = (0.1 * np.random.default_rng(1).normal(size=22050 * 3).astype(np.float32), 22050)
    locked = ch.dance(music, steps=3, seed=4, progress=False, ground=False, fit_skeleton=False)
    fitted = ch.dance(music, steps=3, seed=4, progress=False, ground=False)  # grounding apart: it moves heights
    assert np.ptp(bone_lengths(locked), axis=0).max() > 0.01  # the untrained stand-in stretches its bones
    assert np.ptp(bone_lengths(fitted), axis=0).max() < 1e-5
    np.testing.assert_allclose(bone_lengths(fitted)[0], np.median(bone_lengths(locked), axis=0), atol=1e-5)
    feet = [j for j in fitted.skeleton.feet if j >= 0]
    moved = np.linalg.norm(fitted.positions - locked.positions, axis=-1)
    assert moved[:, feet].mean() < 0.5 * moved.mean()  # feet weigh more in the fit than the rest
    assert fitted.meta["fit_skeleton"]["max_moved"] == pytest.approx(moved.max(), abs=1e-5)
