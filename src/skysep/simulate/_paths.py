"""Ground paths in a local plane: straight lines and turns, joined end to end.

Each flight's path lives in the plane of an azimuthal equidistant projection
of the WGS84 ellipsoid centred on a point of its own (an orbit's centre, a
transit's origin, an encounter's point of closest approach), so distances
and bearings from that point are exact and the error elsewhere is of the
order of (d/R)^2/6: 2e-5 at 100 km, 1.6e-4 at 200 km. Coordinates: x east, y
north, metres; headings in radians clockwise from north.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]


def unit(heading_rad: float) -> complex:
    """Unit vector of a heading, as east + i north."""
    return complex(math.sin(heading_rad), math.cos(heading_rad))


def heading_of(vector: complex) -> float:
    """Heading (radians clockwise from north, in [0, 2 pi)) of a vector east + i north."""
    return math.atan2(vector.real, vector.imag) % (2 * math.pi)


@dataclass(frozen=True)
class Segment:
    """A straight line from ``start`` on ``heading_rad``, or (``radius_m`` > 0) an arc
    around ``centre`` from bearing ``bearing_rad`` (centre to start point),
    turning ``turn`` (+1 right, clockwise; -1 left)."""

    length_m: float
    start: complex = 0j
    heading_rad: float = 0.0
    centre: complex = 0j
    radius_m: float = 0.0
    bearing_rad: float = 0.0
    turn: float = 1.0

    @property
    def end(self) -> complex:
        if self.radius_m == 0.0:
            return self.start + self.length_m * unit(self.heading_rad)
        return self.centre + self.radius_m * unit(
            self.bearing_rad + self.turn * self.length_m / self.radius_m
        )


def line(start: complex, heading_rad: float, length_m: float) -> Segment:
    return Segment(length_m=length_m, start=start, heading_rad=heading_rad)


def arc(centre: complex, radius_m: float, bearing_rad: float, sweep_rad: float) -> Segment:
    """An arc around ``centre`` from ``bearing_rad``, sweeping ``sweep_rad`` (> 0 clockwise)."""
    return Segment(
        length_m=radius_m * abs(sweep_rad),
        centre=centre,
        radius_m=radius_m,
        bearing_rad=bearing_rad,
        turn=1.0 if sweep_rad >= 0 else -1.0,
    )


@dataclass(frozen=True)
class PlanePath:
    """Segments joined end to end; a ``loop`` is flown again and again."""

    segments: tuple[Segment, ...]
    loop: bool

    @property
    def length_m(self) -> float:
        return sum(s.length_m for s in self.segments)

    def at(self, distance_m: F64) -> tuple[F64, F64, F64]:
        """x, y (m) and heading (rad) after flying ``distance_m`` along the path
        (wrapped for a loop, clipped to the ends otherwise)."""
        segments = [s for s in self.segments if s.length_m > 0]
        total = sum(s.length_m for s in segments)
        s = np.asarray(distance_m, dtype=np.float64)
        s = np.mod(s, total) if self.loop else np.clip(s, 0.0, total)
        starts = np.cumsum([0.0] + [seg.length_m for seg in segments[:-1]])
        which = np.clip(np.searchsorted(starts, s, side="right") - 1, 0, len(segments) - 1)
        x = np.empty_like(s)
        y = np.empty_like(s)
        heading = np.empty_like(s)
        for k, seg in enumerate(segments):
            here = which == k
            if not here.any():
                continue
            along = s[here] - starts[k]
            if seg.radius_m == 0.0:
                x[here] = seg.start.real + along * math.sin(seg.heading_rad)
                y[here] = seg.start.imag + along * math.cos(seg.heading_rad)
                heading[here] = seg.heading_rad
            else:
                bearing = seg.bearing_rad + seg.turn * along / seg.radius_m
                x[here] = seg.centre.real + seg.radius_m * np.sin(bearing)
                y[here] = seg.centre.imag + seg.radius_m * np.cos(bearing)
                heading[here] = bearing + seg.turn * (math.pi / 2)
        return x, y, np.mod(heading, 2 * math.pi)


def circle(radius_m: float, turn: float) -> PlanePath:
    """An orbit around the origin, starting north of it."""
    return PlanePath((arc(0j, radius_m, 0.0, turn * 2 * math.pi),), loop=True)


def racetrack(
    anchor: complex, heading_rad: float, length_m: float, radius_m: float, turn: float
) -> PlanePath:
    """A leg from ``anchor`` on ``heading_rad``, a half turn (``turn`` +1 right), the leg
    back 2 radii to that side, a half turn back to the anchor."""
    right = unit(heading_rad + math.pi / 2)
    far = anchor + length_m * unit(heading_rad)
    return PlanePath(
        (
            line(anchor, heading_rad, length_m),
            arc(
                far + turn * radius_m * right,
                radius_m,
                heading_rad - turn * math.pi / 2,
                turn * math.pi,
            ),
            line(far + 2 * turn * radius_m * right, heading_rad + math.pi, length_m),
            arc(
                anchor + turn * radius_m * right,
                radius_m,
                heading_rad + turn * math.pi / 2,
                turn * math.pi,
            ),
        ),
        loop=True,
    )


class ShortLegError(ValueError):
    """A leg between two waypoints shorter than the turns at its ends need."""

    def __init__(self, leg: int, length_m: float, needed_m: float) -> None:
        super().__init__(leg, length_m, needed_m)
        self.leg = leg
        self.length_m = length_m
        self.needed_m = needed_m


def polygon(points: list[complex], radius_m: float) -> PlanePath:
    """A closed loop through ``points`` (3 or more), each corner cut by a turn of
    ``radius_m``; starts on the first leg, just past the first waypoint's turn.

    Raises :class:`ShortLegError` where a leg is shorter than its two turns need
    (a hairpin of 179 degrees or more needs an unbounded leg)."""
    n = len(points)
    legs = [points[(i + 1) % n] - points[i] for i in range(n)]
    headings = [heading_of(v) for v in legs]
    # Turn at waypoint i, from leg i-1 onto leg i (> 0 right).
    turns = [(headings[i] - headings[i - 1] + math.pi) % (2 * math.pi) - math.pi for i in range(n)]
    insets = [
        math.inf if abs(t) >= math.radians(179.0) else radius_m * math.tan(abs(t) / 2)
        for t in turns
    ]
    segments: list[Segment] = []
    for i in range(n):
        j = (i + 1) % n
        length = abs(legs[i]) - insets[i] - insets[j]
        if not length >= 0:
            raise ShortLegError(i, abs(legs[i]), insets[i] + insets[j])
        direction = unit(headings[i])
        segments.append(line(points[i] + insets[i] * direction, headings[i], length))
        turn = turns[j]
        if turn != 0.0:
            side = 1.0 if turn > 0 else -1.0
            entry = points[j] - insets[j] * direction
            centre = entry + side * radius_m * unit(headings[i] + math.pi / 2)
            segments.append(arc(centre, radius_m, headings[i] - side * math.pi / 2, turn))
    return PlanePath(tuple(segments), loop=True)
