"""Operations: advance notice of where and when a party will fly (issue #6).

An operation is one or more 4D volumes (an area, an altitude band AMSL, a
UTC time window), filed as a GeoJSON FeatureCollection. This package parses
and validates the files, checks an operation against other parties'
operations (:class:`OperationIndex`, strategic conflicts that disclose only
the overlap) and checks live traffic against active volumes
(:class:`ActiveVolumes`: intrusions and non-conformance). Pure: no I/O
except :func:`read_operation`, no globals, no clock reads.

Names load on first use (shapely and pyproj are imported then), so that
importing the command line stays fast. ``docs/operations.md`` is the
specification.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from skysep._lazy import lazy_names

if TYPE_CHECKING:
    from skysep.errors import OperationsError
    from skysep.operations._errors import InvalidOperationError, Issue, TransitionError
    from skysep.operations._geometry import CIRCLE_TOLERANCE_M
    from skysep.operations._index import ConflictNotice, OperationIndex, StrategicConflict
    from skysep.operations._live import ActiveVolumes, Intrusion, LiveAlerts, VolumeRef
    from skysep.operations._model import (
        FILED_STATES,
        STATES,
        TRANSITIONS,
        Operation,
        State,
        Volume,
    )
    from skysep.operations._parse import (
        MAX_RADIUS_M,
        MAX_VERTICES,
        MAX_VOLUMES,
        OPERATION_MEMBERS,
        PROPERTIES,
        parse_operation,
        read_operation,
    )

_WHERE: dict[str, str] = {
    "OperationsError": "skysep.errors",
    "InvalidOperationError": "skysep.operations._errors",
    "Issue": "skysep.operations._errors",
    "TransitionError": "skysep.operations._errors",
    "CIRCLE_TOLERANCE_M": "skysep.operations._geometry",
    "ConflictNotice": "skysep.operations._index",
    "OperationIndex": "skysep.operations._index",
    "StrategicConflict": "skysep.operations._index",
    "ActiveVolumes": "skysep.operations._live",
    "Intrusion": "skysep.operations._live",
    "LiveAlerts": "skysep.operations._live",
    "VolumeRef": "skysep.operations._live",
    "FILED_STATES": "skysep.operations._model",
    "STATES": "skysep.operations._model",
    "TRANSITIONS": "skysep.operations._model",
    "Operation": "skysep.operations._model",
    "State": "skysep.operations._model",
    "Volume": "skysep.operations._model",
    "MAX_RADIUS_M": "skysep.operations._parse",
    "MAX_VERTICES": "skysep.operations._parse",
    "MAX_VOLUMES": "skysep.operations._parse",
    "OPERATION_MEMBERS": "skysep.operations._parse",
    "PROPERTIES": "skysep.operations._parse",
    "parse_operation": "skysep.operations._parse",
    "read_operation": "skysep.operations._parse",
}

__all__ = [
    "CIRCLE_TOLERANCE_M",
    "FILED_STATES",
    "MAX_RADIUS_M",
    "MAX_VERTICES",
    "MAX_VOLUMES",
    "OPERATION_MEMBERS",
    "PROPERTIES",
    "STATES",
    "TRANSITIONS",
    "ActiveVolumes",
    "ConflictNotice",
    "Intrusion",
    "InvalidOperationError",
    "Issue",
    "LiveAlerts",
    "Operation",
    "OperationIndex",
    "OperationsError",
    "State",
    "StrategicConflict",
    "TransitionError",
    "Volume",
    "VolumeRef",
    "parse_operation",
    "read_operation",
]


__getattr__, __dir__ = lazy_names(__name__, _WHERE, globals(), __all__)
