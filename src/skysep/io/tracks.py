"""Recorded traffic for ``skysep replay``: position reports from files to :class:`Tracks`.

Formats (see ``docs/tracks.md``), recognised by extension and, where one
extension can hold two formats, by content:

* tables (CSV ``.csv``, Parquet ``.parquet``/``.pq``, JSON lines
  ``.jsonl``/``.ndjson``/``.json``), one row per position report, in one of
  three column layouts (:data:`LAYOUTS`): SkySep's own (``time``,
  ``aircraft``, ``lat``, ``lon``, ``alt_ft|alt_m``, ...), the ``traffic``
  library's (``timestamp``, ``icao24``, ``latitude``, ...; ft, kt, ft/min) and
  OpenSky's state vectors (``time``, ``icao24``, ``lat``, ``baroaltitude``,
  ...; SI);
* SBS-1 / BaseStation text (``MSG,3,...`` lines; ``.sbs``, ``.basestation``,
  ``.txt``, ``.log``, or a ``.csv`` whose first line is an SBS message):
  airborne positions merged with the latest velocity message of the same
  aircraft;
* readsb / dump1090 ``aircraft.json`` snapshots (``.json``: one snapshot per
  file, or one per line), and directories of such files.

Units are converted at this edge through :mod:`skysep.units`; ICAO 24-bit
addresses are lowercased. Every bad cell is named with its file, line (or
row) and column and the value found. Rows that carry no position by design
(OpenSky state vectors without position, snapshot aircraft not located, SBS
messages other than airborne positions) are dropped and counted, not
reported as errors.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, cast

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from skysep import units
from skysep.engine._types import STATE_RANGES
from skysep.errors import TracksError
from skysep.io.states import MAX_PROBLEMS_LISTED
from skysep.replay._types import F64, Obj, TrackRead, Tracks

Bool = npt.NDArray[np.bool_]
Where = Callable[[int], str]


class _Pandas:
    """pandas, imported on first use.

    Importing pandas takes 0.7 s (a third of ``skysep replay`` on a small file).
    Parquet files with plain column types are read with pyarrow alone (see
    :func:`_read_parquet`); CSV, JSON, SBS, data frames and files with bad
    cells go through pandas.
    """

    def __getattr__(self, name: str) -> Any:
        import pandas

        return getattr(pandas, name)


if TYPE_CHECKING:
    import pandas as pd
else:
    pd = _Pandas()

__all__ = [
    "FORMATS",
    "LAYOUTS",
    "MAX_PROBLEMS_LISTED",
    "NA_TEXT",
    "RANGES",
    "SBS_VELOCITY_MAX_AGE_S",
    "SNAPSHOT_REPEAT_S",
    "TIME_RANGE_S",
    "Field",
    "Layout",
    "TrackReadDetails",
    "TracksError",
    "read_tracks",
    "tracks_from_frame",
]


#: Kept for callers of the first version: the fields are on TrackRead itself.
TrackReadDetails = TrackRead


# --- what is accepted ---------------------------------------------------------------------------

#: File extensions and the reader each selects (content decides between
#: SBS and a CSV table, and between snapshots and JSON-lines rows).
FORMATS: Final[dict[str, str]] = {
    ".csv": "CSV",
    ".parquet": "Parquet",
    ".pq": "Parquet",
    ".jsonl": "JSON",
    ".ndjson": "JSON",
    ".json": "JSON",
    ".sbs": "SBS",
    ".basestation": "SBS",
    ".txt": "SBS",
    ".log": "SBS",
}

#: Cell texts that mean "no value" in numeric and time columns (after
#: stripping blanks). Identifier columns take only the empty cell as missing.
NA_TEXT: Final = frozenset({"", "nan", "NaN", "NA", "N/A", "null", "NULL", "None"})

_STATE: Final = {name: (low, high) for name, low, high in STATE_RANGES}

#: Plausible range of each field, SI. Altitude: from 1,500 ft below sea level
#: (below the shore of the Dead Sea, the lowest land, and below the lowest
#: altitude a transponder encodes, -1,200 ft) to 130,000 ft (above the
#: highest one it encodes, 126,700 ft); the other ranges are the engine's.
RANGES: Final[dict[str, tuple[float, float]]] = {
    "lat_deg": _STATE["lat_deg"],
    "lon_deg": _STATE["lon_deg"],
    "alt_m": (units.ft_to_m(-1_500.0), units.ft_to_m(130_000.0)),
    "gs_mps": _STATE["gs_mps"],
    "track_deg": _STATE["track_deg"],
    "vs_mps": _STATE["vs_mps"],
}

#: Times accepted, seconds since 1970-01-01T00:00:00Z: until 2100-01-01T00:00:00Z.
TIME_RANGE_S: Final = (0.0, 4_102_444_800.0)
_TIME_RANGE_TEXT: Final = "[1970-01-01T00:00:00Z, 2100-01-01T00:00:00Z]"

#: SBS: a position takes the latest velocity message of its aircraft at most
#: this old (ADS-B broadcasts velocity twice a second).
SBS_VELOCITY_MAX_AGE_S: Final = 5.0

#: Snapshots: two entries of one aircraft at the same latitude and longitude
#: whose times differ by at most this much are one position listed twice
#: (``now`` and ``seen_pos`` are rounded to 0.1 s; ADS-B positions come
#: every 0.5 s).
SNAPSHOT_REPEAT_S: Final = 0.3

_FIELDS: Final = ("lat_deg", "lon_deg", "alt_m", "gs_mps", "track_deg", "vs_mps")
_POSITION: Final = ("lat_deg", "lon_deg", "alt_m")


@dataclass(frozen=True)
class Field:
    """One :class:`Tracks` field and the columns (with their factor to SI) that may give it."""

    name: str
    columns: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class Layout:
    """A set of column names for a table of position reports."""

    name: str
    #: The time column: ISO-8601 text, epoch seconds, or a datetime column.
    time: str
    #: Identifier columns in order of precedence: a row takes the first one
    #: that is not empty.
    ids: tuple[str, ...]
    #: Identifier columns holding ICAO 24-bit addresses (lowercased).
    icao_ids: tuple[str, ...]
    #: lat_deg, lon_deg, alt_m, gs_mps, track_deg, vs_mps in that order.
    fields: tuple[Field, ...]
    #: Rows without latitude, longitude or altitude are dropped and counted
    #: (True), or are errors (False).
    drops_rows_without_position: bool


SKYSEP: Final = Layout(
    name="SkySep",
    time="time",
    ids=("aircraft",),
    icao_ids=(),
    fields=(
        Field("lat_deg", (("lat", 1.0),)),
        Field("lon_deg", (("lon", 1.0),)),
        Field("alt_m", (("alt_ft", units.M_PER_FT), ("alt_m", 1.0))),
        Field("gs_mps", (("gs_kt", units.MPS_PER_KT), ("gs_mps", 1.0))),
        Field("track_deg", (("track_deg", 1.0),)),
        Field("vs_mps", (("vs_fpm", units.MPS_PER_FPM), ("vs_mps", 1.0))),
    ),
    drops_rows_without_position=False,
)
TRAFFIC: Final = Layout(
    name="traffic",
    time="timestamp",
    ids=("flight_id", "icao24"),
    icao_ids=("icao24",),
    fields=(
        Field("lat_deg", (("latitude", 1.0),)),
        Field("lon_deg", (("longitude", 1.0),)),
        Field("alt_m", (("altitude", units.M_PER_FT),)),
        Field("gs_mps", (("groundspeed", units.MPS_PER_KT),)),
        Field("track_deg", (("track", 1.0),)),
        Field("vs_mps", (("vertical_rate", units.MPS_PER_FPM),)),
    ),
    drops_rows_without_position=True,
)
OPENSKY: Final = Layout(
    name="OpenSky state vectors",
    time="time",
    ids=("icao24",),
    icao_ids=("icao24",),
    fields=(
        Field("lat_deg", (("lat", 1.0),)),
        Field("lon_deg", (("lon", 1.0),)),
        Field("alt_m", (("baroaltitude", 1.0),)),
        Field("gs_mps", (("velocity", 1.0),)),
        Field("track_deg", (("heading", 1.0),)),
        Field("vs_mps", (("vertrate", 1.0),)),
    ),
    drops_rows_without_position=True,
)

#: The table layouts, in the order they are tried (see :func:`_choose_layout`).
LAYOUTS: Final = (SKYSEP, TRAFFIC, OPENSKY)


# --- public API ---------------------------------------------------------------------------------


def read_tracks(
    paths: Sequence[str | Path] | str | Path, *, skip_bad_rows: bool = False
) -> TrackReadDetails:
    """Read recorded position reports from files (and directories of them).

    Every file is read whole and the reports concatenated, in file order.
    A bad row stops the read with :class:`TracksError` naming the file, the
    line (or row) and the column of each bad cell; with ``skip_bad_rows`` it
    is counted (``rows_rejected``, ``rejected_examples``) instead. Problems
    with a whole file (unknown type, missing column, not parseable) always
    raise.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    reads: list[_Read] = []
    files: list[str] = []
    for path, kind, in_directory in _expand(paths):
        read = _read_file(path, kind, skip_bad_rows, in_directory=in_directory)
        if read is not None:
            reads.append(read)
            files.append(str(path))
    return _combine(reads, files=tuple(files))


