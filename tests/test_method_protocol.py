"""The method protocol answers what the CLI, the trainer and the studio ask, read from the class before anything is
built: no caller checks a method's name."""

from __future__ import annotations

import pytest

from choreo.errors import ChoreoError
from choreo.models import METHODS, method_class, trains_on
from choreo.models.method import Method


@pytest.mark.parametrize("name", sorted(METHODS))
def test_every_registered_method_names_its_class(name):
    cls = method_class(name)
    assert issubclass(cls, Method) and cls.name == name
    assert cls.produces in ("dance", "music", "codec")
    assert trains_on(name) == cls.trains_on in ("pairs", "audio")


def test_what_each_method_answers():
    assert [method_class(n).produces for n in ("edge", "diffdance", "dancerevolution", "d2mgan", "codec")] == [
        "dance", "dance", "dance", "music", "codec"
    ]  # fmt: skip
    assert trains_on("codec") == "audio" and trains_on("d2mgan") == "pairs"
    dd = method_class("diffdance")
    assert dd.takes_style({"style_cond": True}) and not dd.takes_style({"style_cond": False})
    assert method_class("d2mgan").takes_style({}) and not method_class("edge").takes_style({"style_cond": True})
    assert dd.sampling_stages({"steps": 20, "ssr_steps": None}) == {"base": 20, "ssr": 20}
    assert dd.sampling_stages({"steps": 20, "ssr_steps": 5}) == {"base": 20, "ssr": 5}
    assert method_class("edge").sampling_stages({"steps": 8}) == {"model": 8}
    assert method_class("dancerevolution").sampling_stages({"hidden": 512}) == {}
    # D2M-GAN builds on a trained codec: a new run names it, a checkpoint embeds it
    d2m = method_class("d2mgan")
    assert d2m.trained_parts({"codec_checkpoint": "codec"}) == {"codec": "codec"}
    assert d2m.trained_parts({"codec_checkpoint": "codec", "codec": {"kind": "melvq"}}) == {}
    assert method_class("edge").trained_parts({}) == {}


def test_an_unknown_method_is_an_error_not_a_default():
    with pytest.raises(ChoreoError, match="unknown method"):
        trains_on("no_such_method")
