"""Dance Revolution's metrics by hand (beat coverage / hit, FID over time, multimodality), the shipped style
classifier on real test dances, and ``choreo eval --dancerevolution``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from choreo.errors import ChoreoError
from choreo.metrics.dance_style import STYLES, StyleClassifier, parse_style, style_label
from choreo.metrics.dancerevolution import (
    beat_coverage_hit,
    evaluate_dancerevolution,
    fid_over_time,
    motion_beat_times,
    multimodality,
    slope,
    song_key,
)
from choreo.metrics.suite import Entry

torch.set_num_threads(1)

TEST_DANCES = ("DANCE_C_4", "DANCE_R_5", "DANCE_W_3", "DANCE_W_17")


@pytest.fixture(scope="module")
def real(data_dir):
    from choreo.motion.formats import read_motion

    return {n: read_motion(data_dir / "dance_with_melody" / n) for n in TEST_DANCES}


@pytest.fixture(scope="module")
def classifier():
    return StyleClassifier.load()


def _beats(motion, every=0.5):
    return np.arange(0.25, motion.duration, every)


# ---- beats --------------------------------------------------------------------------------------------------
def test_beat_coverage_and_hit_by_hand():
    motion = [0.5, 1.02, 1.6, 3.0]
    music = [0.5, 1.0, 1.5, 2.0, 2.5]
    cov, hit = beat_coverage_hit(motion, music, tolerance=0.1)
    assert cov == pytest.approx(4 / 5) and hit == pytest.approx(3 / 4)  # 0.5, 1.02 and 1.6 are within 0.1 s
    assert beat_coverage_hit(motion, music, tolerance=0.01)[1] == pytest.approx(1 / 4)
    cov, hit = beat_coverage_hit([], music)
    assert cov == 0.0 and np.isnan(hit)
    cov, hit = beat_coverage_hit(motion, [])
    assert np.isnan(cov) and hit == 0.0


def test_motion_beats_of_a_swing_fall_where_it_turns():
    fps = 60.0
    t = np.arange(int(6 * fps)) / fps
    # a joint swinging at 1 Hz stops twice a second, at t = 0.25 + k / 2
    x = np.sin(2 * np.pi * t)
    pos = np.zeros((len(t), 2, 3))
    pos[:, 1, 0] = x
    beats = motion_beat_times(pos, fps)
    np.testing.assert_allclose(beats, 0.25 + 0.5 * np.arange(12), atol=1.5 / fps)
    assert beat_coverage_hit(beats, 0.25 + 0.5 * np.arange(12), 0.1) == (1.0, 1.0)
    assert beat_coverage_hit(beats, 0.25 + 0.25 * np.arange(24), 0.1)[0] == 0.5  # every other music beat
    assert beat_coverage_hit(beats, 0.5 * np.arange(12), 0.1)[1] == 0.0  # a quarter second off the beat
    still = np.repeat(pos[:1], len(t), axis=0) + 1e-16 * np.random.default_rng(0).normal(size=pos.shape)
    assert len(motion_beat_times(still, fps)) == 0  # round-off is not a beat


# ---- FID over time, multimodality -------------------------------------------------------------------------
def test_fid_over_time_and_multimodality_by_hand():
    rng = np.random.default_rng(0)
    gt = rng.normal(size=(50, 3))
    mu, tr = gt.mean(axis=0), float(np.trace(np.cov(gt.T)))
    x = np.array([[1.0, 2.0, 3.0]])
    curve = fid_over_time([gt[:20], x, np.zeros((0, 3))], gt)
    assert curve[1] == pytest.approx(float((x[0] - mu) @ (x[0] - mu)) + tr) and curve[2] is None
    assert curve[0] < curve[1]
    assert slope([1.0, None, 5.0, 7.0]) == pytest.approx(2.0) and slope([None, 3.0]) is None
    feats = np.array([[0.0, 0.0], [3.0, 4.0], [10.0, 10.0], [0.0, 1.0], [6.0, 8.0]])
    assert multimodality(feats, ["a", "a", "b", "c", "a"]) == (pytest.approx((5 + 10 + 5) / 3), 1)
    assert multimodality(feats[:3], ["a", "b", "c"]) == (None, 0)
    assert [song_key(n) for n in ("DANCE_C_4_seed3.npz", "song-seed12", "song@2.bvh", "my_seed")] == [
        "DANCE_C_4",
        "song",
        "song",
        "my_seed",
    ]


def test_a_dance_that_freezes_climbs_in_fid_over_time(real, classifier):
    gt = [Entry(n, m, _beats(m)) for n, m in real.items()]
    frozen = []
    for n, m in real.items():
        p = m.joint_positions().copy()
        k = int(24 * m.fps)
        p[k:] = p[k]  # the dance stops after 24 s
        frozen.append(Entry(f"{n}_seed0", m.copy(positions=p, rotations=None, root=None), _beats(m)))
    same = evaluate_dancerevolution(gt, gt, classifier=classifier)
    stop = evaluate_dancerevolution(frozen, gt, classifier=classifier)
    # W_17 lasts 51 s: 12 clips; the others give the full 15
    assert stop["clips_per_position"] == [4] * 12 + [3] * 3 and len(stop["fid_k_over_time"]) == 15
    before, after = np.mean(stop["fid_k_over_time"][:6]), np.mean(stop["fid_k_over_time"][6:])
    assert stop["fid_k_over_time"][:6] == pytest.approx(same["fid_k_over_time"][:6])
    assert after > 2 * before and stop["fid_k_over_time_slope"] > 5 * abs(same["fid_k_over_time_slope"])
    assert stop["beat_coverage"] < 0.6 * same["beat_coverage"]  # a still dancer makes no beats
    assert same["beat_coverage"] == same["beat_coverage_gt"] and 0 < same["beat_hit"] < 1
    assert same["acc"] == same["acc_gt"] >= 0.75
    # several dances per song: two copies of one dance are one song with no variety at all
    twice = [Entry(f"DANCE_W_3_seed{k}", real["DANCE_W_3"], None) for k in range(2)]
    r = evaluate_dancerevolution(twice, gt, style="W", classifier=classifier)
    assert r["multimodality_k"] == pytest.approx(0.0, abs=1e-9) and r["songs_with_several_dances"] == 1
    assert r["beat_coverage"] is None and any("no music beats" in n for n in r["notes"])


# ---- style classifier -----------------------------------------------------------------------------------------
def test_the_shipped_classifier_recognises_real_test_dances(real, classifier):
    assert classifier.styles == STYLES and classifier.info["test_dance_accuracy"] >= 0.75
    right, clips = 0, []
    for n, m in real.items():
        style, mean_lp, clip_pred = classifier.classify(m)
        right += style == style_label(n)
        clips += list(clip_pred == STYLES.index(style_label(n)))
        assert mean_lp.shape == (4,) and np.exp(mean_lp).sum() <= 1.0 + 1e-6
    assert right >= 3 and np.mean(clips) > 0.5  # chance is 25 %
    assert style_label("out/DANCE_R_5_seed2.npz") == "rumba" and style_label("song.npz") is None
    assert parse_style("w") == "waltz" == parse_style("Waltz") and parse_style("chacha") == "cha-cha"
    with pytest.raises(ChoreoError, match="unknown dance style"):
        parse_style("salsa")
    # a dance shorter than 4 s is one clip (its last frame repeated)
    assert len(classifier.classify(real["DANCE_W_3"].crop(0, 30))[2]) == 1


def test_choreo_eval_dancerevolution_writes_its_block(real, tmp_path, capsys):
    from choreo.audio.beats import write_beats
    from choreo.cli import main
    from choreo.motion.formats import write_motion

    for d in ("pred", "gt", "music"):
        (tmp_path / d).mkdir()
    for n in ("DANCE_W_3", "DANCE_W_17"):
        m = real[n].crop(0, 13 * 25)
        m = m.copy(meta={})  # no song recorded in the files: beats come from the music folder only
        write_motion(m, tmp_path / "gt" / f"{n}.npz")
        write_beats(tmp_path / "music" / f"{n}.beats", _beats(m))
        for k in range(2):  # two dances per song; the seed suffix finds the song's beats
            write_motion(m.crop(25 * k), tmp_path / "pred" / f"{n}_seed{k}.npz")
    out = tmp_path / "r.json"
    argv = ["eval", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "gt"), "--music", str(tmp_path / "music")]
    assert main([*argv, "--dancerevolution", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Dance Revolution metrics" in text and "FID_k per 4 s clip" in text
    r = json.loads(out.read_text())
    dr = r["dancerevolution"]
    assert dr["songs_with_several_dances"] == 2 and dr["multimodality_k"] > 0 and dr["acc"] is not None
    assert dr["clips_per_position"][:2] == [4, 4] and dr["clips_per_position"][2] == 2  # 13 s and 12 s dances
    assert all(rec["beat_coverage"] is not None for rec in dr["per_file"]["pred"].values())
    assert r["fid_k"] is not None and "bas" in r  # the standard table is still there
    assert main([*argv, "--style", "waltz"]) == 2  # --style needs --dancerevolution
