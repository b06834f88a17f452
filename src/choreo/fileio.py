"""Atomic file output: write to a temporary name beside the target, then rename.

A crash, a Ctrl-C or an error half-way through never leaves a half-written file under the real name.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from choreo.errors import ChoreoError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success rename it over ``path``.

    Args:
        path: the final file name.
        suffix: suffix for the temporary file (defaults to the target's, so tools that look at the
            extension, like ffmpeg, still work).

    Raises:
        ChoreoError: if the target folder cannot be written.
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{target.stem}.tmp-", suffix=target.suffix if suffix is None else suffix, dir=folder
        )
        os.close(fd)
    except OSError as exc:
        raise ChoreoError(f"cannot write here ({exc.strerror or exc})", target) from None
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp makes 0600 files; give the result the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kwargs) -> Iterator:
    """Open a temporary file for writing; rename it to ``path`` when the block ends without error."""
    with atomic_path(path) as tmp, open(tmp, mode, **kwargs) as fh:
        yield fh
