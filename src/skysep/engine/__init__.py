"""The conflict engine: arrays in, typed results out.

No I/O, no globals, no settings reads: everything it needs comes in through
:class:`States` and :class:`~skysep.agreement.Agreement`.
"""

from skysep.engine._detect import METHODS, STATE_RANGES, Method, detect, validate_states
from skysep.engine._types import LEVELS, Conflicts, States

__all__ = [
    "LEVELS",
    "METHODS",
    "STATE_RANGES",
    "Conflicts",
    "Method",
    "States",
    "detect",
    "validate_states",
]
