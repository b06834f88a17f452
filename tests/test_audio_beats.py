"""Beat tracking: the Ballroom fixture's annotations, the demo song's known grid, silence, the CLI."""

from __future__ import annotations

import librosa
import mir_eval
import numpy as np
import pytest
import soundfile as sf

from choreo.audio import load_audio
from choreo.audio.beats import beat_times, beats_and_tempo, onset_times, read_beats, tempo
from choreo.audio.demo import demo_song
from choreo.cli import main


@pytest.fixture(scope="module")
def ballroom(data_dir):
    folder = data_dir / "beat_fixtures" / "ballroom"
    y, sr = load_audio(folder / "Media-105901.wav")
    return y, sr, read_beats(folder / "Media-105901.beats"), float((folder / "Media-105901.bpm").read_text())


def test_ballroom_waltz_f_measure(ballroom):
    y, sr, ref, bpm = ballroom
    assert len(ref) == 40
    est, found_bpm = beats_and_tempo(y, sr)
    f = mir_eval.beat.f_measure(ref, est, f_measure_threshold=0.07)
    # mir_eval's usual protocol also ignores the first 5 s
    f_trim = mir_eval.beat.f_measure(mir_eval.beat.trim_beats(ref), mir_eval.beat.trim_beats(est), 0.07)
    assert f >= 0.90 and f_trim >= 0.90, (f, f_trim)
    assert found_bpm == pytest.approx(bpm, rel=0.04)


@pytest.mark.parametrize("bpm", [96.0, 120.0, 135.0])
def test_demo_song_beats_on_its_grid(bpm):
    y, sr = demo_song(seconds=16.0, bpm=bpm)
    est, found = beats_and_tempo(y, sr)
    grid = np.arange(0.0, 16.0, 60.0 / bpm)
    assert mir_eval.beat.f_measure(grid, est, 0.07) >= 0.9
    assert found == pytest.approx(bpm, rel=0.04)


def test_tempo_prior_is_settable(ballroom):
    y, sr, ref, _ = ballroom
    fast = beat_times(y, sr, start_bpm=170.0, tightness=400.0)
    assert len(fast) > 1.5 * len(beat_times(y, sr))  # a prior near double time locks onto the eighths
    assert tempo(y, sr) > 0


def test_silence_and_short_clips():
    silence = np.zeros(22050 * 3, dtype=np.float32)
    times, bpm = beats_and_tempo(silence, 22050)
    assert times.shape == (0,) and bpm == 0.0
    assert onset_times(silence, 22050).shape == (0,)
    y, sr = demo_song(seconds=0.2)
    assert beat_times(y, sr).ndim == 1  # no crash; too short to say much


def test_onsets_of_the_demo_fall_on_eighth_notes():
    y, sr = demo_song(seconds=8.0, bpm=120.0)
    on = onset_times(y, sr)
    grid = np.arange(0.0, 8.0, 0.25)
    assert len(on) >= 16
    assert np.median(np.abs(on[:, None] - grid[None, :]).min(axis=1)) < 0.035


def test_cli_beats_writes_annotation_format(tmp_path, ballroom, capsys):
    y, sr, ref, _ = ballroom
    wav = tmp_path / "waltz.wav"
    sf.write(wav, y, sr)
    out = tmp_path / "waltz.beats"
    assert main(["beats", str(wav), "-o", str(out)]) == 0
    assert "BPM" in capsys.readouterr().out
    written = read_beats(out)
    assert len(written) >= 30 and np.all(np.diff(written) > 0)
    assert mir_eval.beat.f_measure(ref, written, 0.07) >= 0.90
    assert main(["beats", str(wav), "--start", "10", "-o", str(out)]) == 0  # times stay song times
    assert read_beats(out)[0] >= 10.0


def test_cli_beats_bad_input(tmp_path, capsys):
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(8000, dtype=np.float32), 8000)
    assert main(["beats", str(silent), "-o", str(tmp_path / "s.beats")]) == 0
    assert "no beats" in capsys.readouterr().out and read_beats(tmp_path / "s.beats").shape == (0,)
    empty = tmp_path / "empty.ogg"
    empty.write_bytes(b"")
    assert main(["beats", str(empty), "-o", str(tmp_path / "e.beats")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(empty) in err[0] and "empty" in err[0]
    assert not (tmp_path / "e.beats").exists()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numpy_beat_tracker_equals_librosa_on_real_songs(data_dir, dtype):
    """choreo.audio.beat_track (used by baseline35, to avoid importing librosa.beat) gives librosa's beats."""
    from choreo.audio.beat_track import track_beats

    songs = [
        data_dir / "cc_music" / "Kevin_MacLeod_-_Vibe_Ace.hq.ogg",
        data_dir / "cc_music" / "admiralbob77_-_Choice_-_Drum-bass.hq.ogg",
        data_dir / "dance_with_melody" / "DANCE_W_3" / "audio.mp3",
    ]
    for song in songs:
        y, sr = load_audio(song, sr=12800, end=40.0)
        env = librosa.onset.onset_strength(y=y.astype(dtype), sr=sr, hop_length=512).astype(dtype)
        bpm = librosa.feature.tempo(onset_envelope=env, sr=sr, hop_length=512)[0]
        for tightness in (100, 400):
            _, want = librosa.beat.beat_track(onset_envelope=env, sr=sr, hop_length=512, bpm=bpm, tightness=tightness)
            got = track_beats(env, sr, 512, bpm, tightness=tightness)
            assert len(want) > 10 and np.array_equal(got, want), song.name
    assert track_beats(np.zeros(100, dtype), sr, 512, 120.0).size == 0
