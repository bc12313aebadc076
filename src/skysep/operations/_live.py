"""Live containment: aircraft against active volumes, vectorised.

An aircraft is **in** a volume at its report time t when its position lies
inside or on the volume's area (boundary included), lower ≤ altitude ≤ upper
and start ≤ t ≤ end: closed on every side, so that an aircraft on a boundary
counts as inside (an intrusion is never missed for want of a millimetre).

- **Intrusion**: an aircraft in a volume of an active operation of another
  party (an aircraft with no party, ``""``, is another party for everyone).
- **Non-conformance**: an aircraft listed in an active operation of its own
  party (``operation.aircraft``, matched by party and identifier) that is in
  no volume of any such operation listing it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from skysep.errors import OperationsError
from skysep.operations import _geometry as geo
from skysep.operations._model import Operation

F64 = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


@dataclass(frozen=True)
class VolumeRef:
    """Which operation, volume and party an active volume belongs to."""

    operation_id: str
    volume_id: str
    party: str


@dataclass(frozen=True)
class Intrusion:
    """One aircraft in another party's active volume."""

    aircraft: str
    aircraft_party: str
    operation_id: str
    volume_id: str
    operation_party: str


@dataclass(frozen=True, eq=False)
class LiveAlerts:
    """The result of :meth:`ActiveVolumes.check`, as arrays.

    ``intrusion_aircraft[k]`` (a row of the input arrays) is in
    ``volumes[intrusion_volume[k]]``, a volume of another party; rows sorted
    by (aircraft row, volume). ``nonconforming_aircraft`` are the rows outside
    every volume of their own active operations; ``nonconforming_operation[k]``
    pairs each with one operation (an index into ``operation_ids``) listing it.
    """

    aircraft: npt.NDArray[np.object_]
    party: npt.NDArray[np.object_]
    volumes: tuple[VolumeRef, ...]
    operation_ids: tuple[str, ...]
    intrusion_aircraft: IntArray
    intrusion_volume: IntArray
    nonconforming_aircraft: IntArray
    nonconforming_operation: IntArray

    def intrusions(self) -> list[Intrusion]:
        """The intrusions as records."""
        out = []
        for row, v in zip(
            self.intrusion_aircraft.tolist(), self.intrusion_volume.tolist(), strict=True
        ):
            ref = self.volumes[v]
            out.append(
                Intrusion(
                    str(self.aircraft[row]),
                    str(self.party[row]),
                    ref.operation_id,
                    ref.volume_id,
                    ref.party,
                )
            )
        return out

    def nonconforming(self) -> list[tuple[str, str, str]]:
        """(aircraft, party, operation id) of each non-conforming aircraft and its operation."""
        return [
            (str(self.aircraft[row]), str(self.party[row]), self.operation_ids[op])
            for row, op in zip(
                self.nonconforming_aircraft.tolist(),
                self.nonconforming_operation.tolist(),
                strict=True,
            )
        ]


def _strings(name: str, values: Any, n: int) -> npt.NDArray[np.object_]:
    arr = np.asarray(values, dtype=object)
    if arr.shape != (n,):
        raise OperationsError("live check", [f"{name} has shape {arr.shape}, expected ({n},)"])
    return np.asarray([("" if v is None else str(v)) for v in arr.tolist()], dtype=object)


