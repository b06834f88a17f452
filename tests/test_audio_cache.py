"""song_features' cache: keyed by content and parameters, reused, safe under concurrent writers."""

from __future__ import annotations

import multiprocessing as mp
import shutil

import numpy as np
import pytest
import soundfile as sf

from choreo.audio import features as feat
from choreo.audio.cache import FeatureCache, default_cache_dir
from choreo.audio.demo import demo_song


@pytest.fixture()
def song(tmp_path):
    y, sr = demo_song(seconds=4.0, bpm=120.0)
    path = tmp_path / "song.wav"
    sf.write(path, y, sr)
    return path


def _entries(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_second_call_reads_the_cache(song, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    first = feat.song_features(song, "baseline35", 30, cache_dir=cache)
    assert first.shape == (120, 35)
    assert len(_entries(cache)) == 1

    def boom(*a, **k):
        raise AssertionError("recomputed despite the cache")

    monkeypatch.setattr(feat, "compute_features", boom)
    again = feat.song_features(song, "baseline35", 30, cache_dir=cache)
    np.testing.assert_array_equal(first, again)
    # n_frames crops / pads the cached full-length result, with no new entry
    np.testing.assert_array_equal(feat.song_features(song, "baseline35", 30, n_frames=50, cache_dir=cache), first[:50])
    assert feat.song_features(song, "baseline35", 30, n_frames=130, cache_dir=cache).shape == (130, 35)
    # the key is the content: a renamed copy of the song is a hit too
    copy = tmp_path / "elsewhere" / "renamed.wav"
    copy.parent.mkdir()
    shutil.copy(song, copy)
    np.testing.assert_array_equal(feat.song_features(copy, "baseline35", 30, cache_dir=cache), first)
    assert len(_entries(cache)) == 1


def test_key_covers_set_fps_range_params_and_content(song, tmp_path):
    c = FeatureCache(tmp_path / "c")
    base = c.key(song, "baseline35", 30, 0.0, None, {"start_bpm": None})
    assert base == c.key(song, "baseline35", 30.0, 0, None, {"start_bpm": None})
    others = {
        c.key(song, "mel", 30, 0.0, None, {}),
        c.key(song, "baseline35", 25, 0.0, None, {"start_bpm": None}),
        c.key(song, "baseline35", 30, 1.0, None, {"start_bpm": None}),
        c.key(song, "baseline35", 30, 0.0, 3.0, {"start_bpm": None}),
        c.key(song, "baseline35", 30, 0.0, None, {"start_bpm": 100.0}),
    }
    assert base not in others and len(others) == 5
    y, sr = sf.read(song, dtype="float32")
    y[100] += 0.01
    sf.write(song, y, sr)  # edited song: new content hash
    assert c.key(song, "baseline35", 30, 0.0, None, {"start_bpm": None}) != base


def test_cache_disabled_and_default_dir(song, tmp_path, monkeypatch):
    monkeypatch.setenv("CHOREO_CACHE", str(tmp_path / "root"))
    assert default_cache_dir() == tmp_path / "root" / "features"
    feat.song_features(song, "mel", 30)
    assert len(_entries(tmp_path / "root" / "features")) == 1
    feat.song_features(song, "mel", 25, cache_dir="")
    assert len(_entries(tmp_path / "root" / "features")) == 1
    monkeypatch.delenv("CHOREO_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "choreo" / "features"


def test_damaged_entry_is_recomputed(song, tmp_path):
    cache = tmp_path / "cache"
    good = feat.song_features(song, "mel", 30, cache_dir=cache)
    (entry,) = cache.iterdir()
    entry.write_bytes(entry.read_bytes()[:100])  # truncated, as after a crash of some other writer
    np.testing.assert_array_equal(feat.song_features(song, "mel", 30, cache_dir=cache), good)


def test_unwritable_cache_warns_but_works(song, tmp_path):
    blocker = tmp_path / "file_not_folder"
    blocker.write_text("x")
    with pytest.warns(RuntimeWarning, match="feature cache not written"):
        F = feat.song_features(song, "mel", 30, cache_dir=blocker / "sub")
    assert F.shape == (120, 128)


def _worker(args):
    song, cache = args
    return feat.song_features(song, "baseline35", 30, cache_dir=cache)


def test_two_processes_writing_at_once(song, tmp_path):
    cache = tmp_path / "cache"
    # fork: the workers inherit the imported, JIT-compiled librosa (spawned ones would spend ~10 s each on it)
    ctx = mp.get_context("fork")
    with ctx.Pool(2) as pool:
        a, b = pool.map(_worker, [(song, cache), (song, cache)])
    np.testing.assert_array_equal(a, b)
    names = _entries(cache)
    assert len(names) == 1 and names[0].endswith(".npy") and not names[0].startswith(".")  # no temp left over
    np.testing.assert_array_equal(np.load(cache / names[0]), a)
