"""choreo studio: a local web app to make, watch, edit and export dances (and music for dances).

``choreo studio`` serves it on http://127.0.0.1:8000. Layout: :mod:`.server` (assembles the app),
:mod:`.page` (the page and its static files), :mod:`.api` (the JSON API), :mod:`.downloads` (file routes),
:mod:`.guard` (hosts, the page's token, security headers), :mod:`.session` (the run's state and the actions
the page asks for), :mod:`.jobs` (the queue and its worker), :mod:`.progress` (progress bars to jobs),
:mod:`.store` (files by opaque id), :mod:`.uploads` (checking uploads), :mod:`.skeletons` (which models can
use an uploaded motion), :mod:`.takes` (dances ready to watch), :mod:`.catalog` (models), :mod:`.serve`
(running it), ``static/`` (the page and the vendored three.js viewer).
"""

from __future__ import annotations

__all__ = ["create_app", "Studio"]


def __getattr__(name: str):
    # Starlette is imported only when the studio is used, so `import choreo.studio.store` stays light
    if name == "create_app":
        from choreo.studio.server import create_app

        return create_app
    if name == "Studio":
        from choreo.studio.session import Studio

        return Studio
    raise AttributeError(name)
