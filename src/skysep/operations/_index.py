"""Strategic deconfliction: filed operations in an STRtree, checked in 4D.

Two volumes of different parties are in **strategic conflict** when their
areas overlap (the interiors meet: touching edges do not count), their
altitude bands overlap (lower_a < upper_b and lower_b < upper_a: a band
ending at 400 ft and one starting at 400 ft do not) and their time windows
overlap (start_a < end_b and start_b < end_a: a hand-over at 10:00 does not).
Volumes of ended or cancelled operations, and of the same party, never
conflict.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from skysep.errors import OperationsError
from skysep.operations import _geometry as geo
from skysep.operations._model import FILED_STATES, Operation, check_transition

#: Volume parts added since the last STRtree build are checked one by one (vectorised)
#: until there are this many; then the tree is rebuilt on the next query.
REBUILD_AFTER: Final = 256


@dataclass(frozen=True)
class ConflictNotice:
    """What one party of a strategic conflict may be shown, and nothing else.

    Its own operation and volume, the other party, and the overlap: the
    region where both areas meet (GeoJSON, lon/lat), the altitude band and
    the time window both share. The other party's operation, its id, its
    volume's id and the rest of its area are never in a notice.
    """

    conflict_id: str
    party: str
    other_party: str
    operation_id: str
    volume_id: str
    region: dict[str, Any]
    lower_m: float
    upper_m: float
    start: datetime
    end: datetime

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (times as ISO-8601 UTC with 'Z')."""
        return {
            "conflict_id": self.conflict_id,
            "party": self.party,
            "other_party": self.other_party,
            "operation_id": self.operation_id,
            "volume_id": self.volume_id,
            "region": self.region,
            "lower_m": self.lower_m,
            "upper_m": self.upper_m,
            "start": _iso(self.start),
            "end": _iso(self.end),
        }


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, eq=False)
class StrategicConflict:
    """A 4D overlap between a volume of one operation and a volume of another party's.

    ``party``/``operation_id``/``volume_id`` are the side that was checked,
    ``other_*`` the filed side. ``region`` is the overlap of the two areas (a
    shapely (multi)polygon in lon/lat), ``lower_m`` to ``upper_m`` and
    ``start`` to ``end`` the shared band and window. Hand each party only
    :meth:`disclosed_to` its own view.
    """

    party: str
    operation_id: str
    volume_id: str
    other_party: str
    other_operation_id: str
    other_volume_id: str
    region: Any
    lower_m: float
    upper_m: float
    start: datetime
    end: datetime
    conflict_id: str = field(init=False)

    def __post_init__(self) -> None:
        sides = sorted(
            [
                (self.party, self.operation_id, self.volume_id),
                (self.other_party, self.other_operation_id, self.other_volume_id),
            ]
        )
        digest = hashlib.sha256(repr(sides).encode("utf-8")).hexdigest()[:16]
        object.__setattr__(self, "conflict_id", digest)

    def region_geojson(self) -> dict[str, Any]:
        """The overlap as a GeoJSON geometry (lon/lat), in canonical form: the same for both
        parties whichever side was checked."""
        return geo.geojson(geo.normalize(self.region))

    def disclosed_to(self, party: str) -> ConflictNotice:
        """The notice ``party`` may see: its own ids, the other party, the overlap."""
        if party == self.party:
            own, other = (self.operation_id, self.volume_id), self.other_party
        elif party == self.other_party:
            own, other = (self.other_operation_id, self.other_volume_id), self.party
        else:
            raise OperationsError(
                f"conflict {self.conflict_id}",
                [
                    f"party {party!r} is not in this conflict; "
                    f"its parties are {self.party!r} and {self.other_party!r}"
                ],
            )
        return ConflictNotice(
            conflict_id=self.conflict_id,
            party=party,
            other_party=other,
            operation_id=own[0],
            volume_id=own[1],
            region=self.region_geojson(),
            lower_m=self.lower_m,
            upper_m=self.upper_m,
            start=self.start,
            end=self.end,
        )