def tracks_from_frame(
    frame: pd.DataFrame | Mapping[str, Any] | Any,
    *,
    source: str = "table",
    first_line: int | None = None,
    skip_bad_rows: bool = False,
) -> TrackReadDetails:
    """Validate a table of position reports (a data frame, a mapping of columns,
    or an object with a ``.data`` data frame such as a ``traffic`` Traffic or Flight).

    ``first_line``: the file line of the first row, so that errors say
    ``line N``; without it they say ``row N`` (1-based).
    """
    data = getattr(frame, "data", None)
    if not isinstance(frame, pd.DataFrame) and isinstance(data, pd.DataFrame):
        frame = data
    if not isinstance(frame, pd.DataFrame):
        try:
            frame = pd.DataFrame(dict(frame))
        except (TypeError, ValueError) as exc:
            raise TracksError(source, [f"not a table of columns: {exc}"]) from None
    columns = [str(c) for c in frame.columns]
    if list(frame.columns) != columns:
        frame = frame.set_axis(columns, axis=1)
    plan = _plan(columns, source)
    read = _table(frame, plan, source, _where_lines(first_line), skip_bad_rows)
    return _combine([read], files=())


# --- files --------------------------------------------------------------------------------------


def _valid_types() -> str:
    return ", ".join(sorted(FORMATS))


def _expand(paths: Sequence[str | Path]) -> list[tuple[Path, str, bool]]:
    """(file, kind, found in a directory) for each file to read."""
    if not paths:
        raise TracksError("tracks", ["no files given"])
    out: list[tuple[Path, str, bool]] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            inside = sorted(p for p in path.iterdir() if p.is_file() and _kind(p) is not None)
            if not inside:
                raise TracksError(
                    str(path), [f"no track files in this directory; valid types: {_valid_types()}"]
                )
            out.extend((p, str(_kind(p)), True) for p in inside)
            continue
        kind = _kind(path)
        if kind is None:
            raise TracksError(
                str(path), [f"unknown file type {path.suffix!r}; valid types: {_valid_types()}"]
            )
        if not path.is_file():
            raise TracksError(str(path), ["no such file or directory"])
        out.append((path, kind, False))
    return out


def _kind(path: Path) -> str | None:
    return FORMATS.get(path.suffix.lower())


def _read_file(path: Path, kind: str, skip_bad_rows: bool, *, in_directory: bool) -> _Read | None:
    """One file's reports; ``None`` for a JSON side file found in a directory (not read)."""
    source = str(path)
    if kind == "Parquet":
        return _read_parquet(path, skip_bad_rows)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TracksError(source, [f"cannot read the file: {exc.strerror}"]) from None
    if not data or data.isspace():
        raise TracksError(source, ["the file is empty"])
    first = _first_line(data)
    if kind == "SBS" or (kind == "CSV" and _looks_like_sbs(first)):
        if not _looks_like_sbs(first):
            raise TracksError(
                source,
                [
                    f"line 1: {_short(first)!r} is not an SBS-1 (BaseStation) message; "
                    f"expected a line starting with {', '.join(SBS_KINDS)}"
                ],
            )
        return _read_sbs(data, source, skip_bad_rows)
    if kind == "CSV":
        return _read_csv(data, source, skip_bad_rows)
    return _read_json(data, source, skip_bad_rows, in_directory=in_directory)


def _first_line(data: bytes) -> str:
    """The first line that is not blank (without copying the file)."""
    start = 0
    while True:
        end = data.find(b"\n", start)
        line = data[start : end if end >= 0 else len(data)]
        if line.strip() or end < 0:
            return line.decode("utf-8", errors="replace").strip().lstrip("\ufeff")
        start = end + 1


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


def _where_lines(first_line: int | None) -> Where:
    if first_line is None:
        return lambda row: f"row {row + 1}"
    return lambda row: f"line {row + first_line}"


# --- CSV ----------------------------------------------------------------------------------------


