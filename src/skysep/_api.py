"""The top-level Python API: tables in, typed results out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from skysep import engine
from skysep.agreement import Agreement
from skysep.engine import Conflicts, States
from skysep.io.states import states_from_frame


def detect(
    states: States | pd.DataFrame | Mapping[str, Any],
    agreement: Agreement,
    *,
    method: engine.Method = "grid",
    threads: int | None = None,
) -> Conflicts:
    """Every pair of aircraft that loses separation within the agreement's lookahead.

    ``states`` is a :class:`States` (SI arrays) or a table with the columns of
    ``skysep detect`` (``aircraft, party, lat, lon, alt_ft|alt_m,
    gs_kt|gs_mps, track_deg, vs_fpm|vs_mps``): a data frame or a mapping of
    column name to values.

    >>> import skysep
    >>> table = {
    ...     "aircraft": ["A", "B"], "lat": [50.0, 50.0], "lon": [5.0, 5.3],
    ...     "alt_ft": [30000, 30000], "gs_kt": [450, 450], "track_deg": [90, 270],
    ...     "vs_fpm": [0, 0],
    ... }
    >>> conflicts = skysep.detect(table, skysep.preset("icao-5nm"))
    >>> conflicts.aircraft_a.tolist(), conflicts.level.tolist()
    (['A'], ['warning'])
    """
    if not isinstance(states, States):
        states = states_from_frame(states)
    return engine.detect(states, agreement, method=method, threads=threads)
