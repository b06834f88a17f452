"""Music metrics for dance-to-music by hand: LORIS BCS/BHS/F1, onset F1, tempo agreement with octave errors, BAS
of a dance against music, codec reconstruction errors, the style classifier and its Frechet distance, and
``choreo eval-music``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from choreo.cli import main
from choreo.errors import ChoreoError
from choreo.metrics.music import (
    beat_coverage_hit,
    dance_music_bas,
    log_spectral_distance,
    loris_beat_scores,
    mel_l1,
    music_tempo,
    onset_f1,
    tempo_agreement,
)

SR = 22050


def _clicks(times, seconds, sr=SR):
    y = np.zeros(int(seconds * sr), np.float32)
    burst = np.random.default_rng(0).normal(size=400) * np.exp(-np.arange(400) / 80)
    for t in times:
        i = int(t * sr)
        y[i : i + 400] += burst
    return y


def test_loris_scores_and_onset_f1_by_hand():
    real = _clicks([0.5, 1.5, 3.2], 5.0)  # bins 0, 1, 3
    gen = _clicks([0.5, 2.5, 4.5, 3.7], 5.0)  # bins 0, 2, 4, 3: 4 generated bins, 2 shared (0 and 3)
    bcs, bhs, f1 = loris_beat_scores(gen, real, SR)
    assert (bcs, bhs) == (pytest.approx(2 / 4), pytest.approx(2 / 3))
    assert f1 == pytest.approx(2 * (1 / 2) * (2 / 3) / (1 / 2 + 2 / 3))
    of = onset_f1(gen, real, SR)
    assert (of["precision"], of["recall"], of["f1"]) == (pytest.approx(0.5), pytest.approx(2 / 3), pytest.approx(f1))
    assert beat_coverage_hit(gen, real, SR) == (pytest.approx(4 / 3), pytest.approx(2 / 3))
    # an onset in every second: D2M-GAN's hit is perfect, the F1 scores are not
    every = _clicks([0.2, 1.2, 2.2, 3.2, 4.2], 5.0)
    assert beat_coverage_hit(every, real, SR)[1] == 1.0
    assert onset_f1(every, real, SR)["f1"] == pytest.approx(2 * (3 / 5) / (3 / 5 + 1))
    assert loris_beat_scores(np.zeros_like(real), real, SR) == (0.0, 0.0, 0.0)
    # LORIS cuts the real bins to the generated length; a longer generated clip is an error
    assert loris_beat_scores(gen[: 3 * SR], real, SR)[:2] == (pytest.approx(1 / 2), pytest.approx(1 / 2))
    with pytest.raises(ChoreoError, match="longer"):
        loris_beat_scores(gen, real[: 3 * SR], SR)
    with pytest.raises(ChoreoError, match="same length"):
        onset_f1(gen[: 3 * SR], real, SR)


def test_tempo_agreement_within_8_percent_with_octave_errors():
    assert tempo_agreement(120, 120) and tempo_agreement(126, 120) and tempo_agreement(110.5, 120)
    assert not tempo_agreement(130, 120)  # 8.3 % off
    assert tempo_agreement(240, 120) and tempo_agreement(61, 120) and tempo_agreement(250, 120)  # octaves
    assert not tempo_agreement(180, 120)  # 3/2 is not an octave
    assert tempo_agreement(180, 120, factors=(1.0, 1.5)) and not tempo_agreement(240, 120, factors=(1.0,))
    assert not tempo_agreement(0.0, 120) and not tempo_agreement(120, 0.0)
    assert tempo_agreement(129, 120, tolerance=0.1)


def test_tempo_of_the_demo_song():
    from choreo.audio.demo import demo_song

    y, sr = demo_song(12.0, bpm=100, sr=SR)
    assert tempo_agreement(music_tempo(y, sr), 100.0)
    assert not tempo_agreement(music_tempo(y, sr), 131.0)


def test_bas_of_a_dance_against_music():
    fps, seconds = 30.0, 12.0
    t = np.arange(int(fps * seconds)) / fps
    beats = np.arange(0.5, seconds - 0.5, 0.75)
    # a body that stops (speed minimum) on every beat: position follows the phase between beats
    phase = np.interp(t, np.concatenate([[0.0], beats, [seconds]]), np.arange(len(beats) + 2))
    x = np.sin(np.pi * phase) ** 2 * 0.0 + (phase - np.sin(2 * np.pi * phase) / (2 * np.pi)) * 0.3
    pos = np.zeros((len(t), 3, 3))
    pos[:, :, 0] = x[:, None]
    on = _clicks(beats, seconds)
    off = _clicks(beats + 0.37, seconds)
    assert dance_music_bas(pos, fps, on, SR) > 0.6
    assert dance_music_bas(pos, fps, on, SR) > dance_music_bas(pos, fps, off, SR) + 0.2


def test_reconstruction_errors_by_hand():
    y, sr = np.random.default_rng(2).normal(0, 0.1, 3 * SR).astype(np.float32), SR  # every bin above the floors
    assert log_spectral_distance(y, y) == 0.0 and mel_l1(y, y, sr) == 0.0
    assert log_spectral_distance(y, 0.5 * y) == pytest.approx(20 * np.log10(2), abs=0.05)  # every bin 6.02 dB
    assert mel_l1(y, 0.5 * y, sr) == pytest.approx(np.log10(2), abs=0.01)


@pytest.fixture(scope="module")
def waltz(data_dir):
    from choreo.audio.io import load_audio

    # a held-out song (DANCE_W_3): the classifier never trained on it
    y, sr = load_audio(data_dir / "dance_with_melody" / "DANCE_W_3" / "audio.mp3", sr=SR, start=30.0, end=50.0)
    return y


def test_style_classifier_and_embedding_distance(waltz, data_dir):
    from choreo.audio.io import load_audio
    from choreo.metrics.music_style import EMBEDDING_DIM, StyleClassifier, clip_embeddings, music_fd

    clf = StyleClassifier.load()
    assert clf.classes == ("cha-cha", "rumba", "tango", "waltz")
    assert clf.info["heldout_song_accuracy"] == 1.0 and clf.info["loso_song_accuracy"] > 0.85
    style, p = clf.classify(waltz, SR)
    assert style == "waltz" and p.shape == (4,) and p.sum() == pytest.approx(1.0)
    rumba, _ = load_audio(data_dir / "dance_with_melody" / "DANCE_R_5" / "audio.mp3", sr=SR, start=30.0, end=50.0)
    assert clf.classify(rumba, SR)[0] == "rumba"
    ea, eb = clip_embeddings(waltz, SR, 5.0, 2.5), clip_embeddings(rumba, SR, 5.0, 2.5)
    assert ea.shape == (7, EMBEDDING_DIM)
    assert music_fd(ea, ea, clf) == pytest.approx(0.0, abs=1e-6)
    assert music_fd(ea, eb, clf) > music_fd(ea[:4], ea[3:], clf)


def test_eval_music_command(waltz, tmp_path, capsys):
    from choreo.audio.demo import demo_song, write_wav

    pred, real = tmp_path / "pred", tmp_path / "real"
    pred.mkdir()
    real.mkdir()
    write_wav(real / "DANCE_W_3.wav", waltz, SR)
    write_wav(pred / "DANCE_W_3.wav", waltz, SR)  # the real music itself: every score at its best
    y, sr = demo_song(20.0, bpm=128, sr=SR)
    write_wav(real / "clip.wav", y, sr)
    write_wav(pred / "clip.wav", np.roll(y, sr // 3), sr)  # the same song a third of a second late
    write_wav(pred / "orphan.wav", y, sr)
    out = tmp_path / "m.json"
    assert main(["eval-music", "--pred", str(pred), "--real", str(real), "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "LORIS F1" in text and "not VGGish FAD" in text and "no real music for orphan" in text
    res = json.loads(out.read_text())
    w = res["pieces"]["DANCE_W_3"]
    assert w["coverage"] == w["hit"] == w["onset_f1"] == w["loris_f1"] == 1.0 and w["tempo_agree"] == 1.0
    assert w["style"] == "waltz" and w["style_pred"] == "waltz" and w["style_correct"] == 1.0
    assert "style" not in res["pieces"]["clip"]  # no style in its name
    assert res["summary"]["pieces"] == 2 and res["summary"]["style_accuracy"] == 1.0
    assert res["summary"]["fd_embedding"] > 0
    assert main(["eval-music", "--pred", str(pred), "--real", str(tmp_path / "none")]) == 2
