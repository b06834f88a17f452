"""D2M-GAN end to end on real data: tiny configs train on two short Dance with Melody sequences, resume exactly, match
under torchrun, and ``choreo music`` writes music for Dance with Melody and BVH dances (or fails in one line)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import choreo
from choreo import checkpoint as ck
from choreo.cli import main
from choreo.compose import Composer
from choreo.train.trainer import Trainer, read_log
from conftest import flat_components
from music_helpers import d2m_config, short_dwm, train_codec

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def setup(data_dir, tmp_path_factory):
    """A tiny codec (trained a few steps on a synthesised song) and two 8 s Dance with Melody sequences."""
    from choreo.audio.demo import demo_song, write_wav

    root = tmp_path_factory.mktemp("d2m")
    music = root / "music"
    music.mkdir()
    y, sr = demo_song(12.0, bpm=110, sr=22050)
    write_wav(music / "demo.wav", y, sr)
    train_codec(music, root / "cache", root / "codec", steps=4)
    dwm = short_dwm(data_dir, root / "dwm")
    return {"root": root, "codec": root / "codec", "dwm": dwm, "cache": root / "cache"}


@pytest.fixture(scope="module")
def trained(setup):
    run = setup["root"] / "d2m"
    out = Trainer(d2m_config(setup["dwm"], setup["codec"], setup["cache"], steps=4), run, progress=False).fit()
    return run, out


_flat = flat_components


def test_tiny_d2mgan_trains_and_its_checkpoint_is_self_contained(setup, trained, data_dir):
    run, out = trained
    assert out["step"] == 4 and np.isfinite(out["loss"])
    rows = read_log(run / "log.csv")
    keys = {"loss_discriminator", "loss_generator", "adv", "fm", "latent", "quantized", "mel", "d_real", "d_fake"}
    assert keys <= set(rows[0]) and {"lr_discriminator", "lr_generator"} <= set(rows[0])
    state = ck.load_checkpoint(run)
    assert state["method"] == "d2mgan" and state["produces"] == "music"
    assert set(state["components"]) == {"generator", "discriminator", "codec"} and set(state["ema"]) == {"generator"}
    assert state["config"]["model"]["codec"]["kind"] == "melvq"  # the codec's architecture travels with it
    assert state["spec"]["styles"] == ["cha-cha", "rumba", "tango", "waltz"]
    codec_state = ck.load_checkpoint(setup["codec"])["components"]["codec"]
    for k, v in codec_state.items():  # the frozen codec is the trained one, untouched by D2M-GAN's training
        assert torch.equal(state["components"]["codec"][k], v), k
    opt = state["optimizers"]["generator"]["param_groups"][0]
    assert opt["betas"] == (0.5, 0.9) and opt["lr"] == 1e-4 and opt["weight_decay"] == 0.0

    composer = choreo.load(run, device="cpu", threads=1)
    assert isinstance(composer, Composer) and composer.sample_rate == 22050 and composer.fps == 25.0
    from choreo.motion.formats import read_motion

    dance = read_motion(setup["dwm"] / "DANCE_W_15")
    y, sr = composer.music(dance, seed=1)
    assert y.shape == (8 * 22050,) and np.sqrt(np.mean(y**2)) > 1e-4
    y2, _ = composer.music(dance, seed=1)
    np.testing.assert_array_equal(y, y2)  # same seed, same music


def test_resume_is_exact(setup, trained):
    run, _ = trained
    split = setup["root"] / "split"
    cfg = d2m_config(setup["dwm"], setup["codec"], setup["cache"], steps=4)
    Trainer(cfg, split, stop_at=2, progress=False).fit()
    assert ck.load_checkpoint(split)["step"] == 2
    Trainer(cfg, split, resume=True, progress=False).fit()
    a, b = ck.load_checkpoint(run), ck.load_checkpoint(split)
    for key in ("components", "ema"):
        fa, fb = _flat(a[key]), _flat(b[key])
        for k in fa:
            torch.testing.assert_close(fb[k], fa[k], rtol=0, atol=0)
    la, lb = read_log(run / "log.csv"), read_log(split / "log.csv")
    for k in ("loss", "loss_generator", "loss_discriminator", "mel"):
        assert [r[k] for r in la] == [r[k] for r in lb], k


def _recipe_at_tiny_size(name: str, setup: dict, **train):
    """The built-in recipe ``name`` with d2mgan_tiny's network sizes and window, on the short sequences and the
    tiny codec: every loss option and the init_from chain stay the recipe's."""
    from choreo.train.config import RunConfig, apply_overrides

    tiny = RunConfig.load("d2mgan_tiny").model
    sizes = ["hidden", "motion_blocks", "dilations", "noise_dim", "style_dim", "disc_channels", "disc_layers"]
    cfg = apply_overrides(RunConfig.load(name), [f"model.{k}={tiny[k]}" for k in sizes] + ["data.window_seconds=2.0"])
    cfg.data.path, cfg.data.cache_dir = str(setup["dwm"]), str(setup["cache"])
    cfg.model["codec_checkpoint"] = str(setup["codec"])
    for k, v in {"steps": 2, "batch_size": 4, "log_every": 1, "save_every": 2, **train}.items():
        setattr(cfg.train, k, v)
    return cfg


