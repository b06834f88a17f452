"""``choreo eval`` end to end: the 35 fixture windows as files, against the reference numbers."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from choreo.cli import main
from choreo.metrics.collect import collect, read_beats_file
from choreo.metrics.physics import pfc, resample_linear
from choreo.metrics.suite import Entry, evaluate
from choreo.motion.formats import read_motion, write_motion
from choreo.motion.motion import Motion
from choreo.motion.skeleton import SMPL24

REL = 1e-5


def _write_sets(root, windows, fps=60, transform=None):
    for sub in ("gt", "pred", "music"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    beats = windows["music_beats"] / float(windows["fps"])
    for i, wid in enumerate(windows["window_id"]):
        pos = windows["windows"][i] if transform is None else transform(windows["windows"][i])
        write_motion(Motion(SMPL24, fps, positions=pos), root / str(windows["set"][i]) / f"{wid}.npz")
        (root / "music" / f"{wid}.beats").write_text("# beat times (s)\n" + "\n".join(f"{b:.6f} 1" for b in beats))
    return root


@pytest.fixture(scope="module")
def fixture_run(tmp_path_factory, windows):
    root = _write_sets(tmp_path_factory.mktemp("eval"), windows)
    out = root / "out.json"
    rc = main(["eval", "--pred", str(root / "pred"), "--gt", str(root / "gt"), "--music", str(root / "music"),
               "--json", str(out)])  # fmt: skip
    assert rc == 0
    return root, json.loads(out.read_text())


def test_eval_reproduces_fid_and_div(fixture_run, expected):
    _, r = fixture_run
    m = expected["metrics"]
    for key, name in (("fid_k", "FID_k"), ("fid_g", "FID_g"), ("div_k", "Div_k"), ("div_g", "Div_g"),
                      ("div_k_gt", "Div_k_gt"), ("div_g_gt", "Div_g_gt")):  # fmt: skip
        assert r[key] == pytest.approx(m[name]["value"], rel=REL), key
    assert r["n_files"] == {"pred": 24, "gt": 11} and r["n_clips"] == {"pred": 24, "gt": 11}


def test_eval_reproduces_bas_per_window_and_set(fixture_run, expected):
    _, r = fixture_run
    e = expected["beat_align_score"]
    assert r["bas"] == pytest.approx(e["set_mean_calc_ba_score"]["pred"], rel=REL)
    assert r["bas_gt"] == pytest.approx(e["set_mean_calc_ba_score"]["gt"], rel=REL)
    for s in ("pred", "gt"):
        for name, rec in r["per_file"][s].items():
            assert rec["bas"] == pytest.approx(e["per_window"][name[:3]], rel=REL, abs=1e-12), name
            assert rec["music"].endswith(name[:3] + ".beats")


def test_eval_reproduces_pfc_per_window_and_set(fixture_run, expected):
    _, r = fixture_run
    e = expected["pfc"]
    assert r["pfc"] == pytest.approx(e["set_mean"]["pred"], rel=REL)
    assert r["pfc_gt"] == pytest.approx(e["set_mean"]["gt"], rel=REL)
    for s in ("pred", "gt"):
        for name, rec in r["per_file"][s].items():
            assert rec["pfc"] == pytest.approx(e["per_window"][name[:3]], rel=REL), name


def test_eval_json_layout_and_protocol(fixture_run):
    root, r = fixture_run
    for key in ("fid_k", "fid_g", "div_k", "div_g", "div_k_gt", "div_g_gt", "bas", "bas_gt", "pfc", "pfc_gt",
                "bas_fact", "bas_fact_gt", "foot_sliding", "foot_sliding_gt", "jitter", "jitter_gt", "freezing",
                "freezing_gt", "floor_height", "floor_height_gt", "protocol", "per_file", "notes"):  # fmt: skip
        assert key in r, key
    p = r["protocol"]
    assert p["name"] == "aistpp" and p["fps"] == 60 and p["window_frames"] is None and p["root_zero"] is True
    assert "population std" in p["normalisation"] and "first frame" in p["root_zeroing"]
    rec = r["per_file"]["pred"]["w11.npz"]
    assert set(rec) >= {"bas", "bas_fact", "pfc", "foot_sliding", "jitter", "freezing", "floor_height", "frames"}
    assert rec["clips"] == 1
    assert rec["frames"] == 240 and rec["clips"] == 1
    assert 0 < rec["foot_sliding"] < 0.3  # m/s, only while in contact (speed < 0.3 m/s)
    assert r["jitter"] > r["jitter_gt"]  # the noisy windows jitter
    assert not list(root.glob(".*tmp*"))  # the atomic write left nothing behind


def test_eval_prints_table_and_protocol(fixture_run, capsys):
    root, _ = fixture_run
    assert main(["eval", "--pred", str(root / "pred"), "--gt", str(root / "gt")]) == 0
    out = capsys.readouterr().out
    assert "protocol aistpp" in out and "60 fps" in out and "root-zeroing" in out
    assert "FID_k" in out and "34.3099" in out and "n/a" in out  # no music: BAS n/a
    assert "note: BAS (pred): 24 of 24 files have no music beats" in out


def test_other_frame_rates_are_resampled_to_the_protocol(tmp_path, windows, fixture_run):
    # 120 fps copies (linear interpolation) resample back to exactly the 60 fps frames
    root = _write_sets(tmp_path, windows, fps=120, transform=lambda w: resample_linear(w, 60, 120))
    r = evaluate(collect(root / "pred", root / "music"), collect(root / "gt", root / "music"))
    _, ref = fixture_run
    for key in ("fid_k", "fid_g", "div_k", "div_g", "bas", "bas_gt", "pfc", "pfc_gt"):
        assert r[key] == pytest.approx(ref[key], rel=1e-9), key
    assert r["per_file"]["pred"]["w11.npz"]["source_fps"] == 120


def test_edge_protocol_cuts_five_second_windows(fixtures_dir):
    j = np.load(fixtures_dir / "metrics" / "joints.npz")
    ents = [Entry(n + ".npz", Motion(SMPL24, 60, positions=j[f"joints__{n}"])) for n in j["names"]]
    r = evaluate(ents[:2], ents[2:], protocol="edge")
    # 576 frames -> 1 window of 300; 1919 frames -> 6
    assert r["n_clips"] == {"pred": 2, "gt": 7}
    assert r["protocol"]["window_frames"] == 300
    long = r["per_file"]["gt"]["gJS_sFM_cAll_d02_mJS4_ch09.npz"]
    p = j["joints__gJS_sFM_cAll_d02_mJS4_ch09"]
    per_window = [pfc(p[s : s + 300], 60) for s in range(0, 1619, 300)]
    assert long["clips"] == 6 and long["pfc"] == pytest.approx(np.mean(per_window), rel=1e-9)


def test_dance_with_melody_gets_derived_spine(data_dir):
    seqs = [data_dir / "dance_with_melody" / n for n in ("DANCE_W_22", "DANCE_W_23", "DANCE_W_33", "DANCE_C_2")]
    ents = [Entry(p.name, read_motion(p).crop(0, 250)) for p in seqs]
    r = evaluate(ents[:2], ents[2:])
    assert r["fid_k"] is not None and r["fid_g"] is not None and r["pfc"] is not None
    assert any("derived neck = midpoint of left_shoulder and right_shoulder" in n for n in r["notes"])
    # resampled from 25 fps to 60: frames at i / 60 s up to the last source frame (249 / 25 s) -> 598
    assert r["per_file"]["pred"]["DANCE_W_22"]["frames"] == 598


def test_mixed_skeletons_skip_kinetic_with_a_note(data_dir, windows):
    dwm = [Entry(n, read_motion(data_dir / "dance_with_melody" / n).crop(0, 100)) for n in ("DANCE_W_22", "DANCE_R_2")]
    smpl = [Entry(f"w{i}", Motion(SMPL24, 60, positions=windows["windows"][i])) for i in range(3)]
    r = evaluate(dwm, smpl)
    assert r["fid_k"] is None and r["div_k"] is None and r["fid_g"] is not None
    assert any("FID_k / Div_k skipped" in n for n in r["notes"])


def test_bvh_skeleton_maps_by_name(data_dir):
    bvh = read_motion(data_dir / "bandai_namco_dance" / "data" / "dataset-1_dance-short_normal_001.bvh")
    ents = [Entry(f"part{k}", bvh.crop(k * 60, k * 60 + 90)) for k in range(4)]
    r = evaluate(ents[:2], ents[2:])
    assert r["fid_g"] is not None and r["div_k"] is not None
    assert not any("derived" in n for n in r["notes"])


def test_bad_inputs_exit_2_without_output(tmp_path, windows, capsys):
    (tmp_path / "empty").mkdir()
    _write_sets(tmp_path / "ok", windows)
    out = tmp_path / "r.json"
    assert main(["eval", "--pred", str(tmp_path / "empty"), "--gt", str(tmp_path / "ok" / "gt"),
                 "--json", str(out)]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "no motion files" in err and str(tmp_path / "empty") in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
    assert main(["eval", "--pred", str(tmp_path / "nope"), "--gt", str(tmp_path / "ok" / "gt")]) == 2
    assert "not a folder" in capsys.readouterr().err
    bad = tmp_path / "ok" / "music" / "w11.beats"
    bad.write_text("0.25\nnot-a-number\n")
    assert main(["eval", "--pred", str(tmp_path / "ok" / "pred"), "--gt", str(tmp_path / "ok" / "gt"),
                 "--music", str(tmp_path / "ok" / "music"), "--json", str(out)]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "w11.beats" in err and "line 2" in err and not out.exists()
    # a damaged motion file names itself
    shutil.copy(bad, tmp_path / "ok" / "pred" / "w99.npz")
    assert main(["eval", "--pred", str(tmp_path / "ok" / "pred"), "--gt", str(tmp_path / "ok" / "gt")]) == 2
    assert "w99.npz" in capsys.readouterr().err


def test_too_few_clips_and_short_motions(windows):
    one = [Entry("a", Motion(SMPL24, 60, positions=windows["windows"][0]))]
    two = [Entry(f"b{i}", Motion(SMPL24, 60, positions=windows["windows"][i])) for i in (1, 2)]
    r = evaluate(one, two)
    assert r["fid_k"] is None and r["div_k"] is None and r["div_k_gt"] is not None
    assert any("at least 2 clips" in n for n in r["notes"])
    short = [Entry("s", Motion(SMPL24, 60, positions=windows["windows"][0][:5]))]
    with pytest.raises(Exception, match="5 frames"):
        evaluate(short, two)


def test_read_beats_file(tmp_path):
    p = tmp_path / "x.beats"
    p.write_text("# madmom style\n0.0913\t1\n0.7997\t2\n\n1.4806 3  # comment\n")
    np.testing.assert_allclose(read_beats_file(p), [0.0913, 0.7997, 1.4806])


def test_eval_on_the_aistpp_pickles_matches_the_full_sequence_numbers(tmp_path, data_dir, fixtures_dir, expected):
    from choreo.metrics.features import geometric_features, kinetic_features, root_zero

    src = data_dir / "aistpp_samples" / "annotation" / "motions"
    names = sorted(p.stem for p in src.glob("*.pkl"))
    for sub in ("pred", "gt", "music"):
        (tmp_path / sub).mkdir()
    for k, name in enumerate(names):
        (tmp_path / ("pred" if k < 2 else "gt") / f"{name}.pkl").symlink_to(src / f"{name}.pkl")
        n = len(np.load(fixtures_dir / "metrics" / "joints.npz")[f"joints__{name}"])
        (tmp_path / "music" / f"{name}.beats").write_text("\n".join(str(f / 60) for f in range(15, n, 30)))
    out = tmp_path / "r.json"
    assert main(["eval", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "gt"), "--music",
                 str(tmp_path / "music"), "--json", str(out)]) == 0  # fmt: skip
    r = json.loads(out.read_text())
    for s in ("pred", "gt"):
        for file, rec in r["per_file"][s].items():
            name = file[:-4]
            assert rec["pfc"] == pytest.approx(expected["pfc"]["per_full_sequence"][name], rel=1e-9)
            assert rec["bas"] == pytest.approx(expected["beat_align_score"]["per_full_sequence"][name], abs=1e-12)
    # the features of the whole root-zeroed sequences, read through the AIST++ reader
    f = np.load(fixtures_dir / "metrics" / "features.npz")
    for i, name in enumerate(f["full_seq_names"]):
        z = root_zero(read_motion(src / f"{name}.pkl").joint_positions())
        np.testing.assert_allclose(kinetic_features(z), f["full_seq_kinetic"][i], rtol=1e-5)
        np.testing.assert_allclose(geometric_features(z), f["full_seq_manual"][i], atol=1e-6)