def _read_csv(data: bytes, source: str, skip_bad_rows: bool) -> _Read:
    try:
        header = pd.read_csv(io.BytesIO(data), nrows=0, encoding="utf-8-sig", skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise TracksError(source, ["the file is empty (no header line)"]) from None
    except UnicodeDecodeError:
        raise TracksError(source, [_not_utf8(data)]) from None
    except pd.errors.ParserError as exc:
        raise TracksError(source, [f"not a valid CSV file: {exc}"]) from None
    columns = [str(c) for c in header.columns]
    plan = _plan(columns, source)
    _check_field_counts(data, len(columns), source)
    needed = plan.columns()
    numeric = [column for column, _ in plan.fields.values() if column]
    where = _where_lines(2)  # the header is line 1
    common: dict[str, Any] = {
        "usecols": needed,
        "skip_blank_lines": False,
        "skipinitialspace": True,
        "encoding": "utf-8-sig",
        "keep_default_na": False,
    }
    # Fast path: numeric columns parsed by the C reader. Any problem, and the
    # file is read again as text, so that messages quote the cells as written.
    try:
        typed = pd.read_csv(
            io.BytesIO(data),
            dtype={c: ("float64" if c in numeric else str) for c in needed},
            na_values={c: sorted(NA_TEXT) for c in numeric},
            **common,
        )
    except (ValueError, UnicodeDecodeError):
        typed = None
    if typed is not None:
        checked = _check_table(typed, plan, where)
        if not checked.problems.total:
            return _conclude(checked, source, skip_bad_rows)
    try:
        text = pd.read_csv(io.BytesIO(data), dtype=str, na_filter=False, **common)
    except UnicodeDecodeError:
        raise TracksError(source, [_not_utf8(data)]) from None
    except pd.errors.ParserError as exc:
        raise TracksError(source, [f"not a valid CSV file: {exc}"]) from None
    return _conclude(_check_table(text, plan, where), source, skip_bad_rows)


def _not_utf8(data: bytes) -> str:
    """Where a file stops being UTF-8 text."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return f"line {line}: not UTF-8 text (byte {data[exc.start]:#04x}); save the file as UTF-8"
    return "not UTF-8 text; save the file as UTF-8"


def _check_field_counts(data: bytes, n_columns: int, source: str) -> None:
    """Refuse rows with more or fewer fields than the header (files without quotes)."""
    if b'"' in data:
        return  # quoted fields may hold commas and newlines: pandas' own checks apply
    starts, ends = _line_bounds(data)
    raw = np.frombuffer(data, dtype=np.uint8)
    per_line = _commas_per_line(raw, ends)
    bad = np.flatnonzero(per_line[1:] + 1 != n_columns)
    if bad.size:
        problems = [
            f"line {row + 2}: {per_line[row + 1] + 1} field(s), the header has {n_columns}"
            + (" (a blank line)" if ends[row + 1] - starts[row + 1] <= 1 else "")
            for row in bad[:MAX_PROBLEMS_LISTED].tolist()
        ]
        raise TracksError(source, problems, int(bad.size))


def _commas_per_line(
    raw: npt.NDArray[np.uint8], ends: npt.NDArray[np.intp]
) -> npt.NDArray[np.intp]:
    commas = np.flatnonzero(raw == ord(","))
    before_end = np.searchsorted(commas, ends)
    return np.diff(before_end, prepend=0).astype(np.intp)


def _line_bounds(data: bytes) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Start and end (index of its newline, or len(data)) of each line."""
    raw = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(raw == ord("\n"))
    ends = newlines if data.endswith(b"\n") else np.append(newlines, len(data))
    starts = np.concatenate(([0], ends[:-1] + 1)) if ends.size else np.zeros(0, np.intp)
    return starts.astype(np.intp), ends.astype(np.intp)


# --- Parquet ------------------------------------------------------------------------------------


def _read_parquet(path: Path, skip_bad_rows: bool) -> _Read:
    import pyarrow.parquet as pq

    source = str(path)
    try:
        schema = pq.read_schema(path)
    except Exception as exc:  # pyarrow raises several unrelated types
        raise TracksError(source, [f"not a valid Parquet file: {exc}"]) from None
    columns = [str(c) for c in schema.names if not str(c).startswith("__index_level_")]
    plan = _plan(columns, source)
    if all(_plain_arrow(schema.field(c).type, c, plan) for c in plan.columns()):
        # pyarrow alone (no pandas): the columns' types are plain, and a file without a
        # bad cell gives the same reports as the general path below.
        try:
            # ParquetFile, not read_table: pyarrow's datasets, which read_table uses, import pandas.
            table = pq.ParquetFile(path).read(columns=plan.columns())
        except Exception as exc:
            raise TracksError(source, [f"not a valid Parquet file: {exc}"]) from None
        checked = _check_table(table, plan, _where_lines(None))
        if not checked.problems.total:
            return _conclude(checked, source, skip_bad_rows)
    # Through pandas, which names each bad cell as the other table formats do.
    try:
        frame = pd.read_parquet(path, columns=plan.columns())
    except Exception as exc:
        raise TracksError(source, [f"not a valid Parquet file: {exc}"]) from None
    return _table(frame, plan, source, _where_lines(None), skip_bad_rows)


def _plain_arrow(kind: pa.DataType, column: str, plan: _Plan) -> bool:
    """Whether :func:`_check_table` reads this Arrow column without pandas.

    Numbers: integers and floats; times: timestamps, integers and floats;
    identifiers and party: strings (plain or dictionary-encoded).
    """
    if column in plan.ids or column == plan.party:
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
        return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))
    number = bool(pa.types.is_integer(kind) or pa.types.is_floating(kind))
    if column == plan.layout.time:
        return number or bool(pa.types.is_timestamp(kind))
    return number


# --- tables: layouts, cells and rows ------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    """The layout of a table and the columns chosen for each field."""

    layout: Layout
    ids: tuple[str, ...]
    party: str | None
    #: Field name -> (column, factor to SI), ("", nan) when the column is absent.
    fields: dict[str, tuple[str, float]]

    def columns(self) -> list[str]:
        chosen = [c for c, _ in self.fields.values() if c]
        return [self.layout.time, *self.ids, *([self.party] if self.party else []), *chosen]


def _choose_layout(columns: Sequence[str]) -> Layout:
    present = set(columns)
    if "aircraft" in present:
        return SKYSEP
    if "latitude" in present or "longitude" in present:
        return TRAFFIC
    if "icao24" in present and "baroaltitude" in present:
        return OPENSKY
    if "icao24" in present or "flight_id" in present:
        return TRAFFIC
    return SKYSEP


def _plan(columns: Sequence[str], source: str) -> _Plan:
    layout = _choose_layout(columns)
    present = set(columns)
    problems: list[str] = []
    found = ", ".join(repr(c) for c in columns) or "none"

    def missing(name: str) -> None:
        hint = ""
        if layout is SKYSEP and name == "aircraft":
            hint = (
                "; traffic and OpenSky files are recognised by 'icao24' with 'latitude' "
                "or with 'baroaltitude'"
            )
        problems.append(
            f"missing column {name!r} ({layout.name} layout){hint}; columns found: {found}"
        )

    if layout.time not in present:
        missing(layout.time)
    ids = tuple(c for c in layout.ids if c in present)
    if not ids:
        missing(" or ".join(layout.ids))
    fields: dict[str, tuple[str, float]] = {}
    for fld in layout.fields:
        given = [(c, f) for c, f in fld.columns if c in present]
        if len(given) > 1:
            problems.append(
                f"columns {' and '.join(repr(c) for c, _ in given)} both give "
                f"{fld.name.removesuffix('_m').removesuffix('_mps')}: keep one"
            )
        elif given:
            fields[fld.name] = given[0]
        elif fld.name in _POSITION:
            missing(" or ".join(c for c, _ in fld.columns))
        else:
            fields[fld.name] = ("", float("nan"))
    if problems:
        raise TracksError(source, problems)
    return _Plan(layout, ids, "party" if "party" in present else None, fields)


class _Problems:
    """The bad cells of one source, counted all and listed first by row."""

    def __init__(self, n_rows: int, where: Where) -> None:
        self.where = where
        self.bad = np.zeros(n_rows, dtype=bool)
        self.total = 0
        self._cells: list[tuple[npt.NDArray[np.intp], str, Callable[[int], str]]] = []

    def cells(self, mask: Bool, label: str, message: Callable[[int], str]) -> None:
        """Bad cells (``label``: the column, or "" for the whole line)."""
        rows = np.flatnonzero(mask)
        if rows.size:
            self.total += int(rows.size)
            self.bad[rows] = True
            self._cells.append((rows[:MAX_PROBLEMS_LISTED], label, message))

    def listed(self) -> list[str]:
        first = sorted((int(r), k) for k, (rows, _, _) in enumerate(self._cells) for r in rows)
        out = []
        for row, k in first[:MAX_PROBLEMS_LISTED]:
            _, label, message = self._cells[k]
            out.append(f"{self.where(row)}{', ' + label if label else ''}: {message(row)}")
        return out


