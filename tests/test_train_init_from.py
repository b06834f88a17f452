"""``train.init_from``: a run that starts from another run's weights (fine-tuning), with its normaliser, all or
some of its components, and clear errors when they do not fit."""

from __future__ import annotations

import pytest
import torch
import yaml

from choreo import checkpoint as ck
from choreo.cli import main as cli_main
from choreo.train.config import resolve_config_path

SEQS = ["DANCE_W_22", "DANCE_W_24"]


def _train(root, data_dir, run, *, sequences=SEQS, model=None, train=None) -> int:
    cfg = yaml.safe_load(resolve_config_path("diffdance_tiny").read_text())
    cfg["data"]["sequences"] = sequences
    cfg["model"].update(model or {})
    cfg["train"].update(train or {})
    path = root / f"{run.name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    argv = ["train", "--config", str(path), "--data", str(data_dir / "dance_with_melody"), "--out", str(run)]
    return cli_main([*argv, "--cache-dir", str(root / "cache"), "--device", "cpu", "--no-progress"])


@pytest.fixture(scope="module")
def source(tmp_path_factory, data_dir):
    """3 steps of the tiny config: encoders, adapter, one diffusion step."""
    root = tmp_path_factory.mktemp("init_from")
    assert _train(root, data_dir, root / "source", train={"steps": 3}) == 0
    return root


# with learning rate 0, a run of the diffusion stage only cannot move its weights
DIFFUSION_ONLY = {"encoder_steps": 0, "adapter_steps": 0}


def _assert_same(a: dict, b: dict, msg: str) -> None:
    assert a.keys() == b.keys()
    for k, v in a.items():
        torch.testing.assert_close(b[k], v, rtol=0, atol=0, msg=f"{msg}.{k}")


def test_a_run_starts_from_the_ema_weights_and_the_normaliser_of_another(source, data_dir):
    src = ck.load_checkpoint(source / "source")
    run = source / "all"
    # trained on one sequence only: its own normaliser would differ, the source's is taken
    train = {"steps": 1, "lr": 0.0, "init_from": str(source / "source")}
    assert _train(source, data_dir, run, sequences=SEQS[:1], train=train, model=DIFFUSION_ONLY) == 0
    got = ck.load_checkpoint(run)
    assert got["spec"]["normalizer"] == src["spec"]["normalizer"]
    own = source / "own"  # the same run without init_from fits a normaliser of its own
    assert _train(source, data_dir, own, sequences=SEQS[:1], train={"steps": 1}, model=DIFFUSION_ONLY) == 0
    assert ck.load_checkpoint(own)["spec"]["normalizer"] != src["spec"]["normalizer"]
    for name in ("base", "ssr"):  # the averaged weights, where the source has them
        _assert_same(src["ema"][name], got["components"][name], name)
        _assert_same(src["ema"][name], got["ema"][name], f"ema {name}")
    for name in ("music_encoder", "motion_encoder", "adapter"):
        _assert_same(src["components"][name], got["components"][name], name)


def test_init_components_takes_only_the_named_ones(source, data_dir):
    src = ck.load_checkpoint(source / "source")
    run = source / "some"
    train = {"steps": 1, "lr": 0.0, "init_from": str(source / "source"), "init_components": ["base", "ssr"]}
    assert _train(source, data_dir, run, train=train, model=DIFFUSION_ONLY) == 0
    got = ck.load_checkpoint(run)
    _assert_same(src["ema"]["base"], got["components"]["base"], "base")
    # the music encoder starts from the seed, not from the source (which trained it one step)
    mine, theirs = got["components"]["music_encoder"], src["components"]["music_encoder"]
    assert any(not torch.equal(mine[k], theirs[k]) for k in mine if k.endswith("weight"))


def test_init_from_errors_name_the_problem(source, data_dir, capsys):
    src = str(source / "source")
    assert _train(source, data_dir, source / "e1", train={"steps": 1, "init_from": str(source / "nowhere")}) != 0
    assert "checkpoint not found" in capsys.readouterr().err
    bad = {"steps": 1, "init_from": src, "init_components": ["base", "decoder"]}
    assert _train(source, data_dir, source / "e2", train=bad) != 0
    assert "train.init_from has no component(s) decoder" in capsys.readouterr().err
    assert _train(source, data_dir, source / "e3", model={"width": 64}, train={"steps": 1, "init_from": src}) != 0
    err = capsys.readouterr().err
    assert "train.init_from does not fit this model" in err and "base" in err
    assert not (source / "e3" / "last.ckpt").exists()
