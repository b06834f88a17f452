"""choreo: 3D dance from music and music from dance."""

__version__ = "0.1.0"
