"""choreo: 3D dance from music and music from dance.

>>> import choreo
>>> model = choreo.load("edge")            # a packaged model by name, a checkpoint file or a run folder
>>> dance = model.dance("song.mp3")        # a Choreographer (music -> Motion), or a Composer (Motion -> audio)
"""

from __future__ import annotations

import os

__version__ = "0.1.0"


def load(path_or_name: str | os.PathLike, device: str | None = None, threads: int | None = None):
    """The trained model in a checkpoint file, a run folder or a packaged model (``choreo models``).

    Returns a :class:`choreo.generate.Choreographer` (``.dance(music) -> Motion``) when the model makes dances
    from music, a :class:`choreo.compose.Composer` (``.music(motion) -> (samples, rate)``) when it makes music
    from dances.
    """
    from choreo.checkpoint import load_method
    from choreo.packaged import resolve_model

    path = resolve_model(path_or_name)
    method, state = load_method(path, device=device)
    if method.produces == "music":
        from choreo.compose import Composer as kind
    else:
        from choreo.generate import Choreographer as kind
    return kind(method, str(path), threads, state.get("info"))
