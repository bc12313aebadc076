"""Reading and writing SkySep's files: the edge where units and formats live.

The names below are loaded from their modules on first use (PEP 562), so
that importing one reader does not import the others' dependencies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from skysep._lazy import lazy_names

if TYPE_CHECKING:
    from skysep.io.conflicts import CONFLICT_COLUMNS, conflicts_frame, write_conflicts
    from skysep.io.states import read_states, states_from_frame
    from skysep.io.tracks import read_tracks, tracks_from_frame

#: Public name -> the module that defines it.
_WHERE: dict[str, str] = {
    "CONFLICT_COLUMNS": "skysep.io.conflicts",
    "conflicts_frame": "skysep.io.conflicts",
    "write_conflicts": "skysep.io.conflicts",
    "read_states": "skysep.io.states",
    "states_from_frame": "skysep.io.states",
    "read_tracks": "skysep.io.tracks",
    "tracks_from_frame": "skysep.io.tracks",
}

__all__ = [
    "CONFLICT_COLUMNS",
    "conflicts_frame",
    "read_states",
    "read_tracks",
    "states_from_frame",
    "tracks_from_frame",
    "write_conflicts",
]


__getattr__, __dir__ = lazy_names(__name__, _WHERE, globals(), __all__)
