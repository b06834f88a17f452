"""The ``choreo`` command: parses arguments and calls the library. No math here.

Each subcommand lives in its own module under ``choreo/commands/`` with ``NAME`` (the subcommand) and
``add_parser(subparsers)``, which registers its arguments and sets ``func``. Modules are discovered, so a
new command is one new file. Command modules import heavy libraries (torch, librosa) inside their
functions, so ``choreo --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from choreo import __version__
from choreo.errors import ChoreoError

#: the order commands are listed in ``choreo --help``; discovered commands not named here come last.
ORDER = ("dance", "models", "train", "eval", "render", "convert", "info", "features", "beats")


def _command_modules() -> list:
    import choreo.commands as pkg

    mods = [importlib.import_module(f"choreo.commands.{m.name}") for m in pkgutil.iter_modules(pkg.__path__)]
    mods = [m for m in mods if hasattr(m, "NAME")]
    rank = {name: i for i, name in enumerate(ORDER)}
    return sorted(mods, key=lambda m: (rank.get(m.NAME, len(rank)), m.NAME))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="choreo", description="3D dance from music, and the field's metrics.")
    parser.add_argument("--version", action="version", version=f"choreo {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in _command_modules():
        mod.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except ChoreoError as exc:
        print(f"choreo {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`choreo info X | head`): stop quietly, as a pipeline's writer should; stdout is
        # pointed at /dev/null so that Python's own flush at exit does not raise again
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a writer killed by a closed pipe


if __name__ == "__main__":
    sys.exit(main())
