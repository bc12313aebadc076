"""Replay recorded traffic: every loss of separation, and the warning it would have had.

Arrays in (:class:`Tracks`), typed results out (:class:`ReplayResult`); the
files are read by :mod:`skysep.io.tracks` and written by
:mod:`skysep.replay.outputs`. See ``docs/replay.md``.
"""

from skysep.replay._replay import (
    METHODS,
    AlertEpisodes,
    Incidents,
    ReplayError,
    ReplayOptions,
    ReplayResult,
    replay,
)
from skysep.replay._types import TrackRead, Tracks

__all__ = [
    "METHODS",
    "AlertEpisodes",
    "Incidents",
    "ReplayError",
    "ReplayOptions",
    "ReplayResult",
    "TrackRead",
    "Tracks",
    "replay",
]
