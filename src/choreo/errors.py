"""One error type for every problem a user can fix: bad files, bad arguments, bad checkpoints.

The CLI turns a :class:`ChoreoError` into a single line on stderr and exit status 2; anything else is a
bug in choreo and keeps its traceback.
"""

from __future__ import annotations

import os


class ChoreoError(Exception):
    """A problem with the user's input, reported as ``<path>: <problem>``.

    Args:
        message: what is wrong, in words a user can act on.
        path: the file or folder concerned, if any.
    """

    def __init__(self, message: str, path: str | os.PathLike | None = None):
        self.message = message
        self.path = None if path is None else os.fspath(path)
        super().__init__(f"{self.path}: {message}" if self.path else message)
