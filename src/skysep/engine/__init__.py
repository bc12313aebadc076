"""The conflict engine: arrays in, typed results out.

No I/O, no globals, no settings reads: everything it needs comes in through
:class:`States` and :class:`~skysep.agreement.Agreement`.

The names below are loaded from their modules on first use (PEP 562): the
types alone do not load numba and the compiled kernels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from skysep._lazy import lazy_names

if TYPE_CHECKING:
    from skysep.engine._detect import detect, validate_states
    from skysep.engine._types import LEVELS, METHODS, STATE_RANGES, Conflicts, Method, States

#: Public name -> the module that defines it.
_WHERE: dict[str, str] = {
    "LEVELS": "skysep.engine._types",
    "METHODS": "skysep.engine._types",
    "Conflicts": "skysep.engine._types",
    "Method": "skysep.engine._types",
    "States": "skysep.engine._types",
    "STATE_RANGES": "skysep.engine._types",
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
