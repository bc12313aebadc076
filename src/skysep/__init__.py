"""SkySep: airspace deconfliction for parties that share an airspace but not a command.

The public Python API is listed in ``__all__``; see ``docs/api.md``.
"""

from skysep.agreement import Agreement, PairMinima, Party, load_agreement, preset
from skysep.engine import LEVELS, Conflicts, States
from skysep.errors import AgreementError, EngineError, SkySepError, StatesError

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
    "load_agreement",
    "preset",
]
