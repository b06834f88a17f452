"""DiffDance with the dance style as a base-stage condition (``style_cond``): training on style labels, the
style at sampling (given, heard in the song, or unknown), and the errors around it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml

from choreo import checkpoint as ck
from choreo.cli import main as cli_main
from choreo.errors import ChoreoError
from choreo.generate import Choreographer
from choreo.models.diffdance.loss import train_styles
from choreo.train.config import resolve_config_path
from choreo.train.trainer import read_log
from conftest import DWM

SEQS = ["DANCE_W_22", "DANCE_W_24"]
STYLES = ["cha-cha", "rumba", "tango", "waltz"]


def _styled_args(root, data_dir, run) -> list[str]:
    """``choreo train`` with the bundled diffdance_tiny config plus style labels and ``style_cond``, on two
    short waltzes (half the windows trained with the style unknown)."""
    path = root / "tiny_style.yaml"
    if not path.exists():
        cfg = yaml.safe_load(resolve_config_path("diffdance_tiny").read_text())
        cfg["data"].update(sequences=SEQS, style_labels=True)
        cfg["model"].update(style_cond=True, style_dropout=0.5)
        path.write_text(yaml.safe_dump(cfg))
    argv = ["train", "--method", "diffdance", "--config", str(path), "--data", str(data_dir / "dance_with_melody")]
    return [*argv, "--out", str(run), "--cache-dir", str(root / "cache"), "--device", "cpu", "--no-progress"]


@pytest.fixture(scope="module")
def styled_run(tmp_path_factory, data_dir):
    """3 steps of the styled tiny config: encoders, adapter, then base + SSR."""
    root = tmp_path_factory.mktemp("styled")
    run = root / "run"
    assert cli_main([*_styled_args(root, data_dir, run), "--steps", "3"]) == 0
    return run


def test_a_styled_run_saves_its_styles_and_a_style_projection(styled_run):
    state = ck.load_checkpoint(styled_run)
    assert list(state["spec"]["styles"]) == STYLES
    assert state["config"]["model"]["style_cond"] is True
    base = state["ema"]["base"]
    assert tuple(base["style_proj.weight"].shape) == (32, len(STYLES) + 1)  # width 32; the last code: unknown
    rows = read_log(styled_run / "log.csv")
    assert rows[-1]["stage"] == 2.0 and np.isfinite(rows[-1]["base_x0"]) and np.isfinite(rows[-1]["loss"])


def test_a_styled_run_resumes_exactly(data_dir, tmp_path):
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert cli_main([*_styled_args(tmp_path, data_dir, straight), "--steps", "5"]) == 0
    assert cli_main([*_styled_args(tmp_path, data_dir, split), "--steps", "5", "--stop-at", "3"]) == 0
    assert cli_main(["train", "--out", str(split), "--resume", "--steps", "5", "--no-progress"]) == 0
    a, b = ck.load_checkpoint(straight), ck.load_checkpoint(split)
    assert a["step"] == b["step"] == 5
    for comp, sd in a["ema"].items():
        for k, v in sd.items():
            torch.testing.assert_close(b["ema"][comp][k], v, rtol=0, atol=0, msg=f"{comp}.{k}")
    la, lb = read_log(straight / "log.csv"), read_log(split / "log.csv")
    np.testing.assert_array_equal([r["loss"] for r in lb], [r["loss"] for r in la])


def test_the_style_reaches_the_dance_and_is_recorded(styled_run, data_dir):
    ch = Choreographer.load(str(styled_run), device="cpu")
    assert ch.method.styles == tuple(STYLES)
    song = str(data_dir / "dance_with_melody" / "DANCE_W_22" / "audio.mp3")
    kw = dict(seconds=3, seed=2, steps=2, progress=False)
    tango = ch.dance(song, style="tango", **kw)
    waltz = ch.dance(song, style="waltz", **kw)
    assert tango.meta["style"] == "tango" and tango.meta["style_from"] == "given"
    assert not np.allclose(tango.positions, waltz.positions, atol=1e-4)  # the code changes the base stage
    again = ch.dance(song, style="tango", **kw)
    np.testing.assert_array_equal(again.positions, tango.positions)

    # no style given: the one the classifier hears in the danced part of the song (a waltz: W_22 is one)
    heard = ch.dance(song, **kw)
    assert heard.meta["style_from"] == "audio" and heard.meta["style"] == "waltz"
    probs = heard.meta["style_probabilities"]
    assert set(probs) == set(STYLES) and sum(probs.values()) == pytest.approx(1.0, abs=1e-3)
    np.testing.assert_array_equal(heard.positions, waltz.positions)

    # features carry no audio: style unknown, a dance of its own
    feats, _ = ch.features(song, seconds=3)
    blind = ch.dance(feats, **kw)
    assert blind.meta["style"] is None and blind.meta["style_from"] == "unknown"
    assert not np.allclose(blind.positions, waltz.positions, atol=1e-4)


def test_style_errors_name_the_problem(styled_run, data_dir, tmp_path, capsys):
    ch = Choreographer.load(str(styled_run), device="cpu")
    song = str(data_dir / "dance_with_melody" / "DANCE_W_22" / "audio.mp3")
    with pytest.raises(ChoreoError, match="unknown style 'salsa'.*cha-cha, rumba, tango, waltz"):
        ch.dance(song, seconds=2, steps=1, style="salsa", progress=False)
    argv = ["dance", song, "-c", str(styled_run), "--seconds", "2", "--steps", "1", "--style", "salsa"]
    assert cli_main([*argv, "-o", str(tmp_path), "--format", "npz", "--no-progress", "--device", "cpu"]) != 0
    assert "unknown style 'salsa'" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.npz"))


def test_style_cond_needs_style_labels(data_dir, tmp_path, capsys):
    cfg = yaml.safe_load(resolve_config_path("diffdance_tiny").read_text())
    cfg["data"]["sequences"] = SEQS[:1]
    cfg["model"]["style_cond"] = True  # but no data.style_labels
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    argv = ["train", "--method", "diffdance", "--config", str(path), "--data", str(data_dir / "dance_with_melody")]
    argv += ["--out", str(tmp_path / "run"), "--cache-dir", str(tmp_path / "cache"), "--device", "cpu", "--steps", "1"]
    assert cli_main([*argv, "--no-progress"]) != 0
    assert "style_cond needs style labels: set data.style_labels: true" in capsys.readouterr().err


def test_training_style_dropout_is_per_sample_and_seeded(styled_run):
    ch = Choreographer.load(str(styled_run), device="cpu")
    m = ch.method
    seeds = torch.arange(4000)
    labels = torch.full((4000,), 3)
    labels[:1000] = -1  # unknown labels stay unknown
    a = train_styles(m, labels, seeds)
    b = train_styles(m, labels, seeds)
    torch.testing.assert_close(a, b)
    unknown = len(STYLES)
    assert bool((a[:1000] == unknown).all())
    kept = a[1000:]
    assert set(kept.tolist()) == {3, unknown}
    assert abs(float((kept == unknown).float().mean()) - 0.5) < 0.04  # style_dropout 0.5, 3000 draws


@pytest.mark.skipif(not DWM.is_dir(), reason="needs ../shared/data")
@pytest.mark.usefixtures("private_cache")
def test_the_packaged_style_model_hears_test_songs_and_dances_the_style():
    from choreo.commands.models import describe
    from choreo.motion.formats import read_motion
    from choreo.packaged import resolve_model

    rows = {r["name"]: r for r in describe()}
    assert rows["diffdance_style"]["styles"] == rows["diffdance"]["styles"] == STYLES
    ch = Choreographer.load(resolve_model("diffdance_style"), device="cpu", threads=1)
    assert ch.method.styles == tuple(STYLES)
    d = ch.method.sampling_defaults()
    assert (d["guidance"], d["steps"], d["ssr_guidance"], d["noise_level"], d["ssr_root"], d["style"]) == (
        2.0, 100, 1.0, 0.0, "base", None
    )  # fmt: skip
    # the test split's songs (never trained on): the style heard is the dance's
    for name, style in (("DANCE_C_4", "cha-cha"), ("DANCE_W_3", "waltz")):
        real = read_motion(DWM / name)
        start = float(real.meta["audio_start"])
        heard, probs = ch.hear_style(real.meta["audio"], seconds=real.duration, start=start)
        assert heard == style and max(probs, key=probs.get) == style

    # one song, one seed, two styles: the tango travels much further than the rumba, as real ones do
    # (Dance with Melody's tango: 1.2 m/s of root travel; its rumbas: 0.35-0.5 m/s)
    def travel(m) -> float:
        root = m.positions[:, m.skeleton.root][:, [0, 2]]
        return float(np.linalg.norm(np.diff(root, axis=0), axis=-1).mean() * m.fps)

    song = str(DWM / "DANCE_W_3" / "audio.mp3")
    tango = ch.dance(song, seconds=20, seed=0, steps=50, style="tango", progress=False)
    rumba = ch.dance(song, seconds=20, seed=0, steps=50, style="rumba", progress=False)
    assert tango.meta["style"] == "tango" and rumba.meta["style"] == "rumba"
    assert travel(tango) > 1.3 * travel(rumba), (travel(tango), travel(rumba))
