"""SkySep: airspace deconfliction for parties that share an airspace but not a command.

The public Python API is listed in ``__all__``; see ``docs/api.md``.
"""

from skysep._api import detect
from skysep.agreement import Agreement, PairMinima, Party, load_agreement, preset
from skysep.engine import LEVELS, Conflicts, States
from skysep.errors import AgreementError, EngineError, SkySepError, StatesError
from skysep.io import read_states, write_conflicts

__version__ = "0.1.0"

__all__ = [
    "LEVELS",
    "Agreement",
    "AgreementError",
    "Conflicts",
    "EngineError",
    "PairMinima",
    "Party",
    "SkySepError",
    "States",
    "StatesError",
    "__version__",
    "detect",
    "load_agreement",
    "preset",
    "read_states",
    "write_conflicts",
]
