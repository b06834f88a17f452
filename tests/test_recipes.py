"""Every packaged model has a recipe that rebuilds it: a built-in config named after it that holds every setting
of the shipped file, and that still trains (a few steps at tiny size, the recipe's own options untouched)."""

from __future__ import annotations

import dataclasses
import math

import pytest

from choreo.checkpoint import load_checkpoint, load_method
from choreo.data.config import DataConfig
from choreo.models.method import config_from_dict
from choreo.packaged import packaged_models
from choreo.train.config import RunConfig, TrainConfig, apply_overrides, builtin_configs
from conftest import DATA, DWM

#: settings that say where or how fast a run went, not what it learns
DATA_PLACE = {"path", "cache_dir", "sequences", "max_sequences"}
TRAIN_PLACE = {"threads", "device", "log_every", "save_every", "keep_last"}

#: per method, the sizes that make a recipe tiny (networks, windows, the contrastive stages' lengths): never an option
TINY: dict[str, list[str]] = {
    "edge": [
        "model.width=32",
        "model.layers=1",
        "model.heads=2",
        "model.ff_size=64",
        "model.window_frames=50",
        "data.window_seconds=2.0",
    ],
    "diffdance": [
        "model.width=32",
        "model.layers=1",
        "model.heads=2",
        "model.ff_size=64",
        "model.ssr_width=32",
        "model.ssr_layers=1",
        "model.ssr_heads=2",
        "model.ssr_ff_size=64",
        "model.ssr_window=40",
        "model.embed_dim=16",
        "model.encoder_width=16",
        "model.encoder_layers=2",
        "model.adapter_hidden=32",
        "model.clip_seconds=2.0",
        "model.encoder_steps=1",
        "model.adapter_steps=1",
        "data.window_seconds=3.84",
        "data.stride_seconds=0.96",
    ],
    "dancerevolution": [
        "model.d_model=32",
        "model.layers=1",
        "model.heads=2",
        "model.d_head=16",
        "model.ff_size=64",
        "model.band=8",
        "model.pose_embed=16",
        "model.hidden=32",
        "model.lstm_layers=1",
        "data.window_seconds=2.0",
    ],
    "codec": [
        "model.channels=16",
        "model.res_blocks=1",
        "model.latent_dim=8",
        "model.n_codebooks=2",
        "model.codebook_size=16",
        "data.window_seconds=1.0",
    ],
    "d2mgan": [
        "model.hidden=16",
        "model.motion_blocks=1",
        "model.dilations=[1, 3]",
        "model.noise_dim=4",
        "model.style_dim=8",
        "model.disc_channels=8",
        "model.disc_layers=2",
        "data.window_seconds=2.0",
    ],
}


def _recipes() -> dict[str, dict]:
    return {m.name: m.recipe for m in packaged_models()}


def test_every_packaged_model_names_a_builtin_recipe_called_after_it():
    recipes = _recipes()
    assert {"edge", "diffdance", "diffdance_style", "dancerevolution", "d2mgan", "codec"} <= set(recipes)
    for name, recipe in recipes.items():
        assert recipe.get("config") == name, name
        assert name in builtin_configs()


def test_every_builtin_config_is_a_recipe_or_a_test_fixture():
    recipes = {r["config"] for r in _recipes().values()}
    legs = {leg for r in _recipes().values() for leg in r.get("legs", [])}
    for name in builtin_configs():
        assert name in recipes | legs or (name.endswith("_tiny") and name[: -len("_tiny")] in recipes), name


def _without(d: dict, keys: set[str]) -> dict:
    return {k: v for k, v in d.items() if k not in keys}


@pytest.mark.parametrize("model", packaged_models(), ids=lambda m: m.name)
def test_the_recipe_holds_every_setting_of_the_packaged_file(model):
    state = load_checkpoint(model.path)
    recipe = RunConfig.load(model.recipe["config"])
    stored = state["config"]
    assert recipe.method == state["method"] == stored["method"]
    data_file = dataclasses.asdict(DataConfig(**stored["data"]))
    assert _without(dataclasses.asdict(recipe.data), DATA_PLACE) == _without(data_file, DATA_PLACE)
    train_file = dataclasses.asdict(TrainConfig(**stored["train"]))
    legs = [RunConfig.load(leg) for leg in model.recipe.get("legs", [])]
    # a run trained in legs was one run forked by hand: its file keeps the first leg's schedule length and no
    # init_from; the steps of all legs together are where it was taken
    place = TRAIN_PLACE | ({"steps", "init_from", "init_components"} if legs else set())
    assert _without(dataclasses.asdict(recipe.train), place) == _without(train_file, place)
    # the model section compared as the method reads it: a key the recipe leaves out must hold the default
    method, _ = load_method(model.path, device="cpu")
    cls = type(method.config)
    provenance = {"codec", "codec_checkpoint"}  # D2M-GAN: the file embeds the codec the recipe names
    file_model = config_from_dict(cls, _without(stored["model"], provenance), "model")
    recipe_model = config_from_dict(cls, _without(recipe.model, provenance), "model")
    assert dataclasses.asdict(recipe_model) == dataclasses.asdict(file_model)
    taken = model.recipe.get("stop_at", recipe.train.steps)
    assert state["step"] == sum(leg.train.steps for leg in legs) + taken


def _data_for(method: str) -> str:
    return str(DATA / "cc_music") if method == "codec" else str(DWM)


@pytest.mark.parametrize("model", packaged_models(), ids=lambda m: m.name)
def test_every_recipe_trains_at_tiny_size(model, tmp_path_factory):
    """Every leg of the recipe (the runs scripts/rebuild_packaged_model.py makes), each a few steps at tiny size."""
    from choreo.train.recipes import recipe_runs
    from choreo.train.trainer import Trainer

    out = tmp_path_factory.mktemp(model.name)
    for cfg, run in recipe_runs(model, "", out):
        options = dict(cfg.model)
        cfg = apply_overrides(cfg, TINY[cfg.method])
        steps = 3 if cfg.method == "diffdance" else 2  # DiffDance: one encoder, one adapter and one diffusion step
        cfg = apply_overrides(
            cfg,
            [
                f"train.steps={steps}",
                "train.batch_size=4",
                "train.threads=1",
                "train.device=cpu",
                "train.warmup_steps=0",
                "data.max_sequences=2",
                f"data.path={_data_for(cfg.method)}",
                f"data.cache_dir={tmp_path_factory.getbasetemp() / 'recipe_cache'}",
            ],
        )
        changed = {k for k in options if cfg.model.get(k) != options[k]}
        assert changed <= {t.split("=")[0].split(".", 1)[1] for t in TINY[cfg.method]}  # sizes only
        result = Trainer(cfg, run, progress=False).fit()
        assert result["step"] == steps
        assert math.isfinite(result["loss"])
        assert (run / "last.ckpt").is_file()
