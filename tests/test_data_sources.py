"""Data folders: kind detection, pairing, official and deterministic splits, broken and unpaired files."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from choreo.audio.demo import demo_song, write_wav
from choreo.cli import main as cli_main
from choreo.data.config import DataConfig
from choreo.data.datasets import build_dataset
from choreo.data.sources import DWM_TEST, detect_kind, list_items, split_items
from choreo.errors import ChoreoError
from choreo.motion import BODY25
from choreo.motion.formats import read_motion
from conftest import openpose_frame, write_openpose

AIST = (
    "gBR_sBM_cAll_d04_mBR2_ch08",
    "gBR_sBM_cAll_d06_mBR2_ch06",
    "gJS_sBM_cAll_d03_mJS2_ch07",
    "gJS_sFM_cAll_d02_mJS4_ch09",
)


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.getbasetemp() / "choreo-cache"


@pytest.fixture(scope="module")
def song(tmp_path_factory):
    path = tmp_path_factory.mktemp("song") / "song.wav"
    y, sr = demo_song(seconds=11.0, bpm=120, sr=22050)
    write_wav(path, y, sr)
    return path


@pytest.fixture
def aist_folder(tmp_path, data_dir, song):
    """An AIST++/EDGE-layout folder: motions/*.pkl, wavs/ by music id or by name, official split files."""
    root = tmp_path / "aist"
    (root / "motions").mkdir(parents=True)
    (root / "wavs").mkdir()
    (root / "splits").mkdir()
    for name in AIST:
        (root / "motions" / f"{name}.pkl").symlink_to(
            data_dir / "aistpp_samples" / "annotation" / "motions" / f"{name}.pkl"
        )
    shutil.copy(song, root / "wavs" / "mBR2.wav")  # by music id: both gBR sequences
    shutil.copy(song, root / "wavs" / f"{AIST[2]}.wav")  # by sequence name
    # AIST[3] (mJS4) has no music
    (root / "splits" / "crossmodal_train.txt").write_text(f"{AIST[0]}\n{AIST[2]}\n{AIST[3]}\n")
    (root / "splits" / "crossmodal_test.txt").write_text(f"{AIST[1]}\n")
    return root


def test_kinds_are_detected(aist_folder, data_dir, tmp_path):
    assert detect_kind(aist_folder) == "aistpp"
    assert detect_kind(data_dir / "dance_with_melody") == "dwm"
    assert detect_kind(tmp_path) == "pairs"
    with pytest.raises(ChoreoError, match="not found"):
        detect_kind(tmp_path / "nope")


def test_aistpp_pairs_by_music_id_official_split_and_ignore_list(aist_folder, cache_dir):
    items, problems, kind = list_items(aist_folder)
    assert kind == "aistpp" and [it.name for it in items] == list(AIST[:3])
    assert items[0].audio.name == "mBR2.wav" and items[2].audio.name == f"{AIST[2]}.wav"
    assert len(problems) == 1 and AIST[3] in problems[0] and "mJS4.wav" in problems[0]
    assert [it.name for it in split_items(items, kind, aist_folder, "train")] == [AIST[0], AIST[2]]
    assert [it.name for it in split_items(items, kind, aist_folder, "test")] == [AIST[1]]

    cfg = DataConfig(path=str(aist_folder), window_seconds=2.0, stride_seconds=1.0, cache_dir=str(cache_dir))
    msgs: list[str] = []
    ds = build_dataset(cfg, "train", log=msgs.append)
    warned = [m for m in msgs if m.startswith("warning:")]
    assert len(warned) == 1 and f"skipped 1 sequence(s) in {aist_folder}: {AIST[3]}: no music" in warned[0]
    assert ds.kind == "aistpp" and ds.names == [AIST[0], AIST[2]]
    assert ds.representation.name == "smpl_rot6d" and ds.motion_dim == 151 and ds.feature_dim == 35
    # 9.6 s at 30 fps = 288 frames -> (288 - 60) // 30 + 1 = 8 windows, twice (mirror), per sequence
    assert len(ds) == 2 * 2 * 8
    (aist_folder / "ignore_list.txt").write_text(f"{AIST[3]}\n")
    assert list_items(aist_folder)[1] == []


def test_dwm_split_is_the_fixed_held_out_list(data_dir):
    items, problems, kind = list_items(data_dir / "dance_with_melody")
    assert kind == "dwm" and problems == [] and len(items) == 38
    test = split_items(items, kind, data_dir / "dance_with_melody", "test")
    train = split_items(items, kind, data_dir / "dance_with_melody", "train")
    assert [it.name for it in test] == sorted(DWM_TEST) and len(train) == 34
    assert {n.split("_")[1] for n in DWM_TEST} == {"C", "R", "W"}
    assert not {it.name for it in train} & set(DWM_TEST)
    with pytest.raises(ChoreoError, match="not in the train split: DANCE_W_3"):
        build_dataset(DataConfig(path=str(data_dir / "dance_with_melody"), sequences=["DANCE_W_3"]), "train")


def test_a_validation_fold_can_be_held_out_of_training(data_dir):
    from choreo.data.datasets import select_items

    folder = str(data_dir / "dance_with_melody")
    fold = ["DANCE_C_6", "DANCE_R_3", "DANCE_W_20", "DANCE_W_31"]
    kept, _, _ = select_items(DataConfig(path=folder, exclude_sequences=fold), "train")
    assert len(kept) == 30 and not {it.name for it in kept} & set(fold)
    with pytest.raises(ChoreoError, match="to exclude are not in the train split: DANCE_W_3"):
        select_items(DataConfig(path=folder, exclude_sequences=["DANCE_W_3"]), "train")  # a test dance


def test_songs_of_a_validation_fold_can_be_held_out_of_a_codec(tmp_path):
    from choreo.data.audio_windows import build_audio_dataset

    for name in ("a", "b", "c"):
        write_wav(tmp_path / f"{name}.wav", demo_song(3.0, sr=8000)[0], 8000)
    cfg = DataConfig(path=str(tmp_path), audio_sr=8000, window_seconds=1.0, stride_seconds=1.0, cache_dir="")
    every = build_audio_dataset(cfg, "all")
    cfg.exclude_sequences = ["b"]
    held = build_audio_dataset(cfg, "all")
    assert len(held) == len(every) * 2 // 3
    cfg.exclude_sequences = ["zz"]
    with pytest.raises(ChoreoError, match="to exclude are not in the all split: zz"):
        build_audio_dataset(cfg, "all")


def test_pairs_folder_hash_split_is_deterministic_and_about_a_tenth(tmp_path):
    for i in range(60):
        (tmp_path / f"take{i:02d}.npz").touch()
        (tmp_path / f"take{i:02d}.wav").touch()
    items, problems, kind = list_items(tmp_path)
    assert kind == "pairs" and problems == [] and len(items) == 60
    test = split_items(items, kind, tmp_path, "test")
    train = split_items(items, kind, tmp_path, "train")
    assert 2 <= len(test) <= 12 and len(test) + len(train) == 60
    assert [it.name for it in test] == [it.name for it in split_items(items, kind, tmp_path, "test")]
    (tmp_path / "test.txt").write_text("take03\ntake07\n")
    assert [it.name for it in split_items(items, kind, tmp_path, "test")] == ["take03", "take07"]
    assert len(split_items(items, kind, tmp_path, "train")) == 58


def test_unpaired_and_broken_files_are_skipped_with_one_warning(tmp_path, data_dir, song, cache_dir):
    src = data_dir / "aistpp_samples" / "annotation" / "motions" / f"{AIST[0]}.pkl"
    shutil.copy(src, tmp_path / "good.pkl")
    shutil.copy(song, tmp_path / "good.wav")
    shutil.copy(src, tmp_path / "lonely.pkl")
    shutil.copy(song, tmp_path / "song_only.wav")
    (tmp_path / "broken.pkl").write_bytes(b"\x80\x04 this is not a pickle")
    shutil.copy(song, tmp_path / "broken.wav")
    (tmp_path / "notes.txt").write_text("not data")
    cfg = DataConfig(path=str(tmp_path), window_seconds=2.0, stride_seconds=1.0, mirror=False, cache_dir=str(cache_dir))
    msgs: list[str] = []
    ds = build_dataset(cfg, "all", log=msgs.append)
    warned = [m for m in msgs if m.startswith("warning:")]
    assert len(warned) == 1
    msg = warned[0]
    assert "skipped 3 sequence(s)" in msg
    assert "lonely.pkl: no music" in msg and "song_only.wav: no motion" in msg and "broken: " in msg
    assert ds.names == ["good"] and len(ds) == 8


def test_nothing_usable_is_an_error_and_the_cli_exits_2_with_one_line(tmp_path, capsys):
    (tmp_path / "broken.pkl").write_bytes(b"garbage")
    (tmp_path / "broken.wav").write_bytes(b"RIFF garbage")
    (tmp_path / "lonely.bvh").write_text("HIERARCHY\n")
    with pytest.warns(UserWarning), pytest.raises(ChoreoError, match="no usable sequences"):
        build_dataset(DataConfig(path=str(tmp_path), cache_dir=""), "all")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ChoreoError, match="no paired sequences"):
        build_dataset(DataConfig(path=str(empty), cache_dir=""), "train")

    capsys.readouterr()
    args = ["train", "--method", "edge", "--config", "edge_tiny", "--device", "cpu", "--no-progress"]
    rc = cli_main([*args, "--data", str(tmp_path), "--out", str(tmp_path / "run"), "--cache-dir", ""])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert err[-1].startswith("choreo train: error:") and "no usable sequences" in err[-1]
    assert "Traceback" not in "\n".join(err)
    assert not (tmp_path / "run" / "last.ckpt").exists()
    rc = cli_main([*args, "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "run2")])
    assert rc == 2 and "data folder not found" in capsys.readouterr().err
    np.testing.assert_equal(sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")), [])


def _openpose_sequence(folder, n_frames=6):
    base = np.stack([300.0 + np.arange(25) * 4.0, 200.0 + np.arange(25) * 6.0], axis=1)
    return write_openpose(folder, [openpose_frame(base + [2.0 * t, 0.0]) for t in range(n_frames)], folder.name)


def test_pairs_folder_of_openpose_sequences(tmp_path, data_dir):
    """Sub-folders of *_keypoints.json next to NAME.<audio> are pairs; fps.txt sets their frame rate."""
    root = tmp_path / "dr"
    _openpose_sequence(root / "ballet_1")
    _openpose_sequence(root / "hiphop_2", n_frames=4)
    (root / "ballet_1.wav").touch()
    (root / "hiphop_2.mp3").touch()
    (root / "hiphop_2" / "fps.txt").write_text("25\n")
    _openpose_sequence(root / "lonely")  # no music
    (root / "notes").mkdir()  # a folder without keypoints is not a motion
    (root / "notes" / "readme.json").write_text("{}")
    (root / "notes.wav").touch()
    assert detect_kind(root) == "pairs"
    items, problems, kind = list_items(root)
    assert kind == "pairs" and [it.name for it in items] == ["ballet_1", "hiphop_2"]
    assert [it.motion for it in items] == [root / "ballet_1", root / "hiphop_2"]
    assert [it.audio.name for it in items] == ["ballet_1.wav", "hiphop_2.mp3"]
    assert [it.fps for it in items] == [None, 25.0] and items[0].audio_start == 0.0
    assert problems == ["lonely/: no music file with the same name", "notes.wav: no motion file with the same name"]
    m = read_motion(items[1].motion, fps=items[1].fps)
    assert m.skeleton is BODY25 and m.fps == 25 and m.n_frames == 4
    assert read_motion(items[0].motion, fps=items[0].fps).fps == 30  # read_motion's OpenPose default

    # a motion file of the same name wins over the folder; a bad fps.txt is one problem line
    (root / "ballet_1.npz").touch()
    (root / "hiphop_2" / "fps.txt").write_text("fast")
    items, problems, _ = list_items(root)
    assert [(it.name, it.motion.name) for it in items] == [("ballet_1", "ballet_1.npz")]
    assert "hiphop_2/: fps.txt must hold one number (frames per second), got 'fast'" in problems
    (root / "hiphop_2" / "fps.txt").write_text("0")
    assert "hiphop_2/: fps.txt must hold a positive frame rate, got '0'" in list_items(root)[1]


def test_openpose_sequences_do_not_change_dwm_or_aistpp_detection(tmp_path, data_dir, aist_folder):
    assert detect_kind(data_dir / "dance_with_melody") == "dwm"
    items, problems, kind = list_items(data_dir / "dance_with_melody")
    assert kind == "dwm" and len(items) == 38 and problems == []
    # Dance with Melody sequences with an OpenPose folder beside them: still dwm
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (mixed / "DANCE_C_4").symlink_to(data_dir / "dance_with_melody" / "DANCE_C_4")
    _openpose_sequence(mixed / "extra")
    (mixed / "extra.wav").touch()
    assert detect_kind(mixed) == "dwm"
    # AIST++ with an OpenPose folder beside it: still aistpp
    _openpose_sequence(aist_folder / "extra")
    (aist_folder / "extra.wav").touch()
    assert detect_kind(aist_folder) == "aistpp"
    # only an OpenPose sequence that happens to be called "motions" is not AIST++
    pairs = tmp_path / "pairs"
    _openpose_sequence(pairs / "motions")
    (pairs / "motions.wav").touch()
    items, problems, kind = list_items(pairs)
    assert kind == "pairs" and [it.name for it in items] == ["motions"] and problems == []
