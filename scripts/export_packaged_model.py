"""Export a finished run as a packaged model file: slim (no optimiser state), fp16 weights, its sampling defaults.

A packaged model is rebuilt from its recipe with ``scripts/rebuild_packaged_model.py NAME`` (the recipe's config holds
its sampling defaults, and that script exports with the text of ``assets/models.json``). This one exports any run by
hand, so that sampling settings chosen on validation dances (``choreo eval --split validation --settings ...``)
travel inside the file and ``choreo dance --checkpoint FILE`` (or ``--model NAME`` once it is packaged) uses them::

    .venv/bin/python scripts/export_packaged_model.py RUN FILE \\
        --set guidance=3 --set ssr_guidance=1.0 --set noise_level=0 --set ssr_root=base \\
        --description "..." --data "..." --licence "..."

``--set NAME=VALUE`` takes any of the method's sampling options (``choreo dance --help``); values are read as
YAML (``3`` is a number, ``base`` a string, ``null`` None). The file's ``train.device`` becomes ``auto`` so a
model trained on a GPU loads on a CPU-only machine.
"""

from __future__ import annotations

import argparse
import sys

from choreo.errors import ChoreoError
from choreo.train.config import parse_assignments
from choreo.train.export import export_packaged


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="run folder or checkpoint")
    p.add_argument("out", help="the packaged file to write")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="a sampling default")
    p.add_argument("--description", required=True)
    p.add_argument("--data", required=True, help="what it was trained on")
    p.add_argument("--licence", required=True)
    args = p.parse_args(argv)
    try:
        info = {"description": args.description, "data": args.data, "licence": args.licence}
        path = export_packaged(args.run, args.out, parse_assignments(args.set), info)
    except ChoreoError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
