"""DiffDance's settings: one check for config files and sampling arguments; removed experiments load or refuse."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from choreo.checkpoint import load_checkpoint, load_method
from choreo.errors import ChoreoError
from choreo.models.diffdance import REMOVED_AT, REMOVED_OPTIONS, DiffDanceConfig
from choreo.models.diffdance.config import SAMPLING_OPTIONS
from choreo.packaged import resolve_model
from choreo.train.config import RunConfig
from diffdance_standin import untrained
from edge_standin import music_for

#: one bad value per sampling option, and the words both checks answer it with
BAD = [
    ({"sampler": "plms"}, "unknown sampler 'plms'"),
    ({"precision": "fp8"}, "unknown precision 'fp8'"),
    ({"steps": 0}, "denoising steps must be at least 1"),
    ({"ssr_steps": 0}, "denoising steps must be at least 1"),
    ({"noise_level": 1.5}, "noise_level is a fraction"),
    ({"ssr_root": "both"}, "unknown ssr_root 'both'"),
    ({"guidance_from": "music"}, "guidance_from must be one of nothing, style"),
    ({"guidance": "loud"}, "not a number"),
    ({"guidance_from": "style"}, "needs a model trained with styles and music_dropout"),
]


@pytest.mark.parametrize(
    ("option", "words"), BAD, ids=[next(iter(o)) + "=" + str(next(iter(o.values()))) for o, _ in BAD]
)
def test_a_bad_sampling_option_gets_the_same_error_in_a_config_and_as_an_argument(option, words):
    with pytest.raises(ChoreoError, match=words):
        DiffDanceConfig.from_dict(option)
    m = untrained()
    with pytest.raises(ChoreoError, match=words):
        m.generate(music_for(20), **{**{"steps": 1}, **option})


def test_every_sampling_option_is_a_config_field():
    names = {f.name for f in dataclasses.fields(DiffDanceConfig)}
    assert set(SAMPLING_OPTIONS) <= names
    assert untrained().sampling_options == SAMPLING_OPTIONS


def test_a_removed_experiment_at_its_no_op_value_loads_and_any_other_value_is_refused():
    neutral = DiffDanceConfig.from_dict(dict(REMOVED_OPTIONS, guidance=3.0))
    assert neutral == DiffDanceConfig.from_dict({"guidance": 3.0})
    assert DiffDanceConfig.from_dict({"frame_nce": 0, "guide_root_height": 1}) == DiffDanceConfig()  # 0 == 0.0
    for key, value in [("music_noise", 0.3), ("frame_nce", 0.5), ("conditioning", "cross"), ("guidance_rescale", 0.7)]:
        with pytest.raises(ChoreoError, match=f"{key}: {value!r} was an experiment, removed after commit {REMOVED_AT}"):
            DiffDanceConfig.from_dict({key: value})
    with pytest.raises(ChoreoError, match="unknown DiffDance model settings: music_noize"):
        DiffDanceConfig.from_dict({"music_noize": 0.0})  # a typo is still a typo


def test_an_old_checkpoint_with_the_removed_keys_loads_and_samples_as_before(tmp_path):
    path = resolve_model("diffdance")
    state = load_checkpoint(path)
    assert not set(REMOVED_OPTIONS) & set(state["config"]["model"])  # the packaged files were re-exported
    method, _ = load_method(path, device="cpu")
    music = np.random.default_rng(0).normal(size=(40, method.feature_dim)).astype(np.float32)
    want = method.generate(music, steps=2, seed=1)
    old = dict(state, config=dict(state["config"], model=dict(state["config"]["model"], **REMOVED_OPTIONS)))
    torch.save(old, tmp_path / "old.pt")
    again, _ = load_method(tmp_path / "old.pt", device="cpu")
    np.testing.assert_array_equal(again.generate(music, steps=2, seed=1), want)
    bad = dict(old, config=dict(old["config"], model=dict(old["config"]["model"], music_standardize=True)))
    torch.save(bad, tmp_path / "bad.pt")
    with pytest.raises(ChoreoError, match="music_standardize: True was an experiment"):
        load_method(tmp_path / "bad.pt", device="cpu")


@pytest.mark.parametrize("name", ["diffdance", "diffdance_style", "diffdance_tiny"])
def test_the_bundled_configs_hold_no_removed_option(name):
    cfg = RunConfig.load(name)
    assert not set(REMOVED_OPTIONS) & set(cfg.model)
    DiffDanceConfig.from_dict(cfg.model)