class OperationIndex:
    """Filed operations of many parties, indexed for strategic checks.

    Every volume part (a volume split at the antimeridian has two) is a row
    of a column table and an entry of a shapely STRtree. The tree is built
    lazily: rows added since the last build are checked without it, and the
    tree is rebuilt when there are more than ``rebuild_after`` of them or when
    more than half the rows belong to operations no longer filed.
    """

    def __init__(
        self, operations: Iterable[Operation] = (), *, rebuild_after: int = REBUILD_AFTER
    ) -> None:
        self._rebuild_after = rebuild_after
        self._operations: dict[str, Operation] = {}
        self._op_code: dict[str, int] = {}  # operation id -> code of its current rows
        self._op_live: list[bool] = []  # by code: do its rows take part in conflicts?
        self._op_ids: list[str] = []  # by code
        self._parties: dict[str, int] = {}
        # Row columns (every row ever added since the last compaction).
        self._geoms: list[Any] = []
        self._rows_op: list[int] = []
        self._rows_volume: list[int] = []
        self._rows_party: list[int] = []
        self._rows_band: list[tuple[float, float, float, float]] = []
        # The built part: the tree over rows [0, built) and their columns as arrays.
        self._built = 0
        self._tree: geo.Tree | None = None
        self._cols: dict[str, npt.NDArray[Any]] = {}
        for operation in operations:
            self.add(operation)

    # -- the operations ---------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._operations)

    def __contains__(self, operation_id: object) -> bool:
        return operation_id in self._operations

    def __iter__(self) -> Iterator[Operation]:
        return iter(list(self._operations.values()))

    def get(self, operation_id: str) -> Operation:
        """The filed operation ``operation_id`` (OperationsError if there is none)."""
        try:
            return self._operations[operation_id]
        except KeyError:
            raise OperationsError(
                f"operation {operation_id!r}", ["no such operation in the index"]
            ) from None

    @property
    def volume_count(self) -> int:
        """Volumes of the operations that take part in conflicts (planned or active)."""
        return sum(len(op.volumes) for op in self._operations.values() if op.state in FILED_STATES)

    def add(self, operation: Operation, *, party: str | None = None) -> Operation:
        """File ``operation`` (for ``party``, else its own ``party``); returns what is stored."""
        operation = self._with_party(operation, party)
        if operation.id in self._operations:
            raise OperationsError(
                f"operation {operation.id!r}",
                ["is already filed; update it, or remove it first"],
            )
        self._insert(operation)
        return operation

    def update(self, operation: Operation, *, party: str | None = None) -> Operation:
        """Replace a filed operation's volumes, name and aircraft; its state is kept.

        The party must be the one that filed it; an ended or cancelled
        operation cannot be changed.
        """
        current = self.get(operation.id)
        operation = self._with_party(operation, party)
        where = f"operation {operation.id!r}"
        if operation.party != current.party:
            raise OperationsError(
                where,
                [f"was filed by {current.party!r}; {operation.party!r} cannot change it"],
            )
        if current.state not in FILED_STATES:
            raise OperationsError(where, [f"is {current.state!r}; it can no longer change"])
        self._retire(operation.id)
        stored = replace(operation, state=current.state)
        self._insert(stored)
        return stored

    def remove(self, operation_id: str) -> Operation:
        """Remove a filed operation (of any state); returns it."""
        operation = self.get(operation_id)
        self._retire(operation_id)
        del self._operations[operation_id]
        return operation

    def set_state(self, operation_id: str, state: str) -> Operation:
        """Move a filed operation to ``state`` (planned → active → ended, or cancelled).

        Raises :class:`~skysep.operations.TransitionError` listing the valid
        next states. Ended and cancelled operations stop conflicting.
        """
        current = self.get(operation_id)
        changed = replace(current, state=check_transition(operation_id, current.state, state))
        self._operations[operation_id] = changed
        if changed.state not in FILED_STATES:
            self._op_live[self._op_code[operation_id]] = False
        return changed

    def _with_party(self, operation: Operation, party: str | None) -> Operation:
        if party is not None:
            operation = operation.with_party(party)
        where = f"operation {operation.id!r}"
        if not operation.id:
            raise OperationsError("operation", ["has no id; give one to file it"])
        if not operation.party:
            raise OperationsError(where, ["has no party; give the filing party"])
        return operation

    def _insert(self, operation: Operation) -> None:
        code = len(self._op_ids)
        self._op_ids.append(operation.id)
        self._op_live.append(operation.state in FILED_STATES)
        self._op_code[operation.id] = code
        self._operations[operation.id] = operation
        assert operation.party is not None
        party = self._parties.setdefault(operation.party, len(self._parties))
        for v_index, volume in enumerate(operation.volumes):
            for part in volume.parts:
                self._geoms.append(part)
                self._rows_op.append(code)
                self._rows_volume.append(v_index)
                self._rows_party.append(party)
                self._rows_band.append(
                    (volume.lower_m, volume.upper_m, volume.start_s, volume.end_s)
                )

    def _retire(self, operation_id: str) -> None:
        code = self._op_code.pop(operation_id)
        self._op_live[code] = False

    # -- the tree ----------------------------------------------------------------------

    def _columns(self, start: int, stop: int) -> dict[str, npt.NDArray[Any]]:
        band = np.asarray(self._rows_band[start:stop], dtype=np.float64).reshape(-1, 4)
        return {
            "geom": geo.array(self._geoms[start:stop]),
            "op": np.asarray(self._rows_op[start:stop], dtype=np.intp),
            "volume": np.asarray(self._rows_volume[start:stop], dtype=np.intp),
            "party": np.asarray(self._rows_party[start:stop], dtype=np.intp),
            "lower": band[:, 0],
            "upper": band[:, 1],
            "start": band[:, 2],
            "end": band[:, 3],
        }

    def build(self) -> None:
        """(Re)build the STRtree now over every row still filed (done lazily otherwise)."""
        live = np.asarray(self._op_live, dtype=np.bool_)
        keep = [i for i, op in enumerate(self._rows_op) if live[op]]
        self._geoms = [self._geoms[i] for i in keep]
        self._rows_op = [self._rows_op[i] for i in keep]
        self._rows_volume = [self._rows_volume[i] for i in keep]
        self._rows_party = [self._rows_party[i] for i in keep]
        self._rows_band = [self._rows_band[i] for i in keep]
        self._built = len(self._geoms)
        self._cols = self._columns(0, self._built)
        self._tree = geo.Tree(self._cols["geom"])

    def _ensure_tree(self) -> None:
        pending = len(self._geoms) - self._built
        dead = 0
        if self._built:
            live = np.asarray(self._op_live, dtype=np.bool_)
            dead = int(np.count_nonzero(~live[self._cols["op"]]))
        if self._tree is None or pending > self._rebuild_after or 2 * dead > self._built:
            self.build()

    # -- the strategic check -------------------------------------------------------------

    def conflicts(
        self, operation: Operation, *, party: str | None = None
    ) -> list[StrategicConflict]:
        """Every 4D overlap of ``operation``'s volumes with another party's filed volumes.

        ``party`` (default: the operation's own) decides which filed volumes
        are another party's. The operation itself, if filed, is skipped. An
        ended or cancelled operation has no conflicts. Sorted by (volume,
        other operation, other volume) in filing order.
        """
        party = party if party is not None else operation.party
        if not party:
            raise OperationsError(
                f"operation {operation.id!r}", ["has no party; give the party to check for"]
            )
        if operation.state not in FILED_STATES:
            return []
        self._ensure_tree()
        assert self._tree is not None
        pending = self._columns(self._built, len(self._geoms))
        live = np.asarray(self._op_live, dtype=np.bool_)
        party_code = self._parties.get(party, -1)
        own_code = self._op_code.get(operation.id, -1)
        out: list[StrategicConflict] = []
        for volume in operation.volumes:
            pieces: dict[tuple[int, int], list[Any]] = {}
            for part in volume.parts:
                for cols, rows in (
                    (self._cols, self._tree.candidates(part)),
                    (pending, np.arange(len(pending["op"]), dtype=np.intp)),
                ):
                    if len(rows) == 0:
                        continue
                    op = cols["op"][rows]
                    keep = (
                        live[op]
                        & (op != own_code)
                        & (cols["party"][rows] != party_code)
                        & (cols["lower"][rows] < volume.upper_m)
                        & (cols["upper"][rows] > volume.lower_m)
                        & (cols["start"][rows] < volume.end_s)
                        & (cols["end"][rows] > volume.start_s)
                    )
                    rows = rows[keep]
                    if len(rows) == 0:
                        continue
                    rows = rows[geo.interiors_meet(cols["geom"][rows], part)]
                    for row in rows.tolist():
                        key = (int(cols["op"][row]), int(cols["volume"][row]))
                        pieces.setdefault(key, []).append(geo.intersection(cols["geom"][row], part))
            for (op_code, v_index), regions in sorted(pieces.items()):
                other = self._operations[self._op_ids[op_code]]
                other_volume = other.volumes[v_index]
                assert other.party is not None
                out.append(
                    StrategicConflict(
                        party=party,
                        operation_id=operation.id,
                        volume_id=volume.id,
                        other_party=other.party,
                        other_operation_id=other.id,
                        other_volume_id=other_volume.id,
                        region=geo.union(regions),
                        lower_m=max(volume.lower_m, other_volume.lower_m),
                        upper_m=min(volume.upper_m, other_volume.upper_m),
                        start=max(volume.start, other_volume.start),
                        end=min(volume.end, other_volume.end),
                    )
                )
        return out

    def conflicts_of(self, operation_id: str) -> list[StrategicConflict]:
        """The conflicts of a filed operation with every other party's (after a change)."""
        return self.conflicts(self.get(operation_id))

    def active(self) -> list[Operation]:
        """The operations in state ``active`` (for :class:`~skysep.operations.ActiveVolumes`)."""
        return [op for op in self._operations.values() if op.state == "active"]