@dataclass
class _Checked:
    """A table's columns in SI, which rows to keep, and its problems."""

    rows: int
    aircraft: Obj
    party: Obj | None
    time_s: F64
    values: dict[str, F64]
    has_position: Bool
    problems: _Problems
    snapshots: bool = False


def _table(
    frame: pd.DataFrame, plan: _Plan, source: str, where: Where, skip_bad_rows: bool
) -> _Read:
    return _conclude(_check_table(frame, plan, where), source, skip_bad_rows)


def _check_table(
    frame: pd.DataFrame | pa.Table, plan: _Plan, where: Where, problems: _Problems | None = None
) -> _Checked:
    n = len(frame)
    problems = problems if problems is not None else _Problems(n, where)
    layout = plan.layout
    numbers: dict[str, tuple[F64, Bool]] = {}
    for name, (column, _) in plan.fields.items():
        if column:
            numbers[name] = _numbers(frame[column])
    has_position = np.ones(n, dtype=bool)
    if layout.drops_rows_without_position:
        for name in _POSITION:
            has_position &= ~numbers[name][1]
    # Rows dropped by design, and rows already found bad, are not checked further.
    active = has_position & ~problems.bad
    values: dict[str, F64] = {}
    for name in _FIELDS:
        column, factor = plan.fields[name]
        if not column:
            values[name] = np.full(n, np.nan)
            continue
        raw_values, missing = numbers[name]
        values[name] = _check_range(
            problems,
            frame[column],
            raw_values,
            missing,
            active,
            f"column {column!r}",
            factor,
            RANGES[name],
            required=name in _POSITION,
        )
    aircraft = _check_ids(frame, plan, active, problems)
    time_s = _check_time(problems, frame[layout.time], active, f"column {layout.time!r}")
    party = None
    if plan.party:
        party, _ = _texts(frame[plan.party], lower=False)
    return _Checked(n, aircraft, party, time_s, values, has_position, problems)


def _check_ids(
    frame: pd.DataFrame | pa.Table, plan: _Plan, active: Bool, problems: _Problems
) -> Obj:
    n = len(frame)
    aircraft = np.full(n, None, dtype=object)
    unset = np.ones(n, dtype=bool)
    for column in plan.ids:
        ids, missing = _texts(frame[column], lower=column in plan.layout.icao_ids)
        take = unset & ~missing
        aircraft[take] = ids[take]
        unset &= missing
    label = " and ".join(f"column {c!r}" for c in plan.ids)
    problems.cells(active & unset, label, lambda _row: "missing value")
    return aircraft


def _check_range(
    problems: _Problems,
    raw: pd.Series[Any] | pa.ChunkedArray,
    values: F64,
    missing: Bool,
    active: Bool,
    label: str,
    factor: float,
    bounds: tuple[float, float],
    *,
    required: bool,
) -> F64:
    """The values in SI (NaN where missing); bad cells added to ``problems``."""
    low, high = bounds
    if required:
        problems.cells(active & missing, label, lambda _row: "missing value")
    not_number = active & ~missing & np.isnan(values)
    problems.cells(not_number, label, lambda row: f"{_quote(raw, row)} is not a number")
    si = values * factor
    with np.errstate(invalid="ignore"):
        outside = active & ~np.isnan(values) & ~((si >= low) & (si <= high))
    problems.cells(
        outside,
        label,
        lambda row: (
            f"{_quote(raw, row)} is out of range [{_fmt(low / factor)}, {_fmt(high / factor)}]"
        ),
    )
    return si


def _check_time(
    problems: _Problems, raw: pd.Series[Any] | pa.ChunkedArray, active: Bool, label: str
) -> F64:
    seconds, missing, numeric = _times(raw)
    problems.cells(active & missing, label, lambda _row: "missing value")
    problems.cells(
        active & ~missing & np.isnan(seconds),
        label,
        lambda row: f"{_quote(raw, row)} is not a time (ISO-8601 or epoch seconds)",
    )
    low, high = TIME_RANGE_S
    with np.errstate(invalid="ignore"):
        outside = active & ~np.isnan(seconds) & ~((seconds >= low) & (seconds < high))

    def message(row: int) -> str:
        text = f"{_quote(raw, row)} is out of range {_TIME_RANGE_TEXT}"
        if numeric[row] and low <= seconds[row] / 1000.0 < high:
            text += "; times are epoch seconds, not milliseconds"
        return text

    problems.cells(outside, label, message)
    return seconds


def _conclude(checked: _Checked, source: str, skip_bad_rows: bool) -> _Read:
    problems = checked.problems
    if problems.total and not skip_bad_rows:
        raise TracksError(source, problems.listed(), problems.total)
    keep = checked.has_position & ~problems.bad
    rejected = int(problems.bad.sum())
    without_position = int((~checked.has_position & ~problems.bad).sum())
    tracks = _make(
        checked.aircraft[keep],
        checked.time_s[keep],
        {name: checked.values[name][keep] for name in _FIELDS},
        None if checked.party is None else checked.party[keep],
    )
    return _Read(
        tracks=tracks,
        rows_read=checked.rows,
        rows_rejected=rejected,
        rows_without_position=without_position,
        examples=tuple(f"{source}: {p}" for p in problems.listed()) if rejected else (),
        snapshots=checked.snapshots,
    )


# --- cells --------------------------------------------------------------------------------------


def _is_number_dtype(dtype: Any) -> bool:
    return bool(pd.api.types.is_numeric_dtype(dtype)) and not pd.api.types.is_bool_dtype(dtype)


def _numbers(raw: pd.Series[Any] | pa.ChunkedArray) -> tuple[F64, Bool]:
    """(values, missing): values are NaN where missing or not a number."""
    if isinstance(raw, pa.ChunkedArray):  # integers or floats (see _plain_arrow)
        values = _arrow_floats(raw)
        return values, np.isnan(values)
    if _is_number_dtype(raw.dtype):
        values = raw.to_numpy(dtype=np.float64, na_value=np.nan)
        return values, np.isnan(values)
    text = _text(raw)
    missing = _missing(text)
    values = np.full(len(raw), np.nan)
    given = text.filter(pa.array(~missing))
    try:
        values[~missing] = pc.cast(given, pa.float64()).to_numpy()
    except pa.ArrowInvalid:  # some cell is not a number: find which
        numbers = pd.to_numeric(pd.Series(given.to_numpy(), dtype=object), errors="coerce")
        values[~missing] = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
    return values, missing


def _texts(raw: pd.Series[Any] | pa.ChunkedArray, *, lower: bool) -> tuple[Obj, Bool]:
    """Identifiers as stripped strings, ``None`` (and missing) where empty."""
    if isinstance(raw, pa.ChunkedArray):  # strings (see _plain_arrow)
        return _arrow_texts(raw, lower=lower)
    text = _text(raw)
    if lower:
        text = pc.utf8_lower(text)
    missing = pc.fill_null(pc.equal(text, ""), True).to_numpy(zero_copy_only=False)
    out: Obj = text.to_numpy(zero_copy_only=False).astype(object)
    out[missing] = None
    return out, np.asarray(missing, dtype=bool)


