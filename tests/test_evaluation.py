"""`choreo eval --model RUN --split ...` (choreo.evaluation): a tiny EDGE trained here dances to two real Dance with
Melody songs and a Creative-Commons clip; its numbers equal the metric functions called by hand, per-dance rows
average to the set's numbers, and a number the reference formula cannot define is reported as undefined."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from choreo.cli import main as cli_main
from choreo.evaluation.settings import parse_options, parse_setting
from choreo.evaluation.table import cell
from choreo.metrics.features import kinetic_features
from choreo.metrics.fid import diversity, fid, normalize
from choreo.metrics.suite import Entry, evaluate, format_report, zero_spread_reasons
from choreo.motion.formats import read_motion, write_motion
from choreo.train.config import resolve_config_path

DANCES = ["DANCE_W_22", "DANCE_W_24"]
SONG = "Kevin_MacLeod_-_Vibe_Ace.hq.ogg"
SECONDS = 12.0  # two 5 s clips per dance under the edge protocol


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, data_dir):
    """A 2-step EDGE on the two dances, a split folder holding them, a folder with one song."""
    root = tmp_path_factory.mktemp("evaluation")
    cfg = yaml.safe_load(resolve_config_path("edge_tiny").read_text())
    cfg["data"]["sequences"] = DANCES
    (root / "tiny.yaml").write_text(yaml.safe_dump(cfg))
    argv = ["train", "--config", str(root / "tiny.yaml"), "--data", str(data_dir / "dance_with_melody")]
    argv += ["--out", str(root / "run"), "--cache-dir", str(root / "cache"), "--device", "cpu", "--no-progress"]
    assert cli_main([*argv, "--steps", "2"]) == 0
    (root / "split").mkdir()
    for name in DANCES:
        (root / "split" / name).symlink_to(data_dir / "dance_with_melody" / name)
    (root / "songs").mkdir()
    shutil.copy(data_dir / "cc_music" / SONG, root / "songs" / SONG)
    (root / "songs" / "notes.txt").write_text("not a song")
    return root


@pytest.fixture(scope="module")
def evaluated(tiny, data_dir):
    """One run of the command, two seeds, per dance, with the songs; (report, printed table)."""
    import contextlib
    import io

    argv = ["eval", "--model", str(tiny / "run"), "--split", str(tiny / "split")]
    argv += ["--data", str(data_dir / "dance_with_melody"), "--seconds", str(SECONDS), "--settings", "steps=2"]
    argv += ["--seeds", "0,1", "--per-dance", "--songs", str(tiny / "songs"), "--song-seconds", "6"]
    argv += ["--out", str(tiny / "out"), "--json", str(tiny / "report.json")]
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert cli_main(argv) == 0
    return json.loads((tiny / "report.json").read_text()), buf.getvalue()


def _clips(motion, fps=60.0, seconds=5.0) -> np.ndarray:
    """Consecutive root-zeroed clips (N, 300, J, 3) of a motion at 60 fps, by hand."""
    m = motion.resample(fps)
    p = m.joint_positions()
    w = int(round(seconds * fps))
    clips = np.stack([p[s : s + w] for s in range(0, len(p) - w + 1, w)])
    root = m.skeleton.root
    return clips - clips[:, :1, root : root + 1]


def test_the_dances_are_what_choreo_dance_makes(tiny, evaluated, data_dir):
    from choreo.generate import Choreographer

    model = Choreographer.load(tiny / "run", device="cpu")
    for seed in (0, 1):
        for k, name in enumerate(DANCES):
            real = read_motion(data_dir / "dance_with_melody" / name)
            direct = model.dance(
                real.meta["audio"], seconds=SECONDS, start=float(real.meta["audio_start"]), seed=seed + k, steps=2,
                progress=False,
            )  # fmt: skip
            written = read_motion(tiny / "out" / "split" / "model" / f"seed{seed}" / f"{name}.npz")
            np.testing.assert_allclose(written.positions, direct.positions, atol=1e-6)
            assert written.duration == pytest.approx(SECONDS, abs=0.05)


def test_numbers_equal_the_metric_functions_by_hand(tiny, evaluated, data_dir):
    report, _ = evaluated
    sets = report["sections"][0]["sets"]
    model_run = sets["model"]["runs"][0]
    real = [read_motion(data_dir / "dance_with_melody" / n).crop(0, int(SECONDS * 25)) for n in DANCES]
    pred = [read_motion(tiny / "out" / "split" / "model" / "seed0" / f"{n}.npz") for n in DANCES]
    gt_f = np.concatenate([kinetic_features(_clips(m), 60.0, "reference") for m in real])
    pred_f = [kinetic_features(_clips(m), 60.0, "reference") for m in pred]
    gt_n, pred_n = normalize(gt_f, np.concatenate(pred_f))
    assert len(gt_n) == 4 and len(pred_n) == 4  # two 5 s clips per dance
    assert model_run["fid_k"] == pytest.approx(fid(pred_n, gt_n), rel=1e-4)
    assert model_run["div_k"] == pytest.approx(diversity(pred_n), rel=1e-4)
    # per dance: its own clips against the whole real set
    for k, name in enumerate(DANCES):
        _, own = normalize(gt_f, pred_f[k])
        row = model_run["per_dance"][name]
        assert row["fid_k"] == pytest.approx(fid(own, gt_n), rel=1e-4)
        assert row["div_k"] == pytest.approx(diversity(own), rel=1e-4)
    # the real dances against themselves: FID 0, their own diversity
    assert abs(sets["real"]["runs"][0]["fid_k"]) < 1e-6
    assert sets["real"]["runs"][0]["div_k"] == pytest.approx(diversity(gt_n), rel=1e-4)


def test_scoring_the_written_files_gives_the_same_numbers(tiny, evaluated):
    report, _ = evaluated
    run = report["sections"][0]["sets"]["model"]["runs"][1]
    out = tiny / "out" / "split"
    argv = ["eval", "--pred", str(out / "model" / "seed1"), "--gt", str(out / "real"), "--music", str(out / "music")]
    assert cli_main([*argv, "--protocol", "edge", "--json", str(tiny / "files.json")]) == 0
    files = json.loads((tiny / "files.json").read_text())
    for key in ("fid_k", "fid_g", "div_k", "div_g", "bas", "pfc", "foot_sliding", "jitter", "floor_height"):
        assert files[key] == pytest.approx(run[key], rel=1e-9, abs=1e-12), key


def test_per_dance_rows_average_to_the_set(evaluated):
    report, printed = evaluated
    for key in ("model", "no_music", "training_dances", "mismatched", "real"):
        for run in report["sections"][0]["sets"][key]["runs"]:
            rows = run["per_dance"]
            assert sorted(rows) == DANCES
            for m in ("jitter", "foot_sliding", "floor_height", "freezing"):  # means over dances
                assert np.mean([rows[n][m] for n in DANCES]) == pytest.approx(run[m], rel=1e-9)
            clips = np.array([rows[n]["clips"] for n in DANCES])
            assert clips.tolist() == [2, 2]
            for m in ("bas", "pfc"):  # means over clips
                assert np.average([rows[n][m] for n in DANCES], weights=clips) == pytest.approx(run[m], rel=1e-9)
    assert "per dance:" in printed and "| DANCE_W_22 |" in printed


def test_seeds_baselines_and_the_table(tiny, evaluated):
    report, printed = evaluated
    sets = report["sections"][0]["sets"]
    assert list(sets) == ["real", "model", "no_music", "training_dances", "mismatched"]
    assert [len(sets[k]["runs"]) for k in sets] == [1, 2, 2, 1, 1]
    assert sets["no_music"]["settings"] == {"steps": 2, "guidance": 0.0}
    # the mismatched songs: each song danced by the other real dance (same length, so the same jitter)
    real, mism = sets["real"]["runs"][0]["per_file"]["pred"], sets["mismatched"]["runs"][0]["per_file"]["pred"]
    assert mism["DANCE_W_22"]["jitter"] == pytest.approx(real["DANCE_W_24"]["jitter"])
    assert mism["DANCE_W_22"]["bas"] != pytest.approx(real["DANCE_W_24"]["bas"])  # other beats
    # the training dances: the longest waltz of the training split, cut to each song
    frames = {r["frames"] for r in sets["real"]["runs"][0]["per_file"]["pred"].values()}
    assert {r["frames"] for r in sets["training_dances"]["runs"][0]["per_file"]["pred"].values()} == frames
    # the printed cell: mean [min, max] over the two seeds
    values = [r["div_k"] for r in sets["model"]["runs"]]
    row = next(line for line in printed.splitlines() if line.startswith("| Div_k |"))
    assert row.split(" | ")[2] == f"{np.mean(values):.4g} [{min(values):.4g}, {max(values):.4g}]"
    # the songs without dances: the model and its no-music output, judged against the split's real dances
    songs = report["sections"][1]
    assert list(songs["sets"]) == ["model", "no_music"]
    assert songs["sets"]["model"]["runs"][0]["n_files"] == {"pred": 1, "gt": 2}
    assert songs["sets"]["model"]["runs"][0]["per_file"]["pred"][Path(SONG).stem]["music"].endswith(SONG)
    for seed in (0, 1):
        dance = read_motion(tiny / "out" / "songs" / "model" / f"seed{seed}" / f"{Path(SONG).stem}.npz")
        assert dance.duration == pytest.approx(6.0, abs=0.05)


def test_undefined_metrics_are_marked_and_keep_the_reference_number(evaluated):
    report, printed = evaluated
    found = False
    for section in report["sections"]:
        for s in section["sets"].values():
            for run in s["runs"]:
                for key, reason in run["undefined"].items():
                    found = True
                    assert run[key] > 1e6 and "zero spread" in reason  # the reference's number, blown up
    # the tiny model's dances fire pose tests that these two real waltzes never do
    assert found and "undefined (zero spread in the real set)" in printed


def test_zero_spread_by_hand():
    gt = np.array([[0.0, 1.0], [0.0, 2.0], [0.0, 4.0]], np.float32)  # dimension 0 is constant over the real set
    same = np.array([[0.0, 1.0], [0.0, 3.0]], np.float32)
    shifted = np.array([[1.0, 1.0], [1.0, 3.0]], np.float32)
    varied = np.array([[0.0, 1.0], [1.0, 3.0]], np.float32)
    assert zero_spread_reasons(gt, same, "kinetic") == {}
    assert set(zero_spread_reasons(gt, shifted, "kinetic")) == {"fid"}  # away from the constant, but not varying
    got = zero_spread_reasons(gt, varied, "kinetic", ["a", "b"])
    assert set(got) == {"fid", "div"} and "(a)" in got["fid"]
    # what the reference formula does with them: a 1e10 magnification
    g, p = normalize(gt, shifted)
    assert fid(p, g) > 1e19
    g, p = normalize(gt, same)
    assert fid(p, g) < 10 and diversity(p) < 10


def test_a_still_reference_makes_fid_k_undefined(tmp_path, data_dir, capsys):
    whole = read_motion(data_dir / "dance_with_melody" / "DANCE_W_22")
    dance, later = whole.crop(0, 150), whole.crop(150, 300)  # 6 s each: one 5 s clip
    still = dance.copy(positions=np.repeat(dance.positions[:1], 150, axis=0))  # a reference that never moves
    gt = [Entry("a", still), Entry("b", still.copy(positions=still.positions + np.array([1.0, 0, 0])))]
    pred = [Entry("p", dance), Entry("q", later)]
    r = evaluate(pred, gt, "edge")
    assert set(r["undefined"]) >= {"fid_k", "div_k"} and r["fid_k"] > 1e10
    assert "undefined" in format_report(r).split("FID_k")[1].splitlines()[0]
    assert evaluate(gt, gt, "edge")["undefined"] == {}
    # through the command, files in and JSON out, per dance too
    for folder, items in (("gt", gt), ("pred", pred)):
        (tmp_path / folder).mkdir()
        for e in items:
            write_motion(e.motion, tmp_path / folder / f"{e.name}.npz")
    argv = ["eval", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "gt"), "--protocol", "edge"]
    assert cli_main([*argv, "--per-dance", "--json", str(tmp_path / "r.json")]) == 0
    out = json.loads((tmp_path / "r.json").read_text())
    assert out["fid_k"] > 1e10 and {"fid_k", "div_k"} <= set(out["undefined"])
    assert out["per_dance"]["p.npz"]["fid_k"] is None  # one clip: no FID of its own
    printed = capsys.readouterr().out
    assert "undefined: fid_k" in printed


def test_options_are_typed_booleans_included():
    got = parse_options(["guide_root_height=false", "x=True", "steps=50", "g=2.5", "r=base", "s=none"])
    assert got == {"guide_root_height": False, "x": True, "steps": 50, "g": 2.5, "r": "base", "s": None}
    assert got["guide_root_height"] is False and got["x"] is True
    assert parse_setting("guidance=3; ssr_root=base;") == {"guidance": 3, "ssr_root": "base"}
    assert parse_setting("") == {}
    assert cell([1.0, 2.0, 3.0]) == "2 [1, 3]" and cell([None]) == "n/a" and cell([0.5]) == "0.5"
    assert cell([-2.842e-14]) == "0" and cell([1e-5]) == "1e-05"  # a set against itself: round-off prints 0


def test_bad_requests_fail_before_any_dancing(tiny, data_dir, capsys):
    run, dwm = str(tiny / "run"), str(data_dir / "dance_with_melody")
    assert cli_main(["eval", "--model", run]) == 2
    assert cli_main(["eval", "--model", run, "--split", "test", "--pred", dwm, "--gt", dwm]) == 2
    assert cli_main(["eval", "--model", run, "--split", "validation", "--data", dwm, "--dances", "DANCE_C_4"]) == 2
    assert "in the test split" in capsys.readouterr().err
    assert cli_main(["eval", "--model", run, "--split", "test"]) == 2
    assert "needs --data" in capsys.readouterr().err
    bad = ["eval", "--model", run, "--split", str(tiny / "split"), "--settings", "no_such_option=1"]
    assert cli_main(bad) == 2
    assert "no_such_option" in capsys.readouterr().err


def test_after_dance_plays_the_music_that_follows_the_dance(tiny, data_dir):
    from choreo.audio import load_audio
    from choreo.audio.beats import beat_times
    from choreo.evaluation.sets import VALIDATION, dance_target, split_names

    path = tiny / "split" / "DANCE_W_22"
    real = read_motion(path)
    t = dance_target(path, seconds=8.0, after_dance=True)
    assert t.start == pytest.approx(float(real.meta["audio_start"]) + real.duration + 1.0)
    assert t.seconds == pytest.approx(8.0) and t.real.n_frames == 200  # the real dance stays the reference
    y, sr = load_audio(t.song, start=t.start, end=t.start + 8.0)
    np.testing.assert_allclose(t.beats, beat_times(y, sr), atol=5e-7)  # beats of the music after, from its start
    folder, paths = split_names("validation", data_dir / "dance_with_melody")
    assert [p.name for p in paths] == list(VALIDATION) and folder == data_dir / "dance_with_melody"
