"""Replay recorded traffic: every loss of separation, and the warning it would have had.

Arrays in (:class:`Tracks`), typed results out (:class:`ReplayResult`); the
files are read by :mod:`skysep.io.tracks` and written by
:mod:`skysep.replay.outputs`. See ``docs/replay.md``.

The replay itself (:func:`replay`) is loaded on first use (PEP 562): its
types and options import without numba and the compiled kernels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from skysep._lazy import lazy_names
from skysep.replay._types import (
    METHODS,
    AlertEpisodes,
    Incidents,
    ReplayError,
    ReplayOptions,
    ReplayResult,
    TrackRead,
    Tracks,
)

if TYPE_CHECKING:
    from skysep.replay._replay import replay

#: Public name -> the module that defines it, for the names that load numba.
_WHERE: dict[str, str] = {"replay": "skysep.replay._replay"}

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

__getattr__, __dir__ = lazy_names(__name__, _WHERE, globals(), __all__)
