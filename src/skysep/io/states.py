"""Tables of aircraft states (CSV, Parquet, data frames) to engine :class:`States`.

Columns, one row per aircraft:

=============  ==========================================  =========
column         meaning                                     required
=============  ==========================================  =========
aircraft       unique identifier                           yes
party          party the aircraft belongs to               no
lat, lon       WGS84 latitude and longitude, degrees       yes
alt_ft|alt_m   altitude                                    one of
gs_kt|gs_mps   ground speed                                one of
track_deg      true track, degrees clockwise from north    yes
vs_fpm|vs_mps  vertical rate, positive up                  one of
=============  ==========================================  =========

Other columns are ignored. Every bad cell is reported with its file, line
(or row) and column and the value found; nothing is dropped silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from skysep import units
from skysep.engine import States
from skysep.engine._types import STATE_RANGES
from skysep.errors import StatesError

if TYPE_CHECKING:
    import pandas as pd

# pandas (0.7 s to import) is imported by the functions that use it: the command line
# imports this module for ``skysep detect``, and ``skysep replay`` should not wait for it.

#: How many problems an error lists before it only counts the rest.
MAX_PROBLEMS_LISTED: Final = 20


@dataclass(frozen=True)
class Field:
    """One engine field and the columns (with their factor to SI) that may give it."""

    name: str
    columns: tuple[tuple[str, float], ...]


FIELDS: Final[tuple[Field, ...]] = (
    Field("lat_deg", (("lat", 1.0),)),
    Field("lon_deg", (("lon", 1.0),)),
    Field("alt_m", (("alt_ft", units.M_PER_FT), ("alt_m", 1.0))),
    Field("gs_mps", (("gs_kt", units.MPS_PER_KT), ("gs_mps", 1.0))),
    Field("track_deg", (("track_deg", 1.0),)),
    Field("vs_mps", (("vs_fpm", units.MPS_PER_FPM), ("vs_mps", 1.0))),
)

FORMATS: Final[dict[str, str]] = {
    ".csv": "CSV",
    ".parquet": "Parquet",
    ".pq": "Parquet",
}


class _Problems:
    def __init__(self) -> None:
        self.listed: list[str] = []
        self.total = 0

    def add(self, message: str) -> None:
        self.total += 1
        if len(self.listed) < MAX_PROBLEMS_LISTED:
            self.listed.append(message)


def read_states(path: str | Path) -> States:
    """Read a CSV or Parquet file of aircraft states.

    Raises :class:`StatesError` naming the file, line and column of each bad
    cell.
    """
    path = Path(path)
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise StatesError(
            str(path),
            [f"unknown file type {path.suffix!r}; valid types: " + ", ".join(sorted(FORMATS))],
        )
    if not path.is_file():
        raise StatesError(str(path), ["no such file"])
    import pandas as pd

    if kind == "CSV":
        try:
            frame = pd.read_csv(
                path,
                dtype=str,
                keep_default_na=False,
                na_filter=False,
                skip_blank_lines=False,
                skipinitialspace=True,
            )
        except pd.errors.EmptyDataError:
            raise StatesError(str(path), ["the file is empty (no header line)"]) from None
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise StatesError(str(path), [f"not a valid CSV file: {exc}"]) from None
        # The header is line 1, so row r of the frame is line r + 2.
        return states_from_frame(frame, source=str(path), first_line=2)
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several unrelated types
        raise StatesError(str(path), [f"not a valid Parquet file: {exc}"]) from None
    return states_from_frame(frame, source=str(path))


def states_from_frame(
    frame: pd.DataFrame | Mapping[str, Any],
    *,
    source: str = "table",
    first_line: int | None = None,
) -> States:
    """Validate a table of aircraft states (a data frame or a mapping of columns).

    ``first_line``: the file line of the first row (CSV), so that errors say
    ``line N``; without it they say ``row N`` (1-based).
    """
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        try:
            frame = pd.DataFrame(dict(frame))
        except (TypeError, ValueError) as exc:
            raise StatesError(source, [f"not a table of columns: {exc}"]) from None
    columns = [str(c) for c in frame.columns]
    problems = _Problems()

    def where(row: int) -> str:
        if first_line is not None:
            return f"line {row + first_line}"
        return f"row {row + 1}"

    chosen: dict[str, tuple[str, float]] = {}
    if "aircraft" not in columns:
        problems.add(_missing_column("aircraft", columns))
    for fld in FIELDS:
        present = [(c, f) for c, f in fld.columns if c in columns]
        if not present:
            problems.add(_missing_column(" or ".join(c for c, _ in fld.columns), columns))
        elif len(present) > 1:
            problems.add(
                f"columns {' and '.join(repr(c) for c, _ in present)} both give "
                f"{fld.name.removesuffix('_m').removesuffix('_mps')}: keep one"
            )
        else:
            chosen[fld.name] = present[0]
    if problems.total:
        raise StatesError(source, problems.listed, problems.total)

    n = len(frame)
    aircraft = _identifiers(frame["aircraft"], "aircraft", where, problems, required=True)
    party = None
    if "party" in columns:
        party = _identifiers(frame["party"], "party", where, problems, required=False)
    values: dict[str, np.ndarray] = {}
    ranges = {name: (low, high) for name, low, high in STATE_RANGES}
    for fld in FIELDS:
        column, factor = chosen[fld.name]
        raw = frame[column]
        numbers = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        si = numbers * factor
        low, high = ranges[fld.name]
        bad = ~((si >= low) & (si <= high))
        for row in np.flatnonzero(bad).tolist():
            text = raw.iloc[row]
            if _is_blank(text):
                problems.add(f"{where(row)}, column {column!r}: missing value")
            elif np.isnan(numbers[row]):
                problems.add(f"{where(row)}, column {column!r}: {text!r} is not a number")
            else:
                problems.add(
                    f"{where(row)}, column {column!r}: {text!r} is out of range "
                    f"[{_fmt(low / factor)}, {_fmt(high / factor)}]"
                )
        values[fld.name] = np.ascontiguousarray(si)
    _duplicates(aircraft, where, problems)
    if problems.total:
        raise StatesError(source, problems.listed, problems.total)
    assert len(aircraft) == n
    return States(aircraft=aircraft, party=party, **values)


def _is_blank(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip() == ""
    import pandas as pd

    return bool(pd.isna(value)) if np.ndim(value) == 0 else False


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def _missing_column(name: str, columns: list[str]) -> str:
    return f"missing column {name!r}; columns found: {', '.join(repr(c) for c in columns)}"


def _identifiers(
    raw: pd.Series[Any],
    column: str,
    where: Any,
    problems: _Problems,
    *,
    required: bool,
) -> np.ndarray:
    out = np.empty(len(raw), dtype=object)
    for row, value in enumerate(raw.tolist()):
        if _is_blank(value):
            if required:
                problems.add(f"{where(row)}, column {column!r}: missing value")
            out[row] = None
        else:
            out[row] = str(value).strip()
    return out


def _duplicates(aircraft: np.ndarray, where: Any, problems: _Problems) -> None:
    first: dict[str, int] = {}
    for row, ident in enumerate(aircraft.tolist()):
        if ident is None:
            continue
        if ident in first:
            problems.add(
                f"{where(row)}, column 'aircraft': {ident!r} already given at "
                f"{where(first[ident])}; a snapshot has one row per aircraft"
            )
        else:
            first[ident] = row
