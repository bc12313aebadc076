"""The live picture: latest states, detection cycles, alert events, incidents, need-to-know.

Pure logic, no I/O and no clock reads: the runner hands in reports and the
cycle time, and stores and delivers what comes out. Two objects:

* :class:`LivePicture` keeps the latest report of every aircraft (a party's
  aircraft are keyed ``(party, aircraft)``, so two parties may use the same
  callsign without touching each other's tracks) and makes a snapshot at
  the cycle time: stale aircraft dropped, the others moved along their
  ground track on the WGS84 ellipsoid to the cycle time.
* :class:`Detector` runs the engine on each snapshot, compares the conflicts
  with the previous cycle's and turns the differences into alert events
  (``new``, ``level``, ``resolved``); follows losses of separation into
  incidents; and works out which aircraft each party may see.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from skysep.agreement import Agreement
from skysep.engine import LEVELS, Conflicts, States, detect
from skysep.service import _geodesy
from skysep.storage import Report

F64 = npt.NDArray[np.float64]
Obj = npt.NDArray[np.object_]

#: Alert events, as stored and delivered.
EVENTS: Final[tuple[str, ...]] = ("new", "level", "resolved")
#: An incident's track segment: from this long before its start ...
TRACK_BEFORE_S: Final = 120.0
#: ... to this long after its end.
TRACK_AFTER_S: Final = 60.0
#: Reports of one aircraft closer than this in time do not give it a velocity.
MIN_DERIVE_DT_S: Final = 0.5
#: Separator between party and aircraft in the engine's aircraft ids (party ids cannot hold it).
KEY_SEP: Final = "/"


def aircraft_key(party_id: str, aircraft: str) -> str:
    return f"{party_id}{KEY_SEP}{aircraft}"


def split_key(key: str) -> tuple[str, str]:
    party_id, aircraft = key.split(KEY_SEP, 1)
    return party_id, aircraft


@dataclass(frozen=True)
class Snapshot:
    """Every live aircraft at one time (SI), as the engine sees it."""

    time: float
    party: Obj
    aircraft: Obj
    #: ``party/aircraft``: unique, and sorts pairs the way alerts and incidents are keyed.
    key: Obj
    report_time: F64
    received_at: F64
    lat_deg: F64
    lon_deg: F64
    alt_m: F64
    gs_mps: F64
    track_deg: F64
    vs_mps: F64

    def __len__(self) -> int:
        return int(self.key.shape[0])

    def states(self) -> States:
        return States(
            aircraft=self.key,
            lat_deg=self.lat_deg,
            lon_deg=self.lon_deg,
            alt_m=self.alt_m,
            gs_mps=self.gs_mps,
            track_deg=self.track_deg,
            vs_mps=self.vs_mps,
            party=self.party,
        )

    @cached_property
    def index(self) -> dict[str, int]:
        """The row of each ``party/aircraft`` key (built once per snapshot, when first used)."""
        return {str(k): n for n, k in enumerate(self.key.tolist())}

    def state(self, i: int) -> dict[str, Any]:
        """Aircraft ``i`` as a plain mapping (SI, times as epoch seconds)."""
        return {
            "party": str(self.party[i]),
            "aircraft": str(self.aircraft[i]),
            "time": self.time,
            "report_time": float(self.report_time[i]),
            "lat_deg": float(self.lat_deg[i]),
            "lon_deg": float(self.lon_deg[i]),
            "alt_m": float(self.alt_m[i]),
            "gs_mps": float(self.gs_mps[i]),
            "track_deg": float(self.track_deg[i]),
            "vs_mps": float(self.vs_mps[i]),
        }


class LivePicture:
    """The latest report of every aircraft, and snapshots of them at a given time.

    Held as columns (one row per aircraft, rows reused once an aircraft goes
    stale), so that a snapshot of 10,000 aircraft is a few array copies.
    """

    def __init__(self, stale_s: float) -> None:
        self.stale_s = stale_s
        self._row: dict[tuple[str, str], int] = {}
        self._free: list[int] = []
        self._used: list[bool] = []
        self._party: list[str] = []
        self._aircraft: list[str] = []
        self._key: list[str] = []
        self._time: list[float] = []
        self._received: list[float] = []
        self._lat: list[float] = []
        self._lon: list[float] = []
        self._alt: list[float] = []
        self._gs: list[float] = []
        self._trk: list[float] = []
        self._vs: list[float] = []

    def __len__(self) -> int:
        return len(self._row)

    def _new_row(self, party: str, aircraft: str, key: tuple[str, str]) -> int:
        """A row for a new aircraft: a stale one's, or a new one at the end (its values are
        written by :meth:`update`)."""
        if self._free:
            row = self._free.pop()
        else:
            row = len(self._used)
            self._used.append(False)
            for names in (self._party, self._aircraft, self._key):
                names.append("")
            for values in (
                self._time, self._received, self._lat, self._lon, self._alt,
                self._gs, self._trk, self._vs,
            ):  # fmt: skip
                values.append(0.0)
        self._used[row] = True
        self._party[row], self._aircraft[row] = party, aircraft
        self._key[row] = aircraft_key(party, aircraft)
        self._row[key] = row
        return row

    def update(self, reports: Iterable[Report] | Iterable[tuple[Any, ...]]) -> None:
        """Take reports in (:class:`Report` rows, or plain tuples in its field order); an
        older report than the one held for an aircraft is ignored.

        A missing ground speed, track or vertical rate is derived from the
        aircraft's previous report (zero when there is none close enough).
        """
        for party, aircraft, t, received, lat, lon, alt, gs, trk, vs in reports:
            key = (party, aircraft)
            row = self._row.get(key)
            usable = False
            if row is None:
                row = self._new_row(party, aircraft, key)
            else:
                held_time = self._time[row]
                if t < held_time:
                    continue
                usable = t - held_time >= MIN_DERIVE_DT_S
            if gs is None or trk is None:
                if usable:
                    azimuth_deg, distance_m = _geodesy.inverse(
                        self._lat[row], self._lon[row], lat, lon
                    )
                    dt = t - self._time[row]
                    gs = distance_m / dt if gs is None else gs
                    trk = azimuth_deg % 360.0 if trk is None else trk
                else:
                    gs = 0.0 if gs is None else gs
                    trk = 0.0 if trk is None else trk
            if vs is None:
                vs = (alt - self._alt[row]) / (t - self._time[row]) if usable else 0.0
            self._time[row] = t
            self._received[row] = received
            self._lat[row] = lat
            self._lon[row] = lon
            self._alt[row] = alt
            self._gs[row] = float(gs)
            self._trk[row] = float(trk) % 360.0
            self._vs[row] = float(vs)

    def snapshot(self, now: float) -> Snapshot:
        """Every aircraft reported within ``stale_s`` of ``now``, moved to ``now``.

        Stale aircraft are forgotten. Positions move along the reported
        ground track on the WGS84 ellipsoid (a geodesic), altitudes with the
        vertical rate; a report newer than ``now`` is moved back.
        """
        report_time = np.array(self._time, dtype=np.float64)
        used = np.array(self._used, dtype=bool)
        stale = used & (report_time < now - self.stale_s)
        for row in np.flatnonzero(stale).tolist():
            del self._row[(self._party[row], self._aircraft[row])]
            self._used[row] = False
            self._free.append(row)
        live = np.flatnonzero(used & ~stale)
        party = np.array(self._party, dtype=object)[live]
        aircraft = np.array(self._aircraft, dtype=object)[live]
        keys = np.array(self._key, dtype=object)[live]
        report_time = report_time[live]
        received = np.array(self._received, dtype=np.float64)[live]
        lat = np.array(self._lat, dtype=np.float64)[live]
        lon = np.array(self._lon, dtype=np.float64)[live]
        alt = np.array(self._alt, dtype=np.float64)[live]
        gs = np.array(self._gs, dtype=np.float64)[live]
        trk = np.array(self._trk, dtype=np.float64)[live]
        vs = np.array(self._vs, dtype=np.float64)[live]
        dt = now - report_time
        lat, lon = _move(lat, lon, trk, gs * dt)
        alt = np.clip(alt + vs * dt, -2_000.0, 100_000.0)
        return Snapshot(
            now, party, aircraft, keys, report_time, received, lat, lon, alt, gs, trk, vs
        )


def _move(lat: F64, lon: F64, track_deg: F64, distance_m: F64) -> tuple[F64, F64]:
    if lat.shape[0] == 0:
        return lat, lon
    moving = distance_m != 0.0
    if not moving.any():
        return lat, lon
    lat = lat.copy()
    lon = lon.copy()
    lat[moving], lon[moving] = _geodesy.forward(
        lat[moving], lon[moving], track_deg[moving], distance_m[moving]
    )
    return lat, lon


# -- detection --------------------------------------------------------------------------------


@dataclass
class _Active:
    """A pair in conflict at the last cycle."""

    level: str
    #: When the current alert episode of the pair began.
    first_alert: float
    t_in_s: float
    t_out_s: float


@dataclass
class _OpenIncident:
    incident_id: int | None
    row: dict[str, Any]
    last_in_los: float
    t_out_s: float


@dataclass
class CycleResult:
    """What one cycle produced (all SI, epoch seconds)."""

    time: float
    snapshot: Snapshot
    conflicts: Conflicts
    #: Alert events to store and deliver (columns of the ``alerts`` table).
    events: list[dict[str, Any]] = field(default_factory=list)
    #: Incidents that began this cycle (rows of the ``incidents`` table, without an id yet).
    opened: list[dict[str, Any]] = field(default_factory=list)
    #: (incident id, changed values) for incidents that went on or ended this cycle.
    changed: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    #: For each party, the indices into ``snapshot`` of the aircraft it may see.
    visible: dict[str, npt.NDArray[np.int64]] = field(default_factory=dict)


class Detector:
    """Cycle after cycle: conflicts, alert events, incidents and need-to-know."""

    def __init__(self, agreement: Agreement, threads: int | None = None) -> None:
        self.agreement = agreement
        self.threads = threads
        self._active: dict[tuple[str, str], _Active] = {}
        self._incidents: dict[tuple[str, str], _OpenIncident] = {}
        self._last_time = -math.inf
        self._disclosure = replace(
            agreement,
            horizontal_m=agreement.disclosure_radius_m,
            vertical_m=1.0e6,
            lookahead_s=1.0e-3,
            check_same_party=False,
            pairs=(),
            detector="cylinder",
        )

    # -- restoring after a restart --

    def restore(
        self, active_alerts: Sequence[dict[str, Any]], open_incidents: Sequence[dict[str, Any]]
    ) -> None:
        """Resume from stored state: the last event of each live pair, and open incidents."""
        for row in active_alerts:
            pair = (
                aircraft_key(row["party_a"], row["aircraft_a"]),
                aircraft_key(row["party_b"], row["aircraft_b"]),
            )
            first = float(row.get("detail", {}).get("first_alert", row["time"]))
            self._active[pair] = _Active(
                row["level"], first, row["t_in_s"] or 0.0, row["t_out_s"] or 0.0
            )
        for row in open_incidents:
            pair = (
                aircraft_key(row["party_a"], row["aircraft_a"]),
                aircraft_key(row["party_b"], row["aircraft_b"]),
            )
            values = {k: v for k, v in row.items() if k != "id"}
            self._incidents[pair] = _OpenIncident(
                int(row["id"]), values, float(row["time_of_min"]), math.inf
            )

    def attach_incident_ids(self, result: CycleResult, ids: Sequence[int]) -> None:
        """Give the incidents opened by ``result`` the ids storage assigned them (each row of
        ``result.opened`` gets its ``id``)."""
        for row, incident_id in zip(result.opened, ids, strict=True):
            row["id"] = incident_id
            pair = (
                aircraft_key(row["party_a"], row["aircraft_a"]),
                aircraft_key(row["party_b"], row["aircraft_b"]),
            )
            self._incidents[pair].incident_id = incident_id

    # -- one cycle --

    def cycle(self, snapshot: Snapshot, *, visible: bool = True) -> CycleResult:
        """Conflicts, alert events and incidents of ``snapshot``; and who may see which
        aircraft (``result.visible``) unless ``visible`` is false: the service works that
        out after the cycle's alerts went out (:meth:`visible`), off their path."""
        now = snapshot.time
        states = snapshot.states()
        conflicts = detect(states, self.agreement, threads=self.threads)
        result = CycleResult(now, snapshot, conflicts)
        current: dict[tuple[str, str], int] = {}
        key = snapshot.key
        for k in range(len(conflicts)):
            current[(str(key[conflicts.index_a[k]]), str(key[conflicts.index_b[k]]))] = k

        #: Where the previous cycle predicted each pair's loss to begin (epoch seconds).
        predicted_start: dict[tuple[str, str], float] = {}
        #: (event, previous level, conflict row, first alert) of the pairs new or changed.
        pending: list[tuple[str, str | None, int, float]] = []
        for pair, k in current.items():
            level = LEVELS[int(conflicts.level_code[k])]
            held = self._active.get(pair)
            if held is not None and math.isfinite(self._last_time):
                predicted_start[pair] = self._last_time + held.t_in_s
            if held is None:
                self._active[pair] = _Active(
                    level, now, float(conflicts.t_in_s[k]), float(conflicts.t_out_s[k])
                )
                pending.append(("new", None, k, now))
            else:
                if level != held.level:
                    pending.append(("level", held.level, k, held.first_alert))
                    held.level = level
                held.t_in_s = float(conflicts.t_in_s[k])
                held.t_out_s = float(conflicts.t_out_s[k])
        rows = np.array([k for _, _, k, _ in pending], dtype=np.int64)
        cpa = _cpa_midpoints(snapshot, conflicts, rows)
        for (name, previous, k, first_alert), lat, lon, alt in zip(pending, *cpa, strict=True):
            result.events.append(
                self._event(name, previous, snapshot, conflicts, k, first_alert, (lat, lon, alt))
            )
        for pair in [p for p in self._active if p not in current]:
            held = self._active.pop(pair)
            result.events.append(self._resolved(pair, held, snapshot))

        self._follow_incidents(result, current, predicted_start)
        self._last_time = now
        if visible:
            result.visible = self.visible(snapshot, conflicts)
        return result

    def _event(
        self,
        name: str,
        previous: str | None,
        s: Snapshot,
        c: Conflicts,
        k: int,
        first_alert: float,
        cpa: tuple[float, float, float],
    ) -> dict[str, Any]:
        """An alert event of conflict row ``k``; ``cpa``: the midpoint (lat, lon, alt_m) of
        the two aircraft at the closest approach (from :func:`_cpa_midpoints`)."""
        i, j = int(c.index_a[k]), int(c.index_b[k])
        t_cpa = float(c.t_cpa_s[k])
        mid_lat, mid_lon, mid_alt = cpa
        return {
            "time": s.time,
            "event": name,
            "level": LEVELS[int(c.level_code[k])],
            "previous_level": previous,
            "party_a": str(s.party[i]),
            "aircraft_a": str(s.aircraft[i]),
            "party_b": str(s.party[j]),
            "aircraft_b": str(s.aircraft[j]),
            "t_in_s": float(c.t_in_s[k]),
            "t_out_s": _finite(float(c.t_out_s[k])),
            "t_cpa_s": t_cpa,
            "h_cpa_m": float(c.h_cpa_m[k]),
            "v_cpa_m": float(c.v_cpa_m[k]),
            "h_now_m": float(c.h_now_m[k]),
            "v_now_m": float(c.v_now_m[k]),
            "horizontal_m": float(c.horizontal_m[k]),
            "vertical_m": float(c.vertical_m[k]),
            "detail": {
                "a": s.state(i),
                "b": s.state(j),
                "cpa": {
                    "time": s.time + t_cpa,
                    "lat_deg": float(mid_lat),
                    "lon_deg": float(mid_lon),
                    "alt_m": float(mid_alt),
                },
                "first_alert": first_alert,
            },
            "report_received_at": float(max(s.received_at[i], s.received_at[j])),
        }

    def _resolved(self, pair: tuple[str, str], held: _Active, s: Snapshot) -> dict[str, Any]:
        party_a, aircraft_a = split_key(pair[0])
        party_b, aircraft_b = split_key(pair[1])
        where = {k: s.index[k] for k in pair if k in s.index}
        detail: dict[str, Any] = {"first_alert": held.first_alert}
        for side, k in (("a", pair[0]), ("b", pair[1])):
            detail[side] = s.state(where[k]) if k in where else None
        received = [float(s.received_at[n]) for n in where.values()]
        return {
            "time": s.time,
            "event": "resolved",
            "level": held.level,
            "previous_level": held.level,
            "party_a": party_a,
            "aircraft_a": aircraft_a,
            "party_b": party_b,
            "aircraft_b": aircraft_b,
            "t_in_s": None,
            "t_out_s": None,
            "t_cpa_s": None,
            "h_cpa_m": None,
            "v_cpa_m": None,
            "h_now_m": None,
            "v_now_m": None,
            "horizontal_m": 0.0,
            "vertical_m": 0.0,
            "detail": detail,
            "report_received_at": max(received) if received else None,
        }

    def _follow_incidents(
        self,
        result: CycleResult,
        current: dict[tuple[str, str], int],
        predicted_start: dict[tuple[str, str], float],
    ) -> None:
        """Open, extend and close losses of separation (LoS now: t_in = 0).

        A loss begins between the previous cycle and this one: at the start
        the previous cycle predicted when that falls in between, else now.
        It ends at the end the last cycle in it predicted, or now if sooner.
        """
        c, s, now = result.conflicts, result.snapshot, result.time
        in_los = {pair: k for pair, k in current.items() if c.t_in_s[k] <= 0.0}
        # The pairs whose closest point is (re)computed: new losses, and closer ones.
        closer = [
            k
            for pair, k in in_los.items()
            if pair not in self._incidents
            or float(c.h_now_m[k]) < self._incidents[pair].row["min_h_m"]
        ]
        closest = _closest(s, c, np.array(closer, dtype=np.int64), now)
        for pair, k in in_los.items():
            i, j = int(c.index_a[k]), int(c.index_b[k])
            held = self._incidents.get(pair)
            if held is None:
                active = self._active[pair]
                start = now
                if pair in predicted_start:
                    start = min(now, max(self._last_time, predicted_start[pair]))
                row = {
                    "status": "open",
                    "party_a": str(s.party[i]),
                    "aircraft_a": str(s.aircraft[i]),
                    "party_b": str(s.party[j]),
                    "aircraft_b": str(s.aircraft[j]),
                    "start": start,
                    "end": None,
                    "duration_s": None,
                    "horizontal_m": float(c.horizontal_m[k]),
                    "vertical_m": float(c.vertical_m[k]),
                    "first_alert": active.first_alert if active.first_alert < start else None,
                    "lead_time_s": start - active.first_alert
                    if active.first_alert < start
                    else None,
                    "level_at_start": LEVELS[int(c.level_code[k])],
                    **closest[k],
                }
                self._incidents[pair] = _OpenIncident(None, row, now, float(c.t_out_s[k]))
                result.opened.append(row)
                continue
            held.last_in_los = now
            held.t_out_s = float(c.t_out_s[k])
            if k in closest:
                values = closest[k]
                held.row.update(values)
                if held.incident_id is not None:
                    result.changed.append((held.incident_id, values))
        for pair in [p for p in self._incidents if p not in in_los]:
            held = self._incidents.pop(pair)
            # The loss ended between the last cycle in it and now: at its predicted end if sooner.
            end = min(now, held.last_in_los + held.t_out_s)
            values = {
                "status": "closed",
                "end": end,
                "duration_s": end - float(held.row["start"]),
            }
            held.row.update(values)
            if held.incident_id is not None:
                result.changed.append((held.incident_id, values))

    def visible(self, s: Snapshot, c: Conflicts) -> dict[str, npt.NDArray[np.int64]]:
        """Own aircraft, others within the disclosure radius of one, others in conflict with one."""
        near = detect(s.states(), self._disclosure, threads=self.threads)
        pa, pb = s.party[near.index_a], s.party[near.index_b]
        ca, cb = s.party[c.index_a], s.party[c.index_b]
        visible: dict[str, npt.NDArray[np.int64]] = {}
        for party in sorted(set(s.party.tolist())):
            own = np.flatnonzero(s.party == party)
            seen = [
                own,
                near.index_b[(pa == party) & (pb != party)],
                near.index_a[(pb == party) & (pa != party)],
                c.index_b[(ca == party) & (cb != party)],
                c.index_a[(cb == party) & (ca != party)],
            ]
            visible[party] = np.unique(np.concatenate(seen)).astype(np.int64)
        return visible


