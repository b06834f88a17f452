"""One module per ``choreo`` subcommand, discovered by :mod:`choreo.cli`.

Each module defines ``NAME`` and ``add_parser(subparsers)``; the latter adds a parser named ``NAME``
and calls ``parser.set_defaults(func=run)`` where ``run(args) -> int`` does the work by calling the
library. Raise :class:`choreo.errors.ChoreoError` for anything the user can fix.
"""
