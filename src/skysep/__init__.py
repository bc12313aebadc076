"""SkySep: airspace deconfliction for parties that share an airspace but not a command.

The public Python API is listed in ``__all__``; see ``docs/api.md``. The
names are loaded from their modules on first use (PEP 562): ``import skysep``
is cheap, and a command such as ``skysep replay`` imports only what it runs
(pandas, for one, takes 0.7 s to import and the replay does not need it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from skysep._lazy import lazy_names

if TYPE_CHECKING:
    from skysep._api import detect
    from skysep.agreement import Agreement, PairMinima, Party, load_agreement, preset
    from skysep.engine import LEVELS, Conflicts, States
    from skysep.errors import (
        AgreementError,
        EngineError,
        SkySepError,
        StatesError,
        TableError,
        TracksError,
    )
    from skysep.io import read_states, read_tracks, write_conflicts
    from skysep.replay import ReplayOptions, ReplayResult, Tracks

__version__ = "0.1.0"

#: Public name -> the module that defines it.
_WHERE: dict[str, str] = {
    "detect": "skysep._api",
    "Agreement": "skysep.agreement",
    "PairMinima": "skysep.agreement",
    "Party": "skysep.agreement",
    "load_agreement": "skysep.agreement",
    "preset": "skysep.agreement",
    "LEVELS": "skysep.engine",
    "Conflicts": "skysep.engine",
    "States": "skysep.engine",
    "AgreementError": "skysep.errors",
    "EngineError": "skysep.errors",
    "SkySepError": "skysep.errors",
    "StatesError": "skysep.errors",
    "TableError": "skysep.errors",
    "TracksError": "skysep.errors",
    "read_states": "skysep.io",
    "read_tracks": "skysep.io",
    "write_conflicts": "skysep.io",
    "ReplayOptions": "skysep.replay",
    "ReplayResult": "skysep.replay",
    "Tracks": "skysep.replay",
}

__all__ = [
    "LEVELS",
    "Agreement",
    "AgreementError",
    "Conflicts",
    "EngineError",
    "PairMinima",
    "Party",
    "ReplayOptions",
    "ReplayResult",
    "SkySepError",
    "States",
    "StatesError",
    "TableError",
    "Tracks",
    "TracksError",
    "__version__",
    "detect",
    "load_agreement",
    "preset",
    "read_states",
    "read_tracks",
    "write_conflicts",
]


__getattr__, __dir__ = lazy_names(__name__, _WHERE, globals(), __all__)
