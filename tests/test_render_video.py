"""Rendering to real files: MP4 streams and audio, pixels where the projection says, GIF looping, bad input."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from choreo.errors import ChoreoError
from choreo.motion import BODY25, SMPL24, Motion
from choreo.render import render, style
from choreo.render.camera import joint_pixels
from choreo.render.draw import Painter, beat_marker_centre
from choreo.render.synthetic import demo_dance
from choreo.render.writers import ffmpeg_exe, probe, read_mp4_frames

SR = 22050


def _song(path, seconds_silent: float, seconds_tone: float, hz: float = 440.0):
    """A wav: silence, then a sine tone (so a test can tell where in the song the video starts)."""
    n0, n1 = int(seconds_silent * SR), int(seconds_tone * SR)
    y = np.concatenate([np.zeros(n0), 0.5 * np.sin(2 * np.pi * hz * np.arange(n1) / SR)]).astype(np.float32)
    sf.write(path, y, SR)
    return path


def _audio_of(mp4, tmp_path):
    wav = tmp_path / "decoded.wav"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(mp4), "-vn", "-ac", "1", str(wav)], check=True)
    return sf.read(wav)


def _close(c, colour, tol=45.0) -> bool:
    return float(np.linalg.norm(np.asarray(c, float) - np.asarray(colour, float))) < tol


@pytest.fixture(scope="module")
def dance():
    return demo_dance(3.0, 30.0)


@pytest.fixture(scope="module")
def mp4_with_music(tmp_path_factory, dance):
    tmp = tmp_path_factory.mktemp("mp4")
    # 1 s of silence then 1.5 s of tone; the dance starts 1 s in and lasts 3 s: 1.5 s of tone, then the
    # song has ended and the last 1.5 s must be padded with silence.
    song = _song(tmp / "song.wav", 1.0, 1.5)
    out = tmp / "dance.mp4"
    res = render(dance, out, music=song, music_start=1.0, size=(320, 240))
    return out, res, tmp


def test_mp4_has_one_h264_and_one_aac_stream_of_the_dance_length(mp4_with_music):
    out, res, _ = mp4_with_music
    info = probe(out)
    assert info.video == ["h264"] and info.audio == ["aac"]
    assert info.size == (320, 240) and info.fps == 30.0
    assert abs(info.duration - 3.0) < 0.06
    import imageio_ffmpeg

    n, secs = imageio_ffmpeg.count_frames_and_secs(str(out))
    assert n == 90 == res.n_frames
    assert np.isclose(res.music_padded, 1.5)


def test_mp4_audio_is_the_song_from_start_padded_with_silence(mp4_with_music, tmp_path):
    out, _, _ = mp4_with_music
    y, sr = _audio_of(out, tmp_path)
    assert abs(len(y) / sr - 3.0) < 0.06
    rms = lambda a: float(np.sqrt(np.mean(a**2)))  # noqa: E731
    assert rms(y[int(0.05 * sr) : int(1.4 * sr)]) > 0.2  # the tone (the song's first silent second was skipped)
    assert rms(y[int(1.6 * sr) :]) < 0.01  # padding after the song ended


def test_mp4_frames_show_the_skeleton_where_the_projection_says(mp4_with_music, dance):
    out, _, _ = mp4_with_music
    frames, _ = read_mp4_frames(out)
    assert frames.shape == (90, 240, 320, 3)
    sides = style.joint_sides(SMPL24)
    skeleton_colours = [style.LEFT, style.RIGHT, style.CENTRE, style.CONTACT]
    for i in (0, 31, 62, 89):
        px = joint_pixels(dance, i, size=(320, 240))
        at = [frames[i, int(y), int(x)] for x, y in px]
        # every joint is drawn in a skeleton colour, nearly all in its own side's colour
        assert all(any(_close(c, k) for k in skeleton_colours) for c in at)
        own = [_close(c, style.SIDE_COLOURS[sides[j] + 1]) for j, c in enumerate(at)]
        assert np.mean(own) >= 0.85
        # and away from the body there is no skeleton colour (background, floor or grid)
        for x, y in ((8, 8), (312, 8), (8, 120)):
            assert not any(_close(frames[i, y, x], k) for k in skeleton_colours)


def test_mp4_without_music_has_no_audio(tmp_path, dance):
    out = tmp_path / "silent.mp4"
    res = render(dance.crop(0, 15), out, size=(160, 120))
    info = probe(out)
    assert info.video == ["h264"] and info.audio == []
    assert res.n_frames == 15 and abs(info.duration - 0.5) < 0.05


def test_mp4_real_song_cut_at_start(tmp_path, data_dir, dance):
    song = data_dir / "cc_music" / "Kevin_MacLeod_-_Vibe_Ace.hq.ogg"
    out = tmp_path / "ogg.mp4"
    res = render(dance.crop(0, 30), out, music=song, music_start=20.0, size=(160, 120), camera="fixed")
    info = probe(out)
    assert info.audio == ["aac"] and abs(info.duration - 1.0) < 0.06 and res.music_padded == 0.0
    y, _ = _audio_of(out, tmp_path)
    assert np.sqrt(np.mean(y**2)) > 0.01  # music, not silence


def test_gif_loops_with_right_frame_count_and_delay(tmp_path):
    m = demo_dance(2.0, 25.0)
    out = tmp_path / "d.gif"
    res = render(m, out, size=(160, 120))
    with Image.open(out) as im:
        assert im.info["loop"] == 0
        assert im.n_frames == 50 == res.n_frames
        assert im.info["duration"] == 40
    # 30 fps cannot be stored (3.33 cs): 3 cs per frame, 33.3 fps, same playing time
    m30 = demo_dance(2.0, 30.0)
    res = render(m30, tmp_path / "d30.gif", size=(160, 120))
    with Image.open(tmp_path / "d30.gif") as im:
        assert im.n_frames == 67 == res.n_frames and im.info["duration"] == 30
    assert np.isclose(res.fps, 100 / 3)


def _gif_frame(path, i) -> np.ndarray:
    with Image.open(path) as im:
        im.seek(i)
        return np.asarray(im.convert("RGB"))


def test_gif_pixels_match_limb_colours_exactly(tmp_path):
    m = demo_dance(1.0, 25.0)
    out = tmp_path / "p.gif"
    render(m, out, size=(320, 240), camera="fixed")
    sides = style.joint_sides(SMPL24)
    for i in (0, 12, 24):
        frame = _gif_frame(out, i)
        px = joint_pixels(m, i, size=(320, 240), camera="fixed", fmt="gif")
        own = [tuple(frame[int(y), int(x)]) == style.SIDE_COLOURS[sides[j] + 1] for j, (x, y) in enumerate(px)]
        assert np.mean(own) >= 0.85


class _Stepping(Motion):
    """A motion whose foot contacts are given: left foot down for the first half, right foot after."""

    def foot_contacts(self, threshold=None):
        c = np.zeros((self.n_frames, 4), bool)
        half = self.n_frames // 2
        c[:half, :2] = True
        c[half:, 2:] = True
        return c


def test_feet_in_contact_are_highlighted(tmp_path):
    d = demo_dance(2.0, 25.0)
    m = _Stepping(d.skeleton, d.fps, positions=d.positions)
    out = tmp_path / "c.gif"
    render(m, out, size=(320, 240), camera="fixed")
    la, ra = SMPL24.index("left_ankle"), SMPL24.index("right_ankle")
    for i, (left_down, right_down) in ((5, (True, False)), (40, (False, True))):
        frame = _gif_frame(out, i)
        px = joint_pixels(m, i, size=(320, 240), camera="fixed", fmt="gif")
        cl = tuple(frame[int(px[la, 1]), int(px[la, 0])])
        cr = tuple(frame[int(px[ra, 1]), int(px[ra, 0])])
        assert cl == (style.CONTACT if left_down else style.LEFT)
        assert cr == (style.CONTACT if right_down else style.RIGHT)


def test_beat_markers_flash_on_beats_and_time_is_shown(tmp_path):
    m = demo_dance(2.0, 25.0)
    out = tmp_path / "b.gif"
    render(m, out, size=(320, 240), beats=[0.5, 1.5], show_time=True)
    cx, cy = beat_marker_centre((320, 240))
    on = [i for i in range(50) if tuple(_gif_frame(out, i)[cy, cx]) == style.BEAT]
    # lit for 0.15 s from each beat: frames at 0.52-0.64 s and 1.52-1.64 s (0.48 s is before the beat)
    assert on == [13, 14, 15, 16, 38, 39, 40, 41]
    bright = lambda a: np.any(np.all(a[4:24, 4:70] > 170, axis=-1))  # noqa: E731  light text on the dark sky
    assert bright(_gif_frame(out, 10))
    render(m, tmp_path / "nob.gif", size=(320, 240))
    plain = _gif_frame(tmp_path / "nob.gif", 13)
    assert tuple(plain[cy, cx]) != style.BEAT
    assert not bright(plain)


def test_beats_from_the_music_flash_on_the_clicks(tmp_path):
    # a drum hit (decaying noise burst) every 0.5 s (120 bpm) from 0.25 s over faint noise; the dance
    # starts 1 s into the song
    rng = np.random.default_rng(0)
    y = 0.02 * rng.normal(size=9 * SR)
    clicks = 0.25 + 0.5 * np.arange(17)
    n = int(0.12 * SR)
    for c in clicks:
        s = int(c * SR)
        y[s : s + n] += 0.8 * np.exp(-np.arange(n) / (0.03 * SR)) * rng.normal(size=n)
    sf.write(tmp_path / "clicks.wav", y.astype(np.float32), SR)
    m = demo_dance(6.0, 25.0)
    render(m, tmp_path / "beats.gif", music=tmp_path / "clicks.wav", music_start=1.0, size=(160, 120), beats=True)
    cx, cy = beat_marker_centre((160, 120))
    lit = np.array([i for i in range(150) if tuple(_gif_frame(tmp_path / "beats.gif", i)[cy, cx]) == style.BEAT]) / 25
    assert len(lit) >= 20  # most of the 12 clicks under the dance flash (3-4 frames each)
    dance_clicks = clicks - 1.0
    since = np.array([t - dance_clicks[dance_clicks <= t + 0.06].max() for t in lit])
    assert np.all((since > -0.06) & (since < 0.22))


def test_compare_and_2d_render(tmp_path):
    from test_render_camera import _body25_motion

    a, b = demo_dance(1.0, 30.0), demo_dance(1.0, 30.0, radius=0.3)
    out = tmp_path / "cmp.gif"
    res = render(a, out, size=(320, 120), compare=b)
    assert res.size == (320, 120)
    frame = _gif_frame(out, 0)
    assert tuple(frame[60, 160]) == style.DIVIDER  # the line between the two dancers
    m2 = _body25_motion()
    res = render(m2, tmp_path / "flat.mp4", size=(160, 120), camera="fixed")
    frames, _ = read_mp4_frames(tmp_path / "flat.mp4")
    px = joint_pixels(m2, 20, size=(160, 120), camera="fixed")
    nose = BODY25.index("nose")
    assert _close(frames[20, int(px[nose, 1]), int(px[nose, 0])], style.CENTRE)


# --- bad input -------------------------------------------------------------------------------------------


def test_bad_output_type_and_folder(tmp_path, dance):
    with pytest.raises(ChoreoError, match="mp4 or .gif"):
        render(dance, tmp_path / "x.avi")
    (tmp_path / "dir.mp4").mkdir()
    with pytest.raises(ChoreoError, match="folder"):
        render(dance, tmp_path / "dir.mp4")


def test_unwritable_output_path_leaves_nothing(tmp_path, dance):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ChoreoError) as err:
        render(dance.crop(0, 5), blocker / "out.mp4", size=(64, 48))
    assert "out.mp4" in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


@pytest.mark.parametrize("name", ["x.mp4", "x.gif"])
def test_interrupted_render_leaves_no_file(tmp_path, dance, monkeypatch, name):
    real = Painter.frame

    def frame(self, i):
        if i == 7:
            raise KeyboardInterrupt
        return real(self, i)

    monkeypatch.setattr(Painter, "frame", frame)
    with pytest.raises(KeyboardInterrupt):
        render(dance, tmp_path / name, size=(64, 48))
    assert list(tmp_path.iterdir()) == []


def test_music_errors(tmp_path, dance):
    short = _song(tmp_path / "short.wav", 0.0, 1.0)
    with pytest.raises(ChoreoError, match="song is 1.00 s"):
        render(dance, tmp_path / "a.mp4", music=short, music_start=2.0)
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"this is not audio at all" * 10)
    with pytest.raises(ChoreoError) as err:
        render(dance, tmp_path / "b.mp4", music=bad)
    assert "bad.mp3" in str(err.value)
    with pytest.raises(ChoreoError, match="no such file"):
        render(dance, tmp_path / "c.mp4", music=tmp_path / "missing.ogg")
    with pytest.raises(ChoreoError, match="need the music"):
        render(dance, tmp_path / "d.mp4", beats=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.mp3", "short.wav"]


def test_motion_with_nan_or_no_frames_is_refused():
    pos = demo_dance(0.5, 30.0).positions.copy()
    pos[3, 5, 1] = np.nan
    with pytest.raises(ChoreoError, match="NaN"):
        Motion(SMPL24, 30.0, positions=pos)
    with pytest.raises(ChoreoError, match="zero frames"):
        Motion(SMPL24, 30.0, positions=pos[:0])


def test_ffmpeg_stopped_by_ctrl_c_is_an_interrupt(tmp_path, monkeypatch):
    """Ctrl-C signals the process group; when ffmpeg takes it first, write_mp4 still reports an interrupt."""
    import os
    import signal
    import subprocess

    from choreo.render import writers

    started = []
    real_popen = subprocess.Popen

    out = tmp_path / "x.mp4"

    def popen(cmd, *args, **kwargs):
        # this call's encoder only (the patch is process-wide); it starts with SIGINT's default action, as from a
        # terminal: a test run started in the background (`cmd &` in a script) hands its children SIGINT
        # ignored, and an ignored Ctrl-C that arrives before ffmpeg installs its handler would be lost
        ours = "pipe:0" in cmd and os.fspath(out) in cmd
        if ours:
            kwargs["preexec_fn"] = lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)
        proc = real_popen(cmd, *args, **kwargs)
        if ours:
            started.append(proc)
        return proc

    monkeypatch.setattr(writers.subprocess, "Popen", popen)

    def frames():
        frame = bytes(64 * 64 * 3)
        for i in range(2000):
            if i == 5:
                os.kill(started[0].pid, signal.SIGINT)
            yield frame

    with pytest.raises(KeyboardInterrupt):
        writers.write_mp4(frames(), out, (64, 64), 25.0, 80.0)
    assert len(started) == 1
    assert started[0].returncode is not None


def test_ffmpeg_failure_is_not_mistaken_for_an_interrupt():
    import signal

    from choreo.render.writers import _interrupted

    assert _interrupted(-signal.SIGINT, [])
    assert _interrupted(255, ["frame=   10 fps=0.0", "Exiting normally, received signal 2."])
    assert _interrupted(255, [])  # caught, its message under -loglevel error
    assert not _interrupted(1, ["pipe:0: Invalid data found when processing input"])
    assert not _interrupted(254, [])  # what ffmpeg gives for an input it cannot open
    assert not _interrupted(-signal.SIGKILL, [])