def test_the_packaged_recipe_chain_trains_at_tiny_size(setup):
    """d2mgan_published, then d2mgan from its weights (train.init_from): the second leg starts from the first's EMA
    generator and its discriminator (checked with lr 0), adds a new mel discriminator and logs the pulse term."""
    first = setup["root"] / "published"
    Trainer(_recipe_at_tiny_size("d2mgan_published", setup), first, progress=False).fit()
    cfg = _recipe_at_tiny_size("d2mgan", setup, lr=0.0)
    assert cfg.train.init_components == ["generator", "discriminator"]
    cfg.train.init_from = str(first)
    second = setup["root"] / "packaged_recipe"
    out = Trainer(cfg, second, progress=False).fit()
    assert out["step"] == 2 and np.isfinite(out["loss"])
    assert {"pulse", "adv_mel", "fm_mel", "d_mel_real"} <= set(read_log(second / "log.csv")[0])
    a, b = ck.load_checkpoint(first), ck.load_checkpoint(second)
    assert set(b["components"]) == {"generator", "discriminator", "mel_discriminator", "codec"}
    for name, source in (("generator", a["ema"]), ("discriminator", a["components"])):
        for k, v in source[name].items():
            torch.testing.assert_close(b["components"][name][k], v, rtol=0, atol=0)


@pytest.mark.slow
def test_two_processes_give_the_single_process_run(setup, trained):
    run, _ = trained
    cfg = d2m_config(setup["dwm"], setup["codec"], setup["cache"], steps=4)
    cfg.save(setup["root"] / "cfg.yaml")
    script = setup["root"] / "worker.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys
            from choreo.train.config import RunConfig
            from choreo.train.trainer import Trainer

            Trainer(RunConfig.load(sys.argv[2]), sys.argv[1], progress=False).fit()
            """
        )
    )
    two = setup["root"] / "two"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    r = subprocess.run(
        [*cmd, str(script), str(two), str(setup["root"] / "cfg.yaml")],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    one_log, two_log = read_log(run / "log.csv"), read_log(two / "log.csv")
    assert len(one_log) == len(two_log) == 4
    for a, b in zip(one_log, two_log, strict=True):
        for k in ("loss_discriminator", "loss_generator", "mel", "latent", "d_real"):
            assert b[k] == pytest.approx(a[k], rel=1e-5), (a["step"], k)
    s1, s2 = ck.load_checkpoint(run), ck.load_checkpoint(two)
    assert s2["world_size"] == 2
    f1, f2 = _flat(s1["components"]), _flat(s2["components"])
    for k in f1:  # Adam normalises each gradient: float-rounding noise in near-zero ones moves weights by << lr
        torch.testing.assert_close(f2[k], f1[k], rtol=1e-4, atol=2e-5)


def test_choreo_music_on_dance_with_melody_and_bvh(setup, trained, data_dir, tmp_path, capsys):
    run, _ = trained
    out = tmp_path / "out"
    dance = setup["dwm"] / "DANCE_C_2"
    assert main(["music", str(dance), "-c", str(run), "-o", str(out), "--format", "wav,mp3,mp4", "--threads", "1",
                 "--no-progress", "--style", "cha-cha"]) == 0  # fmt: skip
    printed = capsys.readouterr().out.split()
    assert [Path(p).name for p in printed] == ["DANCE_C_2.wav", "DANCE_C_2.mp3", "DANCE_C_2.mp4"]
    y, sr = sf.read(out / "DANCE_C_2.wav")
    assert sr == 22050 and len(y) == 8 * 22050 and np.sqrt(np.mean(y**2)) > 1e-4
    from choreo.audio.io import load_audio
    from choreo.render.writers import probe

    mp3, _ = load_audio(out / "DANCE_C_2.mp3", sr=22050)
    assert abs(len(mp3) / 22050 - 8.0) < 0.1
    info = probe(out / "DANCE_C_2.mp4")
    assert info.audio and abs(info.duration - 8.0) < 0.3

    bvh = data_dir / "bandai_namco_dance" / "data" / "dataset-1_dance-short_normal_001.bvh"  # another skeleton
    assert main(["music", str(bvh), "-c", str(run), "-o", str(out), "--seed", "2", "--threads", "1"]) == 0
    y, sr = sf.read(out / f"{bvh.stem}.wav")
    assert len(y) == round(1901 / 30 * 22050) and np.sqrt(np.mean(y**2)) > 1e-4


def _write_npz(path: Path, positions: np.ndarray, names: tuple[str, ...], parents) -> Path:
    """A choreo npz written by hand (choreo's own writer refuses NaN and empty motions)."""
    np.savez(
        path,
        positions=np.asarray(positions, np.float32),
        fps=np.array(25.0),
        joint_names=np.array(names),
        parents=np.asarray(parents, np.int64),
    )
    return path


def test_bad_inputs_fail_in_one_line_and_leave_no_file(setup, trained, tmp_path, capsys):
    from choreo.motion.formats import read_motion

    run, _ = trained
    good = read_motion(setup["dwm"] / "DANCE_W_15")
    names, parents = good.skeleton.joint_names, good.skeleton.parents
    nan = good.positions[:50].copy()
    nan[10, 3] = np.nan
    cases = {
        "nan": _write_npz(tmp_path / "nan.npz", nan, names, parents),
        "empty": _write_npz(tmp_path / "empty.npz", good.positions[:0], names, parents),
        "unknown": _write_npz(tmp_path / "blob.npz", np.zeros((20, 3, 3)), ("a", "b", "c"), [-1, 0, 1]),
    }
    corrupt = tmp_path / "corrupt.ckpt"
    corrupt.write_bytes(b"PK\x03\x04 not a checkpoint")
    out = tmp_path / "out"
    for name, path in cases.items():
        capsys.readouterr()
        assert main(["music", str(path), "-c", str(run), "-o", str(out), "--threads", "1"]) == 2, name
        err = capsys.readouterr().err.strip()
        assert err.startswith("choreo music: error:") and len(err.splitlines()) == 1, (name, err)
    assert main(["music", str(setup["dwm"] / "DANCE_W_15"), "-c", str(corrupt), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "not a readable checkpoint" in err and len(err.splitlines()) == 1
    assert not out.exists() or not any(out.iterdir())
