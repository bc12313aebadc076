"""Replay recorded traffic: every loss of separation, and the warning it would have had.

Arrays in (:class:`Tracks`), typed results out (:class:`ReplayResult`); the
files are read by :mod:`skysep.io.tracks` and written by
:mod:`skysep.replay.outputs`. See ``docs/replay.md``.

The names below are loaded from their modules on first use (PEP 562): the
types and options alone do not load numba and the compiled kernels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from skysep._lazy import lazy_names

if TYPE_CHECKING:
    from skysep.replay._replay import replay
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

#: Public name -> the module that defines it.
_WHERE: dict[str, str] = {
    "METHODS": "skysep.replay._types",
    "ReplayError": "skysep.replay._types",
    "ReplayOptions": "skysep.replay._types",
    "TrackRead": "skysep.replay._types",
    "Tracks": "skysep.replay._types",
    "AlertEpisodes": "skysep.replay._types",
    "Incidents": "skysep.replay._types",
    "ReplayResult": "skysep.replay._types",
    "replay": "skysep.replay._replay",
}

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
