"""Simulated reports as a table in SkySep's track columns, and its file (CSV or Parquet).

The columns are those ``skysep replay`` reads (``docs/tracks.md``, the
SkySep layout): ``time, aircraft, party, lat, lon, alt_ft, gs_kt, track_deg,
vs_fpm``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from skysep import units
from skysep.errors import SimulateError
from skysep.replay._types import Tracks
from skysep.simulate._generate import Batch, concat

#: The columns of a simulated track file, in order.
COLUMNS: Final = (
    "time",
    "aircraft",
    "party",
    "lat",
    "lon",
    "alt_ft",
    "gs_kt",
    "track_deg",
    "vs_fpm",
)
#: File extensions :func:`write_reports` writes, and the format of each.
OUTPUT_FORMATS: Final[dict[str, str]] = {".parquet": "Parquet", ".pq": "Parquet", ".csv": "CSV"}


def reports_table(reports: Tracks | Iterable[Batch]) -> pd.DataFrame:
    """Reports (or batches of them) as a data frame in SkySep's track columns.

    ``time`` is a UTC datetime column (nanoseconds); the others are float64,
    except ``aircraft`` and ``party`` (strings).
    """
    tracks = reports if isinstance(reports, Tracks) else concat(reports)
    nanoseconds = np.round(tracks.time_s * 1e9).astype(np.int64)
    party = tracks.party if tracks.party is not None else np.full(len(tracks), None, object)
    return pd.DataFrame(
        {
            "time": pd.to_datetime(nanoseconds, unit="ns", utc=True),
            "aircraft": pd.array(tracks.aircraft, dtype="string"),
            "party": pd.array(party, dtype="string"),
            "lat": tracks.lat_deg,
            "lon": tracks.lon_deg,
            "alt_ft": units.m_to_ft(tracks.alt_m),
            "gs_kt": units.mps_to_kt(tracks.gs_mps),
            "track_deg": tracks.track_deg,
            "vs_fpm": units.mps_to_fpm(tracks.vs_mps),
        },
        columns=list(COLUMNS),
    )


def write_reports(reports: Tracks | Iterable[Batch] | pd.DataFrame, path: str | Path) -> Path:
    """Write reports to ``path`` (``.csv`` or ``.parquet``/``.pq``), atomically: to a
    temporary file in the same folder, renamed into place once complete.

    CSV times are ISO-8601 UTC with microseconds (``2026-11-27T12:00:00.000000Z``).
    """
    path = Path(path)
    kind = OUTPUT_FORMATS.get(path.suffix.lower())
    if kind is None:
        raise SimulateError(
            f"{path}: {path.suffix or 'no extension'!r} is not a valid output type, must be one "
            f"of {', '.join(OUTPUT_FORMATS)}"
        )
    table = reports if isinstance(reports, pd.DataFrame) else reports_table(reports)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise SimulateError(f"{path}: the folder {str(folder)!r} does not exist")
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    os.close(handle)
    try:
        if kind == "CSV":
            text = table.assign(time=table["time"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
            text.to_csv(temporary, index=False, float_format="%.10g")
        else:
            table.to_parquet(temporary, index=False)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