def _text(raw: pd.Series[Any]) -> Any:
    """The cells as an Arrow array of stripped strings, null where missing (NaN, None, NA)."""
    series = raw.astype(pd.StringDtype("pyarrow"))
    return pc.utf8_trim_whitespace(pa.chunked_array(cast(Any, series.array).__arrow_array__()))


def _missing(text: Any) -> Bool:
    listed = pc.is_in(text, value_set=pa.array(sorted(NA_TEXT)))
    missing = pc.fill_null(pc.or_kleene(pc.is_null(text), listed), True)
    return np.asarray(missing.to_numpy(zero_copy_only=False), dtype=bool)


def _times(raw: pd.Series[Any] | pa.ChunkedArray) -> tuple[F64, Bool, Bool]:
    """(seconds since 1970 UTC, missing, given as a number): NaN where missing or unreadable.

    Datetime columns: with a time zone, converted to UTC; naive, taken as UTC.
    Numbers: epoch seconds. Text: a number is epoch seconds, anything else
    ISO-8601 (with ``Z`` or an offset, converted to UTC; naive, taken as UTC).
    """
    n = len(raw)
    if isinstance(raw, pa.ChunkedArray):  # timestamps or numbers (see _plain_arrow)
        if pa.types.is_timestamp(raw.type):
            seconds = _arrow_seconds(raw)
            return seconds, np.isnan(seconds), np.zeros(n, dtype=bool)
        seconds, missing = _numbers(raw)
        return seconds, missing, ~missing
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        seconds = _datetime_seconds(raw)
        return seconds, np.isnan(seconds), np.zeros(n, dtype=bool)
    if _is_number_dtype(raw.dtype):
        seconds = raw.to_numpy(dtype=np.float64, na_value=np.nan)
        missing = np.isnan(seconds)
        return seconds, missing, ~missing
    text = _text(raw)
    missing = _missing(text)
    seconds = np.full(n, np.nan)
    numeric = np.zeros(n, dtype=bool)
    given = text.filter(pa.array(~missing))
    # Fast paths, each for a whole column: all numbers, all ISO-8601 with a zone, all naive.
    try:
        seconds[~missing] = pc.cast(given, pa.float64()).to_numpy()
        numeric[~missing] = True
        return seconds, missing, numeric
    except pa.ArrowInvalid:
        pass
    for target in (pa.timestamp("ns", "UTC"), pa.timestamp("ns")):
        try:
            ticks = pc.cast(pc.cast(given, target), pa.int64()).to_numpy()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        seconds[~missing] = _ticks_to_seconds(ticks, 1_000_000_000)
        return seconds, missing, numeric
    # A mixed or bad column: cell by cell (pandas' ISO-8601 parser, then numbers).
    cells = pd.Series(given.to_numpy(), dtype=object)
    parsed = _datetime_seconds(pd.to_datetime(cells, format="ISO8601", utc=True, errors="coerce"))
    failed = np.isnan(parsed)
    if failed.any():
        as_numbers = pd.to_numeric(cells[failed], errors="coerce")
        values = as_numbers.to_numpy(dtype=np.float64, na_value=np.nan)
        parsed[failed] = values
        rows = np.flatnonzero(~missing)
        numeric[rows[failed]] = ~np.isnan(values)
    seconds[~missing] = parsed
    return seconds, missing, numeric


def _ticks_to_seconds(ticks: npt.NDArray[np.int64], per_second: int) -> F64:
    """Integer ticks since 1970 to float seconds, keeping the fraction exact before rounding."""
    whole = (ticks // per_second).astype(np.float64)
    return whole + (ticks % per_second) / per_second


def _datetime_seconds(raw: pd.Series[Any]) -> F64:
    """Seconds since 1970-01-01T00:00:00Z of a datetime column (naive: UTC), exact to 1 ns."""
    if isinstance(raw.dtype, pd.ArrowDtype):  # traffic's frames: timestamp[ns, tz=UTC][pyarrow]
        return _arrow_seconds(pa.chunked_array(raw.array.__arrow_array__()))
    series = raw
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    stamps = series.to_numpy()
    unit, _ = np.datetime_data(stamps.dtype)
    ticks = stamps.view(np.int64)
    nat = np.isnat(stamps)
    seconds = _ticks_to_seconds(ticks, _PER_SECOND[unit])
    seconds[nat] = np.nan
    return seconds


_PER_SECOND: Final = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


def _arrow_seconds(chunked: pa.ChunkedArray) -> F64:
    """Seconds since 1970-01-01T00:00:00Z of an Arrow timestamp column, exact to 1 ns."""
    unit = chunked.type.unit  # Arrow keeps UTC ticks, with or without a zone
    ticks = chunked.cast(pa.int64()).combine_chunks()
    seconds = _ticks_to_seconds(_arrow_values(ticks, np.int64), _PER_SECOND[unit])
    seconds[~_arrow_valid(ticks)] = np.nan
    return seconds


# --- Arrow columns to NumPy without pandas ------------------------------------------------------
# pyarrow imports pandas when it converts to or from Python or NumPy objects (to_numpy,
# scalars, pa.array), so the Parquet path reads the columns' buffers instead.


def _arrow_valid(array: pa.Array) -> Bool:
    """Where a (non-chunked) Arrow array holds a value, from its validity bitmap."""
    n = len(array)
    validity = array.buffers()[0]
    if validity is None or array.null_count == 0:
        return np.ones(n, dtype=bool)
    bits = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")
    valid: Bool = bits[array.offset : array.offset + n].astype(bool)
    return valid


def _arrow_values(array: pa.Array, dtype: type[np.generic]) -> Any:
    """The values of a fixed-width Arrow array (whatever sits under its nulls), copied."""
    n = len(array)
    data = array.buffers()[1]
    if n == 0 or data is None:
        return np.zeros(n, dtype=dtype)
    return np.frombuffer(data, dtype=dtype, count=array.offset + n)[array.offset :].copy()


def _arrow_floats(chunked: pa.ChunkedArray) -> F64:
    """An integer or float column as float64, NaN where null."""
    array = chunked.cast(pa.float64()).combine_chunks()
    values: F64 = _arrow_values(array, np.float64)
    values[~_arrow_valid(array)] = np.nan
    return values


def _arrow_texts(chunked: pa.ChunkedArray, *, lower: bool) -> tuple[Obj, Bool]:
    """A string column as :func:`_texts` gives it: stripped, ``None`` where null or empty."""
    if pa.types.is_dictionary(chunked.type):
        chunked = chunked.cast(chunked.type.value_type)
    text = pc.utf8_trim_whitespace(chunked)
    if lower:
        text = pc.utf8_lower(text)
    encoded = text.combine_chunks().dictionary_encode()
    words = [*encoded.dictionary.to_pylist(), None]  # the distinct texts, then null's
    codes = _arrow_values(encoded.indices, np.int32).astype(np.intp)
    codes[~_arrow_valid(encoded.indices)] = len(words) - 1
    empty = np.array([word is None or word == "" for word in words], dtype=bool)
    missing: Bool = empty[codes]
    out: Obj = np.array(words, dtype=object)[codes]
    out[missing] = None
    return out, missing


def _quote(raw: pd.Series[Any], row: int) -> str:
    value = raw.iloc[row]
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, float | np.floating):
        return _fmt_number(float(value))
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return str(int(value))
    return repr(str(value))


