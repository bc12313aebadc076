"""The conflict engine: arrays in, typed results out.

No I/O, no globals, no settings reads: everything it needs comes in through
:class:`States` and :class:`~skysep.agreement.Agreement`.

The engine itself (:func:`detect`, :func:`validate_states`) is loaded on first
use (PEP 562): its types import without numba and the compiled kernels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from skysep._lazy import lazy_names
from skysep.engine._types import LEVELS, METHODS, STATE_RANGES, Conflicts, Method, States

if TYPE_CHECKING:
    from skysep.engine._detect import detect, validate_states

#: Public name -> the module that defines it, for the names that load numba.
_WHERE: dict[str, str] = {
    "detect": "skysep.engine._detect",
    "validate_states": "skysep.engine._detect",
}

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

__getattr__, __dir__ = lazy_names(__name__, _WHERE, globals(), __all__)
