"""Audio: load any song (:func:`load_audio`), music features at the motion's frame rate, beats, a demo song.

Submodules: :mod:`~choreo.audio.io` (decoding, resampling), :mod:`~choreo.audio.features` (named feature
sets, ``song_features`` with its cache), :mod:`~choreo.audio.beats`, :mod:`~choreo.audio.demo`. Only the light
loader is imported here; librosa loads with the feature and beat modules.
"""

from choreo.audio.io import load_audio

__all__ = ["load_audio"]
