"""SkySep: airspace deconfliction for parties that share an airspace but not a command.

The public Python API is listed in ``__all__``; see ``docs/api.md``.
"""

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
