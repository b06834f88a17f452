"""The docs match the code: every command the README shows parses with today's CLI, and the help texts name
every built-in config and feature set."""

from __future__ import annotations

import re
import shlex

import pytest

from choreo.cli import build_parser
from conftest import REPO


def _readme_commands() -> list[str]:
    """The `choreo ...` lines of the README's bash blocks, comments dropped (``torchrun ... -m choreo`` too)."""
    text = (REPO / "README.md").read_text()
    out = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            m = re.search(r"(?:^|-m )choreo (.*)$", line)
            if m and not line.startswith(("bash ", ".venv/bin/python")):
                out.append(m.group(1))
    return out


def _one_form(args: str) -> list[str]:
    """A README line's arguments with optional parts kept and the first of each ``a|b`` alternative taken."""
    tokens = shlex.split(args.replace("[", " ").replace("]", " "))
    return [t.split("|")[0] if "|" in t and not t.startswith("-") else t for t in tokens]


def test_the_readme_shows_every_command():
    commands = {c.split()[0] for c in _readme_commands()}
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert set(sub.choices) <= commands
    assert len(_readme_commands()) >= 15


@pytest.mark.parametrize("args", _readme_commands())
def test_every_readme_command_parses(args):
    parser = build_parser()
    ns = parser.parse_args(_one_form(args))  # an unknown flag or choice exits with argparse's error
    assert callable(ns.func)


def test_help_names_every_builtin_config_and_feature_set(capsys):
    from choreo.audio.features import FEATURE_SETS
    from choreo.train.config import builtin_configs

    for command, names in (("train", builtin_configs()), ("features", list(FEATURE_SETS))):
        with pytest.raises(SystemExit) as e:
            build_parser().parse_args([command, "--help"])
        assert e.value.code == 0
        text = " ".join(capsys.readouterr().out.split())
        missing = [n for n in names if n not in text]
        assert not missing, f"choreo {command} --help does not name {missing}"
