"""Operations and their volumes, and the state machine of an operation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final, Literal

from skysep.operations import _geometry as geo
from skysep.operations._errors import TransitionError

State = Literal["planned", "active", "ended", "cancelled"]

#: Every state, in lifecycle order.
STATES: Final[tuple[State, ...]] = ("planned", "active", "ended", "cancelled")

#: The states each state may change to. ``ended`` and ``cancelled`` are final.
TRANSITIONS: Final[Mapping[State, tuple[State, ...]]] = {
    "planned": ("active", "cancelled"),
    "active": ("ended", "cancelled"),
    "ended": (),
    "cancelled": (),
}

#: States whose volumes take part in strategic conflicts.
FILED_STATES: Final[tuple[State, ...]] = ("planned", "active")

Kind = Literal["polygon", "circle"]


@dataclass(frozen=True, eq=False)
class Volume:
    """One 4D volume: an area, an altitude band (AMSL) and a time window (UTC).

    ``parts`` are the area's polygons in the canonical lon/lat frame
    (longitudes in [-180, 180], split at the antimeridian); a circle's
    polygon contains the circle (see :func:`skysep.operations.circle`).
    """

    id: str
    #: Position of the feature in the file's ``features`` array.
    index: int
    kind: Kind
    parts: tuple[Any, ...]
    lower_m: float
    upper_m: float
    #: Start and end of the window, timezone-aware, in UTC.
    start: datetime
    end: datetime
    center_lon_deg: float | None = None
    center_lat_deg: float | None = None
    radius_m: float | None = None

    @property
    def start_s(self) -> float:
        """Start of the window, POSIX seconds."""
        return self.start.timestamp()

    @property
    def end_s(self) -> float:
        """End of the window, POSIX seconds."""
        return self.end.timestamp()

    @property
    def geometry(self) -> Any:
        """The area as one shapely (multi)polygon in the canonical frame."""
        return geo.union(self.parts)

    def geojson(self) -> dict[str, Any]:
        """The area as a GeoJSON geometry (a MultiPolygon if split at the antimeridian)."""
        return geo.geojson(self.geometry)


@dataclass(frozen=True, eq=False)
class Operation:
    """An operation: one party's volumes, with the aircraft it covers and its state.

    Build one with :func:`~skysep.operations.parse_operation` or
    :func:`~skysep.operations.read_operation`; constructing it directly skips
    validation.
    """

    id: str
    volumes: tuple[Volume, ...]
    party: str | None = None
    name: str = ""
    #: Aircraft identifiers the operation covers (its conformance applies to them).
    aircraft: tuple[str, ...] = ()
    state: State = "planned"

    def with_state(self, state: str) -> Operation:
        """A copy in ``state``, if the state machine allows the change.

        Raises :class:`TransitionError` listing the states allowed next.
        """
        return replace(self, state=check_transition(self.id, self.state, state))

    def with_party(self, party: str) -> Operation:
        """A copy filed by ``party``."""
        return replace(self, party=party)


def check_transition(operation_id: str, current: State, wanted: str) -> State:
    """``wanted`` if an operation in ``current`` may change to it, else TransitionError."""
    valid = TRANSITIONS[current]
    for state in valid:
        if state == wanted:
            return state
    where = f"operation {operation_id!r}"
    if wanted not in STATES:
        raise TransitionError(
            where,
            f"{wanted!r} is not a valid state, must be one of {', '.join(STATES)}",
            valid,
        )
    options = ", ".join(repr(s) for s in valid) if valid else f"none, {current!r} is final"
    raise TransitionError(
        where,
        f"is {current!r} and cannot become {wanted!r}; valid next states: {options}",
        valid,
    )
