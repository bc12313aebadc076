"""Reading and writing SkySep's files: the edge where units and formats live."""

from skysep.io.conflicts import CONFLICT_COLUMNS, conflicts_frame, write_conflicts
from skysep.io.states import read_states, states_from_frame
from skysep.io.tracks import read_tracks, tracks_from_frame

__all__ = [
    "CONFLICT_COLUMNS",
    "conflicts_frame",
    "read_states",
    "read_tracks",
    "states_from_frame",
    "tracks_from_frame",
    "write_conflicts",
]