class ActiveVolumes:
    """The volumes of the active operations, ready to check snapshots of traffic.

    Built once when operations change (operations not in state ``active``
    are ignored), then :meth:`check` takes a snapshot's arrays.
    """

    def __init__(self, operations: Iterable[Operation]) -> None:
        self.operations = tuple(op for op in operations if op.state == "active")
        refs: list[VolumeRef] = []
        parts: list[Any] = []
        part_volume: list[int] = []
        band: list[tuple[float, float, float, float]] = []
        volume_op: list[int] = []
        for o, op in enumerate(self.operations):
            if not op.party:
                raise OperationsError(f"operation {op.id!r}", ["has no party"])
            for volume in op.volumes:
                for part in volume.parts:
                    parts.append(part)
                    part_volume.append(len(refs))
                refs.append(VolumeRef(op.id, volume.id, op.party))
                band.append((volume.lower_m, volume.upper_m, volume.start_s, volume.end_s))
                volume_op.append(o)
        self.volumes = tuple(refs)
        self._tree = geo.Tree(geo.array(parts))
        self._part_volume = np.asarray(part_volume, dtype=np.intp)
        bands = np.asarray(band, dtype=np.float64).reshape(-1, 4)
        self._lower, self._upper, self._start, self._end = bands.T
        self._volume_op = np.asarray(volume_op, dtype=np.intp)
        self._volume_party = np.asarray([r.party for r in refs], dtype=object)
        # (party, aircraft) -> operations listing it
        self._listed: dict[tuple[str, str], list[int]] = {}
        for o, op in enumerate(self.operations):
            assert op.party is not None
            for ac in op.aircraft:
                self._listed.setdefault((op.party, ac), []).append(o)

    def check(
        self,
        *,
        aircraft: Any,
        party: Any,
        lat_deg: Any,
        lon_deg: Any,
        alt_m: Any,
        time_s: Any,
    ) -> LiveAlerts:
        """Intrusions and non-conformances of one snapshot (arrays of equal length).

        ``aircraft`` and ``party`` are strings (party ``""`` or None: none);
        ``time_s`` is each report's POSIX time (or one time for all).
        """
        ids = np.asarray(aircraft, dtype=object).reshape(-1)
        n = len(ids)
        ids = _strings("aircraft", ids, n)
        parties = _strings("party", party, n)
        lat = np.asarray(lat_deg, dtype=np.float64)
        lon = np.asarray(lon_deg, dtype=np.float64)
        alt = np.asarray(alt_m, dtype=np.float64)
        t = np.broadcast_to(np.asarray(time_s, dtype=np.float64), (n,))
        problems = []
        for name, arr in (("lat_deg", lat), ("lon_deg", lon), ("alt_m", alt), ("time_s", t)):
            if arr.shape != (n,):
                problems.append(f"{name} has shape {arr.shape}, expected ({n},)")
            elif not np.isfinite(arr).all():
                bad = int(np.flatnonzero(~np.isfinite(arr))[0])
                problems.append(f"{name}[{bad}] = {float(arr[bad])!r} is not finite")
        if not problems and np.abs(lat).max(initial=0.0) > 90.0:
            bad = int(np.flatnonzero(np.abs(lat) > 90.0)[0])
            problems.append(f"lat_deg[{bad}] = {float(lat[bad])!r} is out of range [-90, 90]")
        if problems:
            raise OperationsError("live check", problems)

        # Canonical longitudes; a point on ±180 is tried on both sides.
        lon_c = (lon + 180.0) % 360.0 - 180.0
        edge = np.flatnonzero(lon_c == -180.0)
        q_rows = np.concatenate([np.arange(n, dtype=np.intp), edge])
        q_lon = np.concatenate([lon_c, np.full(len(edge), 180.0)])
        q_lat = np.concatenate([lat, lat[edge]])
        hits = self._tree.hits_xy(q_lon, q_lat)
        rows = q_rows[hits[0]]
        vols = self._part_volume[hits[1]]
        inside = (
            (self._lower[vols] <= alt[rows])
            & (alt[rows] <= self._upper[vols])
            & (self._start[vols] <= t[rows])
            & (t[rows] <= self._end[vols])
        )
        rows, vols = rows[inside], vols[inside]
        if len(rows):
            pairs = np.unique(np.stack([rows, vols]), axis=1)
            rows, vols = pairs[0], pairs[1]

        other = self._volume_party[vols] != parties[rows]
        intrusion_rows, intrusion_vols = rows[other], vols[other]

        # Conformance: (row, op) listed pairs; a row conforms if in a volume of one of them.
        listed_rows: list[int] = []
        listed_ops: list[int] = []
        for r, key in enumerate(zip(parties.tolist(), ids.tolist(), strict=True)):
            for o in self._listed.get(key, ()):
                listed_rows.append(r)
                listed_ops.append(o)
        l_rows = np.asarray(listed_rows, dtype=np.intp)
        l_ops = np.asarray(listed_ops, dtype=np.intp)
        n_ops = max(len(self.operations), 1)
        in_ops = np.unique(rows * n_ops + self._volume_op[vols])
        conforms_pair = np.isin(l_rows * n_ops + l_ops, in_ops)
        conforming_rows = np.unique(l_rows[conforms_pair])
        outside = ~np.isin(l_rows, conforming_rows)
        return LiveAlerts(
            aircraft=ids,
            party=parties,
            volumes=self.volumes,
            operation_ids=tuple(op.id for op in self.operations),
            intrusion_aircraft=intrusion_rows.astype(np.intp),
            intrusion_volume=intrusion_vols.astype(np.intp),
            nonconforming_aircraft=l_rows[outside],
            nonconforming_operation=l_ops[outside],
        )
