"""Rendering dances to video: a 3D skeleton in perspective (or flat 2D keypoints) to MP4 with music, or GIF.

``render(motion, "out.mp4", music="song.ogg")`` is the one call; :mod:`choreo.render.camera` gives the
pixel positions at which joints are drawn (:func:`choreo.render.camera.joint_pixels`).
"""

from choreo.render.api import RenderResult, render

__all__ = ["render", "RenderResult"]
