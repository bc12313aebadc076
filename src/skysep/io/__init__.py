"""Reading and writing SkySep's files: the edge where units and formats live.

The names below are loaded from their modules on first use (PEP 562), so
that importing one reader does not import the others' dependencies.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any

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


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*__all__, *(k for k, v in globals().items() if isinstance(v, ModuleType))})