def _cpa_midpoints(s: Snapshot, c: Conflicts, rows: npt.NDArray[np.int64]) -> tuple[F64, F64, F64]:
    """Midpoints (lat, lon, alt_m) of the pairs of conflict ``rows`` at their closest approach,
    each aircraft moved along its track: one geodesic computation for all of them."""
    i, j, t = c.index_a[rows], c.index_b[rows], c.t_cpa_s[rows]
    lat_i, lon_i = _move(s.lat_deg[i], s.lon_deg[i], s.track_deg[i], s.gs_mps[i] * t)
    lat_j, lon_j = _move(s.lat_deg[j], s.lon_deg[j], s.track_deg[j], s.gs_mps[j] * t)
    lat, lon = _geodesy.midpoints(lat_i, lon_i, lat_j, lon_j)
    alt = 0.5 * ((s.alt_m[i] + s.vs_mps[i] * t) + (s.alt_m[j] + s.vs_mps[j] * t))
    return lat, lon, alt


def _closest(s: Snapshot, c: Conflicts, rows: npt.NDArray[np.int64], now: float) -> dict[int, Any]:
    """For each conflict row in ``rows`` (pairs in loss now), the incident's values at their
    closest point so far, now: separations and the midpoint, in one geodesic computation."""
    i, j = c.index_a[rows], c.index_b[rows]
    lat, lon = _geodesy.midpoints(s.lat_deg[i], s.lon_deg[i], s.lat_deg[j], s.lon_deg[j])
    alt = 0.5 * (s.alt_m[i] + s.alt_m[j])
    return {
        k: {
            "min_h_m": h,
            "min_v_m": v,
            "time_of_min": now,
            "lat_deg": la,
            "lon_deg": lo,
            "alt_m": al,
        }
        for k, h, v, la, lo, al in zip(
            rows.tolist(),
            c.h_now_m[rows].tolist(),
            c.v_now_m[rows].tolist(),
            lat.tolist(),
            lon.tolist(),
            alt.tolist(),
            strict=True,
        )
    }


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