def _fmt_number(value: float) -> str:
    text = repr(value)
    return text.removesuffix(".0")


def _fmt(value: float) -> str:
    return f"{value:.6g}"


# --- JSON: rows (JSON lines) or aircraft.json snapshots -----------------------------------------


def _is_snapshot(obj: Any) -> bool:
    return isinstance(obj, dict) and isinstance(obj.get("aircraft"), list) and "now" in obj


def _read_json(
    data: bytes, source: str, skip_bad_rows: bool, *, in_directory: bool
) -> _Read | None:
    every = data.split(b"\n")
    numbers = [k + 1 for k, line in enumerate(every) if line.strip()]
    lines = [every[k - 1] for k in numbers]
    try:
        first: Any = json.loads(lines[0])
    except ValueError:
        first = None
    if _is_snapshot(first):
        return _read_snapshots(lines, numbers, source, skip_bad_rows)
    if not isinstance(first, dict):
        try:
            whole: Any = json.loads(data)
        except ValueError:
            whole = None
        if _is_snapshot(whole):
            return _read_snapshots([data], None, source, skip_bad_rows)
        if isinstance(whole, list):
            raise TracksError(
                source,
                [
                    "a JSON array is not read: write JSON lines (one object per line, e.g. "
                    "pandas' to_json(orient='records', lines=True)) or aircraft.json snapshots"
                ],
            )
        if isinstance(whole, dict) and in_directory and not _holds_reports(whole):
            return None  # readsb's receiver.json, stats.json next to its snapshots
        if isinstance(whole, dict):
            raise TracksError(
                source,
                [
                    "a JSON object that is not an aircraft.json snapshot (no 'now' and "
                    "'aircraft' list): write JSON lines, one report per line"
                ],
            )
    if in_directory and len(lines) == 1 and not _holds_reports(first):
        return None  # a one-line receiver.json or stats.json
    return _read_json_rows(data, lines, numbers, first, source, skip_bad_rows)


def _holds_reports(obj: Any) -> bool:
    ids = ("aircraft", "icao24", "flight_id", "hex")
    return isinstance(obj, dict) and any(key in obj for key in ids)


def _read_json_rows(
    data: bytes,
    lines: list[bytes],
    numbers: list[int],
    first: Any,
    source: str,
    skip_bad_rows: bool,
) -> _Read:
    where: Where = lambda row: f"line {numbers[row]}"  # noqa: E731
    frame = _json_rows_arrow(data, first, len(lines))
    problems = _Problems(len(lines), where)
    if frame is None:
        # Exact path: one line at a time, every unreadable line named.
        records: list[dict[str, Any]] = []
        bad: dict[int, str] = {}
        for row, line in enumerate(lines):
            try:
                obj = json.loads(line)
            except ValueError as exc:
                bad[row] = f"not valid JSON: {exc}"
                obj = {}
            if not isinstance(obj, dict):
                bad[row] = f"not a JSON object but {type(obj).__name__} {_short(str(obj))!r}"
                obj = {}
            records.append(obj)
        frame = pd.DataFrame(records, index=pd.RangeIndex(len(records)))
        mask = np.zeros(len(lines), dtype=bool)
        mask[list(bad)] = True
        problems.cells(mask, "", lambda row: bad[row])
    columns = [str(c) for c in frame.columns]
    frame.columns = pd.Index(columns)
    plan = _plan(columns, source)
    return _conclude(_check_table(frame, plan, where, problems), source, skip_bad_rows)


def _json_rows_arrow(data: bytes, first: Any, n_lines: int) -> pd.DataFrame | None:
    """Fast path for JSON lines of consistent types; ``None`` when the file needs the exact path."""
    if not isinstance(first, dict):
        return None
    import pyarrow.json as pj

    # Times stay text (Arrow would guess timestamps itself) unless they are numbers.
    types = []
    for key in ("time", "timestamp", "aircraft", "icao24", "flight_id", "party"):
        if key not in first:
            continue
        value = first[key]
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if key in ("time", "timestamp"):
            types.append((key, pa.float64() if number else pa.string()))
        elif isinstance(value, str):
            types.append((key, pa.string()))
    options = pj.ParseOptions(explicit_schema=pa.schema(types), unexpected_field_behavior="infer")
    try:
        table = pj.read_json(io.BytesIO(data), parse_options=options)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None
    if table.num_rows != n_lines:
        return None
    frame: pd.DataFrame = table.to_pandas()
    return frame


def _read_snapshots(
    snapshots: list[bytes], numbers: list[int] | None, source: str, skip_bad_rows: bool
) -> _Read:
    """readsb / dump1090 aircraft.json: one report per aircraft with a position."""
    records: list[Any] = []
    owner: list[int] = []
    nows: list[Any] = []
    unreadable: dict[int, str] = {}
    for k, text in enumerate(snapshots):
        try:
            obj = json.loads(text)
        except ValueError as exc:
            obj, unreadable[k] = None, f"not valid JSON: {exc}"
        if obj is not None and not _is_snapshot(obj):
            unreadable[k] = "not an aircraft.json snapshot (no 'now' and 'aircraft' list)"
        if k in unreadable:
            records.append({})  # one row stands for the unreadable line
            owner.append(k)
            nows.append(None)
            continue
        aircraft = obj["aircraft"]
        records.extend(aircraft)
        owner.extend([k] * len(aircraft))
        nows.append(obj["now"])
    which = np.asarray(owner, dtype=np.intp)
    index_in = np.arange(len(which)) - np.searchsorted(which, which)

    frame = pd.DataFrame(
        [r if isinstance(r, dict) else {} for r in records], index=pd.RangeIndex(len(records))
    )
    frame.columns = pd.Index([str(c) for c in frame.columns])
    hexes, hex_missing = (
        _texts(frame["hex"], lower=True)
        if "hex" in frame
        else (np.full(len(frame), None, dtype=object), np.ones(len(frame), dtype=bool))
    )

    def where(row: int) -> str:
        k = int(which[row])
        place = f"snapshot {k + 1}" if numbers is None and len(snapshots) > 1 else ""
        if numbers is not None:
            place = f"line {numbers[k]}"
        if k in unreadable:
            return place or "snapshot"
        ident = f" ({hexes[row]!r})" if hexes[row] is not None else ""
        entry = f"aircraft #{index_in[row] + 1}{ident}"
        return f"{place}, {entry}" if place else entry

    n = len(frame)
    problems = _Problems(n, where)
    bad_snapshot = np.isin(which, list(unreadable))
    problems.cells(bad_snapshot, "", lambda row: unreadable[int(which[row])])
    not_object = np.array([not isinstance(r, dict) for r in records], dtype=bool) & ~bad_snapshot
    problems.cells(not_object, "", lambda row: f"not a JSON object: {_short(str(records[row]))}")

    def column(*keys: str) -> list[tuple[str, pd.Series[Any]]]:
        return [(key, frame[key]) for key in keys if key in frame]

    # Position: alt_baro (dump1090-fa, readsb) or altitude (older dump1090), ft or "ground".
    parts: dict[str, list[tuple[str, pd.Series[Any], F64, Bool]]] = {}
    keys = {
        "lat_deg": (("lat",), 1.0),
        "lon_deg": (("lon",), 1.0),
        "alt_m": (("alt_baro", "altitude"), units.M_PER_FT),
        "gs_mps": (("gs", "speed"), units.MPS_PER_KT),
        "track_deg": (("track",), 1.0),
        "vs_mps": (("baro_rate", "geom_rate", "vert_rate"), units.MPS_PER_FPM),
    }
    for name, (names, _) in keys.items():
        parts[name] = []
        for key, series in column(*names):
            if name == "alt_m":  # "ground": on the ground, altitude not reported
                ground = pc.fill_null(pc.equal(_text(series), "ground"), False)
                series = series.mask(np.asarray(ground.to_numpy(zero_copy_only=False), bool))
            found, missing = _numbers(series)
            parts[name].append((key, series, found, missing))
    has_position = ~bad_snapshot & ~not_object
    for name in _POSITION:
        given = np.zeros(n, dtype=bool)
        for _, _, _, missing in parts[name]:
            given |= ~missing
        has_position &= given
    active = has_position & ~problems.bad
    values: dict[str, F64] = {}
    for name, (_, factor) in keys.items():
        combined = np.full(n, np.nan)
        for key, series, raw_values, missing in parts[name]:
            si = _check_range(
                problems,
                series,
                raw_values,
                missing,
                active,
                f"key {key!r}",
                factor,
                RANGES[name],
                required=False,
            )
            combined = np.where(np.isnan(combined), si, combined)
        values[name] = combined
    problems.cells(active & hex_missing, "key 'hex'", lambda _row: "missing value")

    now_series = pd.Series(nows, dtype=object)
    now_s, now_missing, _ = _times(now_series)
    with np.errstate(invalid="ignore"):
        snapshot_bad = ~((now_s >= TIME_RANGE_S[0]) & (now_s < TIME_RANGE_S[1])) | now_missing
    snapshot_of_row = np.zeros(n, dtype=bool)
    if len(which):
        snapshot_of_row = snapshot_bad[which]
    problems.cells(
        active & snapshot_of_row,
        "key 'now'",
        lambda row: (
            f"{_quote(now_series, int(which[row]))} is not a time in epoch seconds "
            f"{_TIME_RANGE_TEXT}"
        ),
    )
    seen_pos = np.zeros(n)
    if "seen_pos" in frame:
        seen_values, seen_missing = _numbers(frame["seen_pos"])
        seen_pos = _check_range(
            problems,
            frame["seen_pos"],
            seen_values,
            seen_missing,
            active,
            "key 'seen_pos'",
            1.0,
            (0.0, 3_600.0),
            required=False,
        )
        seen_pos = np.where(np.isnan(seen_pos), 0.0, seen_pos)
    time_s = (now_s[which] if len(which) else np.zeros(0)) - seen_pos
    checked = _Checked(
        rows=n,  # one per aircraft entry, and one per unreadable snapshot
        aircraft=hexes,
        party=None,
        time_s=time_s,
        values=values,
        has_position=has_position,
        problems=problems,
        snapshots=True,
    )
    return _conclude(checked, source, skip_bad_rows)


