"""The one place where SkySep converts units.

Inside SkySep every quantity is SI float64 (metres, seconds, metres per
second); angles stay in degrees only in names that say so (``lat_deg``,
``track_deg``). Aviation units (NM, ft, kt, ft/min) appear only at the edges,
in names that carry them, and are converted here and nowhere else.
"""

from __future__ import annotations

from typing import Final, TypeVar

import numpy as np
import numpy.typing as npt

M_PER_NM: Final = 1852.0  # international nautical mile, exact
M_PER_FT: Final = 0.3048  # international foot, exact
S_PER_MIN: Final = 60.0
S_PER_H: Final = 3600.0
MPS_PER_KT: Final = M_PER_NM / S_PER_H
MPS_PER_FPM: Final = M_PER_FT / S_PER_MIN

FloatOrArray = TypeVar("FloatOrArray", float, npt.NDArray[np.float64])


def nm_to_m(value: FloatOrArray) -> FloatOrArray:
    """Nautical miles to metres."""
    return value * M_PER_NM


def m_to_nm(value: FloatOrArray) -> FloatOrArray:
    """Metres to nautical miles."""
    return value / M_PER_NM


def ft_to_m(value: FloatOrArray) -> FloatOrArray:
    """Feet to metres."""
    return value * M_PER_FT


def m_to_ft(value: FloatOrArray) -> FloatOrArray:
    """Metres to feet."""
    return value / M_PER_FT


def kt_to_mps(value: FloatOrArray) -> FloatOrArray:
    """Knots to metres per second."""
    return value * MPS_PER_KT


def mps_to_kt(value: FloatOrArray) -> FloatOrArray:
    """Metres per second to knots."""
    return value / MPS_PER_KT


def fpm_to_mps(value: FloatOrArray) -> FloatOrArray:
    """Feet per minute to metres per second."""
    return value * MPS_PER_FPM


def mps_to_fpm(value: FloatOrArray) -> FloatOrArray:
    """Metres per second to feet per minute."""
    return value / MPS_PER_FPM


#: Unit suffixes SkySep accepts in external names, with the factor to SI.
SUFFIX_TO_SI: Final[dict[str, float]] = {
    "m": 1.0,
    "nm": M_PER_NM,
    "ft": M_PER_FT,
    "s": 1.0,
    "mps": 1.0,
    "kt": MPS_PER_KT,
    "fpm": MPS_PER_FPM,
}
