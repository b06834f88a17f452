"""Music -> dance retrieval scores (choreo.metrics.retrieval): hand-computed reports, time-aligned similarity."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from choreo.metrics.retrieval import frame_similarity, genre_of, retrieval_report, similarity_report


def test_retrieval_report_by_hand():
    # 4 clips, genres w w c c; music 0 -> dance 0 (right), music 1 -> dance 0 (wrong, same genre),
    # music 2 -> dance 3 (wrong, same genre), music 3 -> dance 1 (wrong, other genre), dance 3 second
    dance = np.eye(4)
    music = np.array([[1.0, 0.1, 0.0, 0.0], [0.9, 0.5, 0.0, 0.0], [0.0, 0.0, 0.5, 0.9], [0.0, 0.9, 0.0, 0.8]])
    r = retrieval_report(music, dance, ["waltz", "waltz", "cha-cha", "cha-cha"])
    assert r["n"] == 4 and r["top1"] == 0.25 and r["top5"] == 1.0
    assert r["chance_top1"] == 0.25 and r["chance_top5"] == 1.0
    assert r["genre_top1"] == 0.75 and r["genre_chance"] == 0.5
    # among the same genre only: 0 right, 1 wrong, 2 wrong, 3 right (dance 1 is a waltz)
    assert r["within_genre_top1"] == 0.5 and r["within_genre_chance"] == 0.5
    assert r["genres"] == {"cha-cha": 2, "waltz": 2}
    assert genre_of("DANCE_C_4") == "cha-cha" and genre_of("DANCE_W_17") == "waltz" and genre_of("x") == "x"
    # ranks of the own dance 0, 1, 1, 1 of 3: mean 0.25
    assert r["rank_pct"] == pytest.approx(0.25) and "song_top1" not in r
    with pytest.raises(ValueError):
        retrieval_report(music, dance[:3], ["a"] * 4)
    # songs: clips 0, 1 from song a, 2, 3 from song b; first-ranked dances 0, 0, 3, 1 -> a, a, b, a
    s = retrieval_report(music, dance, ["waltz", "waltz", "cha-cha", "cha-cha"], ["a", "a", "b", "b"])
    assert s["song_top1"] == 0.75 and s["song_chance"] == 0.5
    assert s["within_song_top1"] == 0.5 and s["within_song_chance"] == 0.5
    # the same numbers from the similarity matrix itself
    sim = F.normalize(torch.as_tensor(music), dim=-1).numpy() @ dance.T
    assert similarity_report(sim, ["waltz", "waltz", "cha-cha", "cha-cha"], ["a", "a", "b", "b"]) == s


def test_frame_similarity_sees_timing_that_the_clip_embedding_does_not():
    t = torch.arange(40, dtype=torch.float32)
    beat = torch.stack([torch.cos(2 * math.pi * t / 8), torch.sin(2 * math.pi * t / 8)], dim=-1)  # (40, 2)
    music = torch.cat([beat, torch.ones(40, 1)], dim=-1)[None]
    on_beat, late = music.clone(), torch.roll(music, 4, dims=1)  # half a period late
    dances = torch.cat([on_beat, late])
    clip = F.normalize(music.mean(1), dim=-1) @ F.normalize(dances.mean(1), dim=-1).T
    assert float(clip[0, 0]) == pytest.approx(float(clip[0, 1]), abs=1e-5)  # mean pooling: no difference
    frames = frame_similarity(music, dances)
    assert frames.shape == (1, 2) and float(frames[0, 0]) == pytest.approx(1.0)
    assert float(frames[0, 1]) < 0.6
