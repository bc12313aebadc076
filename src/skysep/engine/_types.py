"""The engine's typed inputs and results."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Obj = npt.NDArray[np.object_]

#: The engine's candidate searches (same result): a grid of slices, or every pair.
Method = Literal["grid", "brute-force"]
METHODS: Final[tuple[str, ...]] = ("grid", "brute-force")

#: Valid range of each state field, SI (degrees for angles).
STATE_RANGES: Final[tuple[tuple[str, float, float], ...]] = (
    ("lat_deg", -90.0, 90.0),
    ("lon_deg", -180.0, 180.0),
    ("alt_m", -2_000.0, 100_000.0),
    ("gs_mps", 0.0, 2_000.0),
    ("track_deg", 0.0, 360.0),
    ("vs_mps", -500.0, 500.0),
)

#: Alert levels, most urgent first; ``Conflicts.level_code`` indexes this.
LEVELS: Final[tuple[str, ...]] = ("warning", "caution", "advisory")


@dataclass(frozen=True)
class States:
    """A snapshot of aircraft states, one element per aircraft, SI units.

    ``aircraft`` holds unique identifiers; ``party`` holds the party of each
    aircraft, or ``None`` where it has none (or the whole array is ``None``).
    Angles are degrees (true track, clockwise from north); the rest is
    metres and metres per second.
    """

    aircraft: Obj
    lat_deg: F64
    lon_deg: F64
    alt_m: F64
    gs_mps: F64
    track_deg: F64
    vs_mps: F64
    party: Obj | None = None

    def __len__(self) -> int:
        return int(self.lat_deg.shape[0])


@dataclass(frozen=True)
class Conflicts:
    """Every conflicting pair of a snapshot, one element per pair.

    Pairs are oriented so that ``aircraft_a < aircraft_b`` (string order) and
    sorted by ``(aircraft_a, aircraft_b)``. ``index_a``/``index_b`` point into
    the :class:`States` the conflicts were found in. Times are seconds from
    the snapshot; separations are metres (``h``: horizontal, ``v``: vertical).
    ``t_out_s`` may exceed the lookahead and is ``inf`` for a loss of
    separation that never ends. The identifier arrays (``aircraft_a`` ...
    ``party_b``) are built from the snapshot's on first use.
    """

    index_a: I64
    index_b: I64
    #: The snapshot's aircraft and party arrays (``party`` may be None).
    states_aircraft: Obj = field(repr=False)
    states_party: Obj | None = field(repr=False)
    level_code: npt.NDArray[np.int8]
    t_in_s: F64
    t_out_s: F64
    t_cpa_s: F64
    h_cpa_m: F64
    v_cpa_m: F64
    h_now_m: F64
    v_now_m: F64
    horizontal_m: F64
    vertical_m: F64
    #: Pairs the candidate search handed to the exact test (for benchmarks).
    candidates: int = 0

    def __len__(self) -> int:
        return int(self.index_a.shape[0])

    @cached_property
    def aircraft_a(self) -> Obj:
        ids: Obj = self.states_aircraft[self.index_a]
        return ids

    @cached_property
    def aircraft_b(self) -> Obj:
        ids: Obj = self.states_aircraft[self.index_b]
        return ids

    @cached_property
    def party_a(self) -> Obj:
        return self._party(self.index_a)

    @cached_property
    def party_b(self) -> Obj:
        return self._party(self.index_b)

    def _party(self, index: I64) -> Obj:
        if self.states_party is None:
            return np.full(index.shape[0], None, dtype=object)
        parties: Obj = self.states_party[index]
        return parties

    @property
    def level(self) -> Obj:
        """Alert level names (see :data:`LEVELS`)."""
        names: Obj = np.array(LEVELS, dtype=object)[self.level_code]
        return names

    @property
    def pairs(self) -> I64:
        """``(n, 2)`` array of (index_a, index_b)."""
        return np.stack([self.index_a, self.index_b], axis=1)