# --- SBS-1 / BaseStation ------------------------------------------------------------------------

#: The message kinds of the BaseStation format; only ``MSG`` carries data.
SBS_KINDS: Final = ("MSG", "STA", "ID", "AIR", "SEL", "CLK")
#: The 22 fields of an SBS ``MSG`` line (1-based numbers in messages).
SBS_FIELDS: Final = (
    "message type",
    "transmission type",
    "session id",
    "aircraft id",
    "hex ident",
    "flight id",
    "date generated",
    "time generated",
    "date logged",
    "time logged",
    "callsign",
    "altitude",
    "ground speed",
    "track",
    "latitude",
    "longitude",
    "vertical rate",
    "squawk",
    "alert",
    "emergency",
    "spi",
    "is on ground",
)


def _looks_like_sbs(line: str) -> bool:
    return line.split(",", 1)[0].strip() in SBS_KINDS and "," in line


def _read_sbs(data: bytes, source: str, skip_bad_rows: bool) -> _Read:
    """SBS-1 lines: MSG,3 (airborne position) merged with the latest MSG,4 (velocity)."""
    starts, ends = _line_bounds(data)
    fields = _commas_per_line(np.frombuffer(data, dtype=np.uint8), ends) + 1
    width = max(len(SBS_FIELDS), int(fields.max()) if fields.size else 0)
    try:
        frame = pd.read_csv(
            io.BytesIO(data),
            header=None,
            names=[f"field {k}" for k in range(1, width + 1)],
            usecols=[f"field {k}" for k in (1, 2, 5, 7, 8, 9, 10, 12, 13, 14, 15, 16, 17)],
            dtype=pd.StringDtype("pyarrow"),
            na_filter=False,
            skip_blank_lines=False,
            quoting=csv.QUOTE_NONE,
            encoding="utf-8-sig",
        )
    except UnicodeDecodeError:
        raise TracksError(source, [_not_utf8(data)]) from None
    if len(frame) != len(starts):  # cannot happen without quotes; be safe
        raise TracksError(source, ["not a valid SBS file: lines and records differ"])
    n = len(frame)
    problems = _Problems(n, lambda row: f"line {row + 1}")

    def field(number: int) -> pd.Series[Any]:
        return frame[f"field {number}"]

    def label(number: int) -> str:
        return f"field {number} ({SBS_FIELDS[number - 1]})"

    def is_in(column: Any, values: Sequence[str]) -> Bool:
        found = pc.fill_null(pc.is_in(column, value_set=pa.array(values)), False)
        return np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)

    kind = _text(field(1))
    blank = (fields == 1) & is_in(kind, [""])
    problems.cells(
        ~blank & ~is_in(kind, SBS_KINDS),
        "",
        lambda row: (
            f"{_short(str(field(1).iloc[row]))!r} is not an SBS-1 message type; "
            f"expected {', '.join(SBS_KINDS)}"
        ),
    )
    msg = is_in(kind, ["MSG"])
    short = msg & (fields < len(SBS_FIELDS))
    problems.cells(
        short,
        "",
        lambda row: f"{fields[row]} field(s), an SBS-1 MSG line has {len(SBS_FIELDS)}",
    )
    transmission = _text(field(2))
    ok = msg & ~short
    problems.cells(
        ok & ~is_in(transmission, [str(k) for k in range(1, 9)]),
        label(2),
        lambda row: f"{_quote(field(2), row)} is not a transmission type (1 to 8)",
    )
    position = ok & is_in(transmission, ["3"])
    velocity = ok & is_in(transmission, ["4"])

    nums = {k: _numbers(field(k)) for k in (12, 13, 14, 15, 16, 17)}
    has_position = position & ~nums[12][1] & ~nums[15][1] & ~nums[16][1]
    active = has_position & ~problems.bad
    vel_active = velocity & ~problems.bad
    checks = (
        ("alt_m", 12, units.M_PER_FT, active),
        ("lat_deg", 15, 1.0, active),
        ("lon_deg", 16, 1.0, active),
        ("gs_mps", 13, units.MPS_PER_KT, vel_active),
        ("track_deg", 14, 1.0, vel_active),
        ("vs_mps", 17, units.MPS_PER_FPM, vel_active),
    )
    values: dict[str, F64] = {}
    for name, number, factor, rows in checks:
        raw_values, missing = nums[number]
        values[name] = _check_range(
            problems,
            field(number),
            raw_values,
            missing,
            rows,
            label(number),
            factor,
            RANGES[name],
            required=False,
        )
    hexes, hex_missing = _texts(field(5), lower=True)
    used = active | vel_active
    problems.cells(used & hex_missing, label(5), lambda _row: "missing value")

    # Time generated (fields 7, 8), or time logged (9, 10) where generated is empty.
    generated = pa.array(~(is_in(_text(field(7)), [""]) & is_in(_text(field(8)), [""])))
    date = pc.if_else(generated, _text(field(7)), _text(field(9)))
    clock = pc.if_else(generated, _text(field(8)), _text(field(10)))
    space = pa.scalar(" ", date.type)
    stamp = pc.binary_join_element_wise(pc.replace_substring(date, "/", "-"), clock, space)
    stamp = pc.if_else(pa.array(used), stamp, pa.scalar(None, date.type))
    try:  # naive times, taken as UTC
        ticks = pc.cast(pc.cast(stamp, pa.timestamp("ns")), pa.int64())
        time_s = _ticks_to_seconds(ticks.to_numpy(zero_copy_only=False), 1_000_000_000)
        time_s[~used] = np.nan
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # some are not: find which
        time_s, _, _ = _times(pd.Series(pd.arrays.ArrowExtensionArray(stamp)))
    unreadable = used & np.isnan(time_s)

    def written(row: int) -> str:
        return repr(f"{date[row].as_py()} {clock[row].as_py()}")

    problems.cells(
        unreadable,
        "fields 7-8 (date and time generated)",
        lambda row: f"{written(row)} is not a date and time (YYYY/MM/DD HH:MM:SS.sss)",
    )
    with np.errstate(invalid="ignore"):
        inside = (time_s >= TIME_RANGE_S[0]) & (time_s < TIME_RANGE_S[1])
    problems.cells(
        used & ~unreadable & ~inside,
        "fields 7-8 (date and time generated)",
        lambda row: f"{written(row)} is out of range {_TIME_RANGE_TEXT}",
    )

    if problems.total and not skip_bad_rows:
        raise TracksError(source, problems.listed(), problems.total)
    keep_pos = np.flatnonzero(has_position & ~problems.bad)
    keep_vel = np.flatnonzero(velocity & ~problems.bad)
    positions = pd.DataFrame(
        {
            "row": keep_pos,
            "aircraft": hexes[keep_pos],
            "time_s": time_s[keep_pos],
            **{name: values[name][keep_pos] for name in _POSITION},
        }
    ).sort_values("time_s", kind="stable")
    velocities = pd.DataFrame(
        {
            "aircraft": hexes[keep_vel],
            "time_s": time_s[keep_vel],
            **{name: values[name][keep_vel] for name in ("gs_mps", "track_deg", "vs_mps")},
        }
    ).sort_values("time_s", kind="stable")
    merged = pd.merge_asof(
        positions,
        velocities,
        on="time_s",
        by="aircraft",
        direction="backward",
        tolerance=cast(Any, SBS_VELOCITY_MAX_AGE_S),  # seconds: the keys are floats
    ).sort_values("row", kind="stable")
    tracks = _make(
        merged["aircraft"].to_numpy(dtype=object),
        merged["time_s"].to_numpy(dtype=np.float64),
        {name: merged[name].to_numpy(dtype=np.float64, na_value=np.nan) for name in _FIELDS},
    )
    rows_read = int((~blank).sum())
    rejected = int((problems.bad & ~blank).sum())
    return _Read(
        tracks=tracks,
        rows_read=rows_read,
        rows_rejected=rejected,
        rows_without_position=rows_read - rejected - len(tracks),
        examples=tuple(f"{source}: {p}" for p in problems.listed()) if rejected else (),
    )


