"""`choreo render --compare --time --beats`: the dancers' names, the clock and the beat disc never overlap,
however long the names, and names that differ only at their ends stay distinct."""

from __future__ import annotations

import numpy as np
import pytest

from choreo.render.draw import _font, overlay_layout


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.mark.parametrize("size", [(640, 480), (320, 240), (1280, 720)])
@pytest.mark.parametrize(
    "names",
    [
        ("edge", "diffdance"),
        ("a_very_long_dance_name_from_the_first_model_seed1", "a_very_long_dance_name_from_the_first_model_seed2"),
        ("x" * 200, "short"),
    ],
)
def test_labels_clock_and_disc_never_overlap(size, names):
    W, H = size
    font = _font(max(10, H // 22))
    panels = [(0, W // 2), (W // 2, W - W // 2)]
    labels, clock, disc = overlay_layout(size, panels, list(names), font, show_time=True, beats=True)
    boxes = [box for box, text in labels if text]
    assert len(boxes) == 2  # every dancer keeps a name
    for (box, _), (x0, w) in zip(labels, panels, strict=True):
        assert x0 <= box[0] and box[2] <= x0 + w  # inside its own panel
        assert not _overlap(box, clock) and not _overlap(box, disc)
    assert not _overlap(boxes[0], boxes[1])
    if names[0].endswith("seed1"):
        (_, a), (_, b) = labels
        assert a != b and a.endswith("seed1") and b.endswith("seed2")  # shortened in the middle


def test_short_names_stay_whole_and_centred():
    font = _font(21)
    labels, _, _ = overlay_layout((640, 480), [(0, 320), (320, 320)], ["edge", "waltz"], font, False, False)
    for (box, text), centre in zip(labels, (160, 480), strict=True):
        assert text in ("edge", "waltz")
        assert (box[0] + box[2]) / 2 == pytest.approx(centre)


def test_a_compare_frame_draws_both_names(tmp_path):
    from choreo.render.draw import Painter
    from choreo.render.scene import build_scene
    from choreo.render.synthetic import demo_dance

    a, b = demo_dance(seconds=1.0, fps=10.0), demo_dance(seconds=1.0, fps=10.0, bpm=90.0)
    a.meta["name"], b.meta["name"] = "first_" * 10 + "one", "first_" * 10 + "two"
    painter = Painter(build_scene(a, compare=b, size=(320, 240)), beats=np.array([0.0, 0.5]), show_time=True)
    texts = [t for _, t in painter.labels]
    assert texts[0].endswith("one") and texts[1].endswith("two") and "\u2026" in texts[0]
    assert np.asarray(painter.frame(3)).shape == (240, 320, 3)