# --- putting files together ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Read:
    tracks: Tracks
    rows_read: int
    rows_rejected: int
    rows_without_position: int
    examples: tuple[str, ...]
    snapshots: bool = False


def _make(
    aircraft: Obj, time_s: F64, values: Mapping[str, F64], party: Obj | None = None
) -> Tracks:
    def f64(array: F64) -> F64:
        return np.ascontiguousarray(array, dtype=np.float64)

    return Tracks(
        aircraft=np.asarray(aircraft, dtype=object),
        time_s=f64(time_s),
        lat_deg=f64(values["lat_deg"]),
        lon_deg=f64(values["lon_deg"]),
        alt_m=f64(values["alt_m"]),
        gs_mps=f64(values["gs_mps"]),
        track_deg=f64(values["track_deg"]),
        vs_mps=f64(values["vs_mps"]),
        party=party,
    )


def _concat(parts: Sequence[Tracks]) -> Tracks:
    if not parts:
        empty = np.zeros(0)
        return _make(np.zeros(0, dtype=object), empty, dict.fromkeys(_FIELDS, empty))
    party = None
    if any(p.party is not None for p in parts):
        party = np.concatenate(
            [p.party if p.party is not None else np.full(len(p), None, dtype=object) for p in parts]
        )
    return _make(
        np.concatenate([p.aircraft for p in parts]),
        np.concatenate([p.time_s for p in parts]),
        {name: np.concatenate([getattr(p, name) for p in parts]) for name in _FIELDS},
        party,
    )


def _repeats(tracks: Tracks) -> Bool:
    """Entries that list again a position already listed (snapshots): same aircraft, lat, lon,
    and time within :data:`SNAPSHOT_REPEAT_S` of the previous such entry."""
    n = len(tracks)
    if n < 2:
        return np.zeros(n, dtype=bool)
    codes, _ = pd.factorize(pd.Series(tracks.aircraft, dtype=object))
    order = np.lexsort((tracks.time_s, tracks.lon_deg, tracks.lat_deg, codes))
    same = (
        (codes[order][1:] == codes[order][:-1])
        & (tracks.lat_deg[order][1:] == tracks.lat_deg[order][:-1])
        & (tracks.lon_deg[order][1:] == tracks.lon_deg[order][:-1])
        & (np.diff(tracks.time_s[order]) <= SNAPSHOT_REPEAT_S)
    )
    repeated = np.zeros(n, dtype=bool)
    repeated[order[1:][same]] = True
    return repeated


def _take(tracks: Tracks, keep: npt.NDArray[np.intp]) -> Tracks:
    return _make(
        tracks.aircraft[keep],
        tracks.time_s[keep],
        {name: getattr(tracks, name)[keep] for name in _FIELDS},
        None if tracks.party is None else tracks.party[keep],
    )


def _combine(reads: Sequence[_Read], files: tuple[str, ...]) -> TrackReadDetails:
    tracks = _concat([r.tracks for r in reads])
    repeated = 0
    if any(r.snapshots for r in reads):
        from_snapshots = np.concatenate([np.full(len(r.tracks), r.snapshots) for r in reads])
        rows = np.flatnonzero(from_snapshots)
        again = np.zeros(len(tracks), dtype=bool)
        again[rows[_repeats(_take(tracks, rows))]] = True
        repeated = int(again.sum())
        tracks = _take(tracks, np.flatnonzero(~again))
    examples: list[str] = []
    for r in reads:
        examples.extend(r.examples)
    return TrackReadDetails(
        tracks=tracks,
        rows_read=sum(r.rows_read for r in reads),
        rows_rejected=sum(r.rows_rejected for r in reads),
        rejected_examples=tuple(examples[:MAX_PROBLEMS_LISTED]),
        files=files,
        rows_without_position=sum(r.rows_without_position for r in reads),
        rows_repeated=repeated,
    )
