"""Reading recorded traffic for the replay: every format, SI at the edge, every bad cell named."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from skysep import units
from skysep.errors import SkySepError
from skysep.io.tracks import (
    MAX_PROBLEMS_LISTED,
    RANGES,
    SBS_VELOCITY_MAX_AGE_S,
    TrackReadDetails,
    TracksError,
    read_tracks,
    tracks_from_frame,
)
from skysep.replay._types import TrackRead

DATA = Path(__file__).parent / "data"

HEADER = "time,aircraft,party,lat,lon,alt_ft,gs_kt,track_deg,vs_fpm\n"
GOOD = [
    "2024-05-01T12:00:00Z,A1,north,50.0,5.0,30000,450,90,0\n",
    "2024-05-01T12:00:10Z,A1,north,50.0,5.02,30000,450,90,0\n",
    "2024-05-01T12:00:00Z,B2,,49.9,4.9,12000,,,\n",
]
T0 = datetime(2024, 5, 1, 12, tzinfo=UTC).timestamp()


def write(tmp_path: Path, lines: list[str], header: str = HEADER, name: str = "tracks.csv") -> Path:
    path = tmp_path / name
    path.write_text(header + "".join(lines), encoding="utf-8")
    return path


def accounted(read: TrackReadDetails) -> bool:
    """Every row read is a report, rejected, without position or a repeat."""
    kept = len(read.tracks)
    other = read.rows_rejected + read.rows_without_position + read.rows_repeated
    return read.rows_read == kept + other


def ft(*values: float) -> np.ndarray:
    return units.ft_to_m(np.array(values, dtype=np.float64))


def kt(*values: float) -> np.ndarray:
    return units.kt_to_mps(np.array(values, dtype=np.float64))


def fpm(*values: float) -> np.ndarray:
    return units.fpm_to_mps(np.array(values, dtype=np.float64))


# --- SkySep's own layout ------------------------------------------------------------------------


def test_csv_in_aviation_units_is_converted_to_si(tmp_path: Path) -> None:
    read = read_tracks([write(tmp_path, GOOD)])
    tracks = read.tracks
    assert isinstance(read, TrackRead)
    assert tracks.aircraft.tolist() == ["A1", "A1", "B2"]
    assert tracks.party is not None
    assert tracks.party.tolist() == ["north", "north", None]
    np.testing.assert_array_equal(tracks.time_s, [T0, T0 + 10, T0])
    np.testing.assert_array_equal(tracks.lat_deg, [50.0, 50.0, 49.9])
    np.testing.assert_array_equal(tracks.lon_deg, [5.0, 5.02, 4.9])
    np.testing.assert_allclose(tracks.alt_m, ft(30000, 30000, 12000))
    # Empty velocity cells: NaN, for the replay to derive.
    np.testing.assert_allclose(tracks.gs_mps, [*kt(450, 450), np.nan])
    np.testing.assert_array_equal(tracks.track_deg, [90.0, 90.0, np.nan])
    np.testing.assert_allclose(tracks.vs_mps, [0.0, 0.0, np.nan])
    assert (read.rows_read, read.rows_rejected, read.rows_without_position) == (3, 0, 0)
    assert read.files == (str(tmp_path / "tracks.csv"),)
    for name in ("time_s", "lat_deg", "lon_deg", "alt_m", "gs_mps", "track_deg", "vs_mps"):
        array = getattr(tracks, name)
        assert array.dtype == np.float64, name
        assert array.flags.c_contiguous, name


def test_si_columns_and_velocity_columns_left_out(tmp_path: Path) -> None:
    header = "callsign,time,aircraft,lat,lon,alt_m,gs_mps,vs_mps\n"
    path = write(tmp_path, ["XY1,1714564800,A,1,2,1000,100,-2.5\n"], header)
    tracks = read_tracks([path]).tracks
    assert tracks.party is None
    assert tracks.time_s.tolist() == [1714564800.0]
    assert tracks.alt_m.tolist() == [1000.0]
    assert tracks.gs_mps.tolist() == [100.0]
    assert tracks.vs_mps.tolist() == [-2.5]
    assert np.isnan(tracks.track_deg).all()

    header = "time,aircraft,lat,lon,alt_ft\n"
    tracks = read_tracks([write(tmp_path, ["0,A,1,2,100\n"], header)]).tracks
    assert np.isnan(tracks.gs_mps).all()
    assert np.isnan(tracks.vs_mps).all()


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("2024-05-01T12:00:00Z", T0),
        ("2024-05-01T12:00:00+00:00", T0),
        ("2024-05-01 12:00:00+00:00", T0),  # traffic's to_csv
        ("2024-05-01T12:00:00", T0),  # naive: UTC
        ("2024-05-01T12:00:00.250Z", T0 + 0.25),
        ("2024-05-01T12:00:00.000001Z", T0 + 1e-6),
        ("2024-05-01T14:00:00+02:00", T0),  # another offset: converted to UTC
        ("2024-05-01T07:30:00-04:30", T0),
        (str(int(T0)), T0),
        (f"{T0 + 0.125:.3f}", T0 + 0.125),
    ],
)
def test_times_iso_8601_and_epoch_seconds(tmp_path: Path, cell: str, expected: float) -> None:
    path = write(tmp_path, [f"{cell},A,north,50,5,30000,450,90,0\n"])
    time_s = read_tracks([path]).tracks.time_s
    assert time_s[0] == pytest.approx(expected, abs=1e-7)


def test_a_column_may_mix_iso_and_epoch_seconds(tmp_path: Path) -> None:
    lines = [f"{c},A,,50,5,30000,450,90,0\n" for c in ("2024-05-01T12:00:00Z", str(T0 + 1))]
    np.testing.assert_array_equal(read_tracks([write(tmp_path, lines)]).tracks.time_s, [T0, T0 + 1])


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("yesterday", "column 'time': 'yesterday' is not a time (ISO-8601 or epoch seconds)"),
        ("", "column 'time': missing value"),
        ("-5", "column 'time': '-5' is out of range [1970-01-01T00:00:00Z, 2100-01-01T00:00:00Z]"),
        ("2024-05-01 12:00 UTC", "column 'time': '2024-05-01 12:00 UTC' is not a time"),
        (
            str(int(T0 * 1000)),
            f"column 'time': '{int(T0 * 1000)}' is out of range [1970-01-01T00:00:00Z, "
            "2100-01-01T00:00:00Z]; times are epoch seconds, not milliseconds",
        ),
    ],
)
def test_bad_times(tmp_path: Path, cell: str, expected: str) -> None:
    path = write(tmp_path, [*GOOD, f"{cell},A,north,50,5,30000,450,90,0\n"])
    with pytest.raises(TracksError) as caught:
        read_tracks([path])
    assert f"{path}: line 5, {expected}" in str(caught.value)
    assert caught.value.total == 1


def test_frames_with_datetime_columns() -> None:
    stamps = pd.to_datetime(
        ["2024-05-01T12:00:00.5Z", "2024-05-01T14:00:01+02:00"], utc=True, format="ISO8601"
    )
    frame = pd.DataFrame(
        {"time": stamps, "aircraft": ["A", "B"], "lat": [1.0, 2.0], "lon": [3.0, 4.0]}
        | {"alt_m": [100.0, 200.0]}
    )
    expected = [T0 + 0.5, T0 + 1.0]
    np.testing.assert_array_equal(tracks_from_frame(frame).tracks.time_s, expected)
    naive = frame.assign(time=stamps.tz_localize(None))  # naive: UTC
    np.testing.assert_array_equal(tracks_from_frame(naive).tracks.time_s, expected)
    arrow = frame.assign(time=frame["time"].astype(pd.ArrowDtype(pa.timestamp("ns", "UTC"))))
    np.testing.assert_array_equal(tracks_from_frame(arrow).tracks.time_s, expected)
    in_paris = frame.assign(time=frame["time"].dt.tz_convert("Europe/Paris"))
    np.testing.assert_array_equal(tracks_from_frame(in_paris).tracks.time_s, expected)


def test_frame_errors_say_row_or_line() -> None:
    frame = {"time": [0, 1], "aircraft": ["A", "B"], "lat": [50.0, float("nan")]} | {
        "lon": [5.0, 5.0],
        "alt_m": [1000.0, 1000.0],
    }
    with pytest.raises(TracksError, match=r"^table: row 2, column 'lat': missing value$"):
        tracks_from_frame(frame)
    with pytest.raises(TracksError, match=r"^mine: line 11, column 'lat': missing value$"):
        tracks_from_frame(frame, source="mine", first_line=10)
    read = tracks_from_frame(frame, skip_bad_rows=True)
    assert (len(read.tracks), read.rows_rejected, read.files) == (1, 1, ())


# --- bad cells, rows and columns ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad_line", "expected"),
    [
        ("2024-05-01T12:00:20Z,X9,north,91.5,5,30000,450,90,0\n", "column 'lat': '91.5' is out"),
        ("2024-05-01T12:00:20Z,X9,north,50,181,30000,450,90,0\n", "column 'lon': '181' is out"),
        ("2024-05-01T12:00:20Z,X9,north,50,5,,450,90,0\n", "column 'alt_ft': missing value"),
        ("2024-05-01T12:00:20Z,X9,north,50,5,high,450,90,0\n", "'high' is not a number"),
        (
            "2024-05-01T12:00:20Z,X9,north,50,5,-2000,450,90,0\n",
            "column 'alt_ft': '-2000' is out of range [-1500, 130000]",
        ),
        ("2024-05-01T12:00:20Z,X9,north,50,5,200000,450,90,0\n", "'200000' is out of range"),
        ("2024-05-01T12:00:20Z,X9,north,50,5,inf,450,90,0\n", "'inf' is out of range"),
        ("2024-05-01T12:00:20Z,X9,north,50,5,30000,fast,90,0\n", "'gs_kt': 'fast' is not a num"),
        ("2024-05-01T12:00:20Z,X9,north,50,5,30000,-5,90,0\n", "'gs_kt': '-5' is out of range"),
        ("2024-05-01T12:00:20Z,X9,north,50,5,30000,450,361,0\n", "'track_deg': '361' is out"),
        ("2024-05-01T12:00:20Z,,north,50,5,30000,450,90,0\n", "column 'aircraft': missing value"),
    ],
)
def test_bad_cell_is_named_by_file_line_and_column(
    tmp_path: Path, bad_line: str, expected: str
) -> None:
    path = write(tmp_path, [*GOOD, bad_line])
    with pytest.raises(TracksError) as caught:
        read_tracks([path])
    assert str(caught.value).startswith(f"{path}: line 5, ")
    assert expected in str(caught.value)
    assert caught.value.total == 1
    assert caught.value.source == str(path)


def test_plausible_altitudes_at_the_edges(tmp_path: Path) -> None:
    """Down to 1,500 ft below sea level (Dead Sea), up to 130,000 ft (Mode C's top)."""
    lines = [f"{k},A,,31.5,35.4,{alt},,,\n" for k, alt in enumerate((-1500, -1000, 130000))]
    read = read_tracks([write(tmp_path, lines)])
    np.testing.assert_allclose(read.tracks.alt_m, ft(-1500, -1000, 130000))
    assert RANGES["alt_m"] == pytest.approx((units.ft_to_m(-1500.0), units.ft_to_m(130000.0)))


def test_problems_are_listed_by_line_and_all_counted(tmp_path: Path) -> None:
    lines = [f"{k},X{k},,95,5,-9000,450,90,0\n" for k in range(MAX_PROBLEMS_LISTED + 5)]
    with pytest.raises(TracksError) as caught:
        read_tracks([write(tmp_path, lines)])
    error = caught.value
    assert error.total == 2 * (MAX_PROBLEMS_LISTED + 5)  # lat and alt_ft on every line
    assert len(error.problems) == MAX_PROBLEMS_LISTED
    assert error.problems[:3] == [
        "line 2, column 'lat': '95' is out of range [-90, 90]",
        "line 2, column 'alt_ft': '-9000' is out of range [-1500, 130000]",
        "line 3, column 'lat': '95' is out of range [-90, 90]",
    ]
    assert f"and {MAX_PROBLEMS_LISTED + 10} more problem(s)" in str(error)


def test_skip_bad_rows_counts_them(tmp_path: Path) -> None:
    bad = [
        "2024-05-01T12:00:20Z,X9,north,91.5,5,30000,450,90,0\n",
        "soon,X9,north,50,5,30000,fast,90,0\n",
    ]
    path = write(tmp_path, [GOOD[0], *bad, GOOD[1]])
    read = read_tracks([path], skip_bad_rows=True)
    assert read.tracks.aircraft.tolist() == ["A1", "A1"]
    assert (read.rows_read, read.rows_rejected) == (4, 2)
    assert read.rejected_examples == (
        f"{path}: line 3, column 'lat': '91.5' is out of range [-90, 90]",
        f"{path}: line 4, column 'gs_kt': 'fast' is not a number",
        f"{path}: line 4, column 'time': 'soon' is not a time (ISO-8601 or epoch seconds)",
    )
    assert accounted(read)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            "time,aircraft,lat,lon,gs_kt\n",
            "missing column 'alt_ft or alt_m' (SkySep layout); columns found: 'time', 'aircraft', "
            "'lat', 'lon', 'gs_kt'",
        ),
        ("time,aircraft,lat,lon,alt_ft,alt_m\n", "columns 'alt_ft' and 'alt_m' both give alt"),
        ("time,aircraft,lat,lon,alt_m,vs_fpm,vs_mps\n", "'vs_fpm' and 'vs_mps' both give vs"),
        ("aircraft,lat,lon,alt_m\n", "missing column 'time' (SkySep layout)"),
        ("id,t,x,y\n", "missing column 'aircraft' (SkySep layout); traffic and OpenSky files"),
        ("timestamp,icao24,latitude,longitude\n", "missing column 'altitude' (traffic layout)"),
    ],
)
def test_bad_columns_list_the_columns_found(tmp_path: Path, header: str, expected: str) -> None:
    n_fields = header.count(",") + 1
    path = write(tmp_path, [",".join(["1"] * n_fields) + "\n"], header)
    with pytest.raises(TracksError, match=re.escape(expected)) as caught:
        read_tracks([path], skip_bad_rows=True)  # a file-wide problem is never skipped
    assert "columns found: " in str(caught.value) or "both give" in str(caught.value)


def test_rows_with_more_or_fewer_fields_than_the_header(tmp_path: Path) -> None:
    lines = [*GOOD, "0,X,,50,5,1000,1,1,1,extra\n", "0,X,,50\n", "\n"]
    with pytest.raises(TracksError) as caught:
        read_tracks([write(tmp_path, lines)])
    assert caught.value.problems == [
        "line 5: 10 field(s), the header has 9",
        "line 6: 4 field(s), the header has 9",
        "line 7: 1 field(s), the header has 9 (a blank line)",
    ]


def test_empty_and_header_only_files(tmp_path: Path) -> None:
    for name in ("empty.csv", "empty.jsonl", "empty.sbs", "empty.parquet"):
        (tmp_path / name).write_bytes(b"" if name != "empty.jsonl" else b"\n \n")
        with pytest.raises(TracksError, match=r"empty|not a valid Parquet file"):
            read_tracks([tmp_path / name])
    read = read_tracks([write(tmp_path, [])])
    assert (len(read.tracks), read.rows_read) == (0, 0)
    assert read.tracks.aircraft.dtype == object


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        (
            "tracks.xlsx",
            "x",
            "unknown file type '.xlsx'; valid types: .basestation, .csv, .json, .jsonl, .log, "
            ".ndjson, .parquet, .pq, .sbs, .txt",
        ),
        ("missing.csv", None, "no such file or directory"),
        ("broken.parquet", "not parquet", "not a valid Parquet file"),
        ("notes.txt", "hello,world\n", "line 1: 'hello,world' is not an SBS-1"),
        ("array.json", '[{"time": 0}]', "a JSON array is not read"),
        ("object.json", '{\n "time": 0\n}', "not an aircraft.json snapshot"),
    ],
)
def test_unreadable_files(tmp_path: Path, name: str, content: str | None, expected: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(TracksError, match=expected):
        read_tracks([path])


def test_text_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "tracks.csv"
    path.write_bytes((HEADER + GOOD[0]).encode() + "0,A,Bergf\xfchrer,1,2,3,,,\n".encode("latin-1"))
    with pytest.raises(TracksError, match=r"line 3: not UTF-8 text \(byte 0xfc\)"):
        read_tracks([path])


def test_byte_order_mark_crlf_and_blanks_after_commas(tmp_path: Path) -> None:
    path = tmp_path / "tracks.csv"
    path.write_bytes("\ufefftime, aircraft, lat, lon, alt_m\r\n0, A , 1, 2, 3\r\n".encode())
    read = read_tracks([path])
    assert read.tracks.aircraft.tolist() == ["A"]
    assert read.tracks.alt_m.tolist() == [3.0]


def test_error_shape() -> None:
    error = TracksError("f.csv", ["line 2: a", "line 3: b"], total=5)
    assert isinstance(error, SkySepError)
    assert (error.source, error.problems, error.total) == ("f.csv", ["line 2: a", "line 3: b"], 5)
    assert str(error) == "f.csv: line 2: a\nf.csv: line 3: b\nf.csv: ... and 3 more problem(s)"
    with pytest.raises(TracksError, match="no files given"):
        read_tracks([])


# --- several files ------------------------------------------------------------------------------


def test_files_are_concatenated_in_order(tmp_path: Path) -> None:
    first = write(tmp_path, GOOD[:1], name="a.csv")
    second = write(
        tmp_path, ["1714564800,C3,50,5,1000\n"], "time,aircraft,lat,lon,alt_m\n", "b.csv"
    )
    read = read_tracks([first, str(second)])
    assert read.files == (str(first), str(second))
    assert read.tracks.aircraft.tolist() == ["A1", "C3"]
    assert read.tracks.party is not None
    assert read.tracks.party.tolist() == ["north", None]
    assert read.rows_read == 2
    only = read_tracks(second)  # one path alone is a list of one
    assert only.tracks.party is None
    assert only.files == (str(second),)


def test_an_error_names_the_file_it_is_in(tmp_path: Path) -> None:
    good = write(tmp_path, GOOD, name="good.csv")
    bad = write(tmp_path, ["0,A,,50,5,1000,1,1,nope\n"], name="bad.csv")
    with pytest.raises(TracksError, match=rf"^{bad}: line 2, column 'vs_fpm': 'nope'"):
        read_tracks([good, bad])


# --- traffic and OpenSky ------------------------------------------------------------------------


def test_traffic_csv_as_traffic_writes_it() -> None:
    """quickstart (OpenSky data via traffic), 3 aircraft for 4 minutes, traffic's to_csv."""
    path = DATA / "quickstart_excerpt.csv"
    raw = pd.read_csv(path, index_col=0)
    read = read_tracks([path])
    tracks = read.tracks
    positioned = raw.dropna(subset=["latitude", "longitude", "altitude"])
    assert read.rows_read == len(raw) == 630
    assert read.rows_without_position == len(raw) - len(positioned) == 103  # on the ground
    assert len(tracks) == len(positioned)
    assert read.rows_rejected == 0
    assert tracks.aircraft.tolist() == positioned["icao24"].tolist()
    stamps = pd.to_datetime(positioned["timestamp"], utc=True).dt.as_unit("ns")
    np.testing.assert_array_equal(tracks.time_s, stamps.astype("int64") / 1e9)
    np.testing.assert_array_equal(tracks.lat_deg, positioned["latitude"])
    np.testing.assert_allclose(tracks.alt_m, units.ft_to_m(positioned["altitude"].to_numpy(float)))
    np.testing.assert_allclose(
        tracks.gs_mps, units.kt_to_mps(positioned["groundspeed"].to_numpy(float))
    )
    np.testing.assert_array_equal(tracks.track_deg, positioned["track"].to_numpy(float))
    np.testing.assert_allclose(
        tracks.vs_mps, units.fpm_to_mps(positioned["vertical_rate"].to_numpy(float))
    )
    # AFR73KR sends positions without velocity: kept, velocity NaN.
    afr = tracks.aircraft == "394c0c"
    assert afr.sum() == 158
    assert np.isnan(tracks.gs_mps[afr]).all()
    assert np.isfinite(tracks.alt_m[afr]).all()
    assert tracks.party is None
    assert accounted(read)


def test_traffic_parquet_with_flight_ids() -> None:
    """switzerland after assign_id(), traffic's to_parquet: flight_id is the aircraft."""
    path = DATA / "switzerland_flights.parquet"
    raw = pd.read_parquet(path)
    assert isinstance(raw["timestamp"].dtype, pd.ArrowDtype)
    read = read_tracks([path])
    tracks = read.tracks
    assert read.rows_read == len(tracks) == len(raw) == 600
    assert tracks.aircraft.tolist() == raw["flight_id"].tolist()
    assert sorted(set(tracks.aircraft)) == [
        "DLH3EM_002",
        "DLH4KY_003",
        "DLH8JW_004",
        "DLH9XT_005",
        "SAA260_000",
        "SAA261_001",
    ]
    stamps = raw["timestamp"].astype("datetime64[ns, UTC]")
    np.testing.assert_array_equal(tracks.time_s, stamps.astype("int64") / 1e9)
    np.testing.assert_allclose(tracks.alt_m, units.ft_to_m(raw["altitude"].to_numpy(float)))


def test_flight_id_precedence_falls_back_to_icao24() -> None:
    frame = pd.DataFrame(
        {
            "timestamp": ["2024-05-01 12:00:00+00:00"] * 3,
            "icao24": ["3C6444", "3c6444", None],
            "flight_id": ["DLH4KY_003", None, None],
            "latitude": [50.0] * 3,
            "longitude": [8.0] * 3,
            "altitude": [30000.0] * 3,
        }
    )
    with pytest.raises(TracksError) as caught:
        tracks_from_frame(frame)
    assert caught.value.problems == ["row 3, column 'flight_id' and column 'icao24': missing value"]
    read = tracks_from_frame(frame, skip_bad_rows=True)
    assert read.tracks.aircraft.tolist() == ["DLH4KY_003", "3c6444"]  # ICAO addresses lowercased


def test_traffic_json_lines() -> None:
    """traffic's to_json(orient='records', lines=True, date_format='iso'): the take-off."""
    path = DATA / "quickstart_excerpt.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    read = read_tracks([path])
    with_position = [r for r in rows if r["altitude"] is not None]
    assert (read.rows_read, len(read.tracks), read.rows_without_position) == (40, 24, 16)
    assert read.tracks.alt_m.tolist() == pytest.approx(
        ft(*[r["altitude"] for r in with_position]).tolist()
    )
    expected = [pd.Timestamp(r["timestamp"]).timestamp() for r in with_position]
    np.testing.assert_array_equal(read.tracks.time_s, expected)


def test_traffic_rows_without_position_are_counted_junk_is_not(tmp_path: Path) -> None:
    header = "timestamp,icao24,latitude,longitude,altitude,groundspeed,track,vertical_rate\n"
    lines = [
        "2024-05-01 12:00:00+00:00,abc123,,,,450,90,0\n",  # a state vector without position
        "2024-05-01 12:00:01+00:00,abc123,50,8,,450,90,0\n",  # no altitude: on the ground
        "2024-05-01 12:00:02+00:00,abc123,50,8,30000,,,\n",
        "2024-05-01 12:00:03+00:00,abc123,50,8,-5000,,,\n",
    ]
    path = write(tmp_path, lines, header)
    with pytest.raises(TracksError) as caught:
        read_tracks([path])
    assert caught.value.problems == [
        "line 5, column 'altitude': '-5000' is out of range [-1500, 130000]"
    ]
    read = read_tracks([path], skip_bad_rows=True)
    assert (len(read.tracks), read.rows_without_position, read.rows_rejected) == (1, 2, 1)
    assert accounted(read)


def test_opensky_state_vectors() -> None:
    """OpenSky's state-vector files: SI units, baroaltitude; rows without position dropped."""
    read = read_tracks([DATA / "opensky_states.csv"])
    tracks = read.tracks
    assert (read.rows_read, len(tracks), read.rows_without_position) == (4, 2, 2)
    assert tracks.aircraft.tolist() == ["4ca7b5", "4ca7b5"]
    assert tracks.time_s.tolist() == [1654041600.0, 1654041610.0]
    assert tracks.alt_m.tolist() == [11277.6, 11277.6]
    assert tracks.gs_mps.tolist() == [216.1, 216.1]
    assert tracks.vs_mps.tolist() == [-3.25, -3.25]
    assert tracks.lon_deg.tolist() == [-0.1, -0.07]


def test_traffic_objects_and_mappings_are_tables() -> None:
    class Flight:  # anything with a .data frame, like traffic's Traffic and Flight
        data = pd.DataFrame(
            {
                "timestamp": pd.to_datetime(["2024-05-01T12:00:00Z"], utc=True),
                "icao24": ["4ca7b5"],
                "latitude": [51.5],
                "longitude": [-0.1],
                "altitude": [37000.0],
            }
        )

    tracks = tracks_from_frame(Flight()).tracks
    assert tracks.aircraft.tolist() == ["4ca7b5"]
    assert tracks.time_s.tolist() == [T0]
    with pytest.raises(TracksError, match="not a table of columns"):
        tracks_from_frame([1, 2, 3])


def _same_reads(a: TrackReadDetails, b: TrackReadDetails) -> None:
    for name in ("time_s", "lat_deg", "lon_deg", "alt_m", "gs_mps", "track_deg", "vs_mps"):
        np.testing.assert_array_equal(getattr(a.tracks, name), getattr(b.tracks, name), name)
    assert a.tracks.aircraft.tolist() == b.tracks.aircraft.tolist()
    assert (a.tracks.party is None) == (b.tracks.party is None)
    if a.tracks.party is not None and b.tracks.party is not None:
        assert a.tracks.party.tolist() == b.tracks.party.tolist()
    assert (a.rows_read, a.rows_rejected, a.rows_without_position) == (
        b.rows_read,
        b.rows_rejected,
        b.rows_without_position,
    )
    assert a.rejected_examples == b.rejected_examples


@pytest.mark.parametrize("unit", ["s", "ms", "ns"])
def test_parquet_read_with_arrow_alone_equals_the_pandas_path(tmp_path: Path, unit: str) -> None:
    """Plain Parquet columns are read from Arrow's buffers (no pandas): the same reports as
    through pandas, with nulls, a time zone or none, dictionary strings and several chunks."""
    stamps = pa.array(
        [1_714_564_800 + k for k in range(8)], type=pa.timestamp("s", tz="Europe/Paris")
    ).cast(pa.timestamp(unit, tz="Europe/Paris" if unit != "ns" else None))
    table = pa.table(
        {
            "timestamp": stamps,
            "icao24": pa.array(
                [" 3C6444", "3c6444 ", "ABC123", "abc123", "4B1814", "4b1814", "x", "y"]
            ),
            "flight_id": pa.array(
                [None, "DLH4KY_003", None, " ", "SWR1", None, None, None]
            ).dictionary_encode(),
            "latitude": pa.array([50.0, 50.1, None, 50.3, 46.0, 46.1, 47.0, 47.1]),
            "longitude": pa.array([8.0, 8.1, 8.2, 8.3, 7.0, 7.1, float("nan"), 7.3]),
            "altitude": pa.array([30000, 30025, 30050, None, 12000, 12000, 5000, 5100]),
            "groundspeed": pa.array([450, None, 450, 451, 300, 301, 200, 201], type=pa.int32()),
            "vertical_rate": pa.array([0.0, 64.0, None, -64.0, 0.0, 0.0, 0.0, 0.0]),
        }
    )
    path = tmp_path / "tracks.parquet"
    pq.write_table(table, path, row_group_size=3)  # three row groups: chunked columns
    read = read_tracks([path])
    _same_reads(read, tracks_from_frame(pd.read_parquet(path)))
    assert read.rows_without_position == 3
    assert read.tracks.aircraft.tolist() == ["3c6444", "DLH4KY_003", "SWR1", "4b1814", "y"]


def test_parquet_with_a_bad_cell_names_it_as_the_other_formats_do(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "time": pd.to_datetime([T0, T0 + 10, T0 + 20], unit="s", utc=True),
            "aircraft": ["A1", "A1", " "],
            "lat": [50.0, 95.0, 50.0],
            "lon": [5.0, 5.0, 5.0],
            "alt_ft": [30000.0, 30000.0, 30000.0],
        }
    )
    path = tmp_path / "bad.parquet"
    frame.to_parquet(path)
    with pytest.raises(TracksError) as caught:
        read_tracks([path])
    assert caught.value.problems == [
        "row 2, column 'lat': 95 is out of range [-90, 90]",
        "row 3, column 'aircraft': missing value",
    ]
    _same_reads(
        read_tracks([path], skip_bad_rows=True),
        tracks_from_frame(frame, source=str(path), skip_bad_rows=True),
    )


def test_parquet_is_read_without_importing_pandas() -> None:
    code = (
        "import sys\n"
        "from skysep.io.tracks import read_tracks\n"
        f"read = read_tracks([{str(DATA / 'switzerland_flights.parquet')!r}])\n"
        "assert len(read.tracks) == 600\n"
        "print('pandas' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


# --- JSON lines ---------------------------------------------------------------------------------


def json_line(**row: object) -> str:
    return json.dumps(row) + "\n"


def test_json_lines_errors_name_the_line_counting_blank_lines(tmp_path: Path) -> None:
    good = {"time": "2024-05-01T12:00:00Z", "aircraft": "A", "lat": 50, "lon": 5, "alt_ft": 1000}
    path = tmp_path / "tracks.jsonl"
    path.write_text(
        json_line(**good)
        + "\n"
        + json_line(**(good | {"lat": 95}))
        + json_line(**(good | {"alt_ft": "high"}))
        + "{not json\n"
        + "[1, 2]\n"
        + json_line(**(good | {"time": None})),
        encoding="utf-8",
    )
    with pytest.raises(TracksError) as caught:
        read_tracks([path])
    assert caught.value.problems == [
        "line 3, column 'lat': 95 is out of range [-90, 90]",
        "line 4, column 'alt_ft': 'high' is not a number",
        "line 5: not valid JSON: Expecting property name enclosed in double quotes: "
        "line 1 column 2 (char 1)",
        "line 6: not a JSON object but list '[1, 2]'",
        "line 7, column 'time': missing value",
    ]
    read = read_tracks([path], skip_bad_rows=True)
    assert (read.rows_read, len(read.tracks), read.rows_rejected) == (6, 1, 5)
    assert read.tracks.time_s.tolist() == [T0]


def test_json_lines_with_epoch_seconds_and_numbers_as_ids(tmp_path: Path) -> None:
    path = tmp_path / "tracks.ndjson"
    path.write_text(
        json_line(time=T0 + 0.5, aircraft=7, party="red", lat=1, lon=2, alt_m=300, gs_kt=100)
        + json_line(time=T0 + 1.5, aircraft=7, party=None, lat=1, lon=2.1, alt_m=310, gs_kt=None),
        encoding="utf-8",
    )
    tracks = read_tracks([path]).tracks
    assert tracks.aircraft.tolist() == ["7", "7"]
    assert tracks.party is not None
    assert tracks.party.tolist() == ["red", None]
    assert tracks.time_s.tolist() == [T0 + 0.5, T0 + 1.5]
    np.testing.assert_allclose(tracks.gs_mps, [*kt(100), np.nan])


def test_json_lines_in_pandas_default_milliseconds_are_refused_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "tracks.jsonl"
    frame = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(["2024-05-01T12:00:00Z"], utc=True),
            "icao24": ["abc123"],
            "latitude": [50.0],
            "longitude": [8.0],
            "altitude": [30000.0],
        }
    )
    # What pandas before 3.0 (and so traffic) writes by default: epoch milliseconds.
    row = frame.iloc[0].to_dict() | {"timestamp": int(T0 * 1000)}
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    with pytest.raises(TracksError, match=r"line 1, column 'timestamp': .* not milliseconds"):
        read_tracks([path])
    frame.to_json(path, orient="records", lines=True, date_format="iso")
    assert read_tracks([path]).tracks.time_s.tolist() == [T0]


# --- SBS-1 / BaseStation ------------------------------------------------------------------------


def test_sbs_positions_merge_the_latest_velocity() -> None:
    read = read_tracks([DATA / "receiver.sbs"])
    tracks = read.tracks
    assert (read.rows_read, len(tracks), read.rows_without_position) == (14, 5, 9)
    assert tracks.aircraft.tolist() == ["4ca7b5", "4ca7b5", "3c6444", "3c6444", "4ca7b5"]
    np.testing.assert_allclose(tracks.time_s - T0, [0.5, 1.0, 1.1, 1.6, 8.0], atol=1e-6)
    np.testing.assert_allclose(tracks.alt_m, ft(37000, 37025, 12000, 12000, 37100))
    np.testing.assert_array_equal(tracks.lat_deg, [51.5, 51.5, 51.4, 51.399, 51.5])
    # 4ca7b5: the velocity of 12:00:00.2 for the positions 0.3 s and 0.8 s later, not for
    # the one 7.8 s later; 3c6444: none before its first position, then the one 0.3 s old.
    np.testing.assert_allclose(tracks.gs_mps, [*kt(420, 420), np.nan, *kt(250), np.nan])
    np.testing.assert_array_equal(tracks.track_deg, [90, 90, np.nan, 180, np.nan])
    np.testing.assert_allclose(tracks.vs_mps, [*fpm(-640, -640), np.nan, 0.0, np.nan])
    assert 7.8 > SBS_VELOCITY_MAX_AGE_S > 0.8
    assert tracks.party is None
    assert accounted(read)


def test_sbs_in_a_csv_file_is_recognised(tmp_path: Path) -> None:
    path = tmp_path / "port30003.csv"
    path.write_bytes((DATA / "receiver.sbs").read_bytes())
    assert len(read_tracks([path]).tracks) == 5


def test_sbs_bad_lines(tmp_path: Path) -> None:
    good = (DATA / "receiver.sbs").read_text(encoding="utf-8").splitlines()
    stamp = "2024/05/01,12:00:09.000,2024/05/01,12:00:09.000"
    bad = [
        f"MSG,3,1,1,4CA7B5,1,{stamp},,37000,,,95.00000,-0.10000,,,0,0,0,0",
        f"MSG,4,1,1,4CA7B5,1,{stamp},,,fast,90,,,0,,,,,0",
        "MSG,3,1,1,4CA7B5,1,2024/05/01,25:00:00.000,2024/05/01,12:00:09.000,,37000,,,51.5,-0.1,,,0,0,0,0",
        f"MSG,3,1,1,,1,{stamp},,37000,,,51.5,-0.1,,,0,0,0,0",
        "HELLO,3",
        f"MSG,3,1,1,4CA7B5,1,{stamp},,370",  # cut off when the recording stopped
        f"MSG,9,1,1,4CA7B5,1,{stamp},,,,,,,,,,,,0",
    ]
    path = tmp_path / "bad.sbs"
    path.write_text("\n".join([*good, "", *bad]) + "\n", encoding="utf-8")
    with pytest.raises(TracksError) as caught:
        read_tracks([path])
    assert caught.value.problems == [
        "line 16, field 15 (latitude): '95.00000' is out of range [-90, 90]",
        "line 17, field 13 (ground speed): 'fast' is not a number",
        "line 18, fields 7-8 (date and time generated): '2024/05/01 25:00:00.000' is not a "
        "date and time (YYYY/MM/DD HH:MM:SS.sss)",
        "line 19, field 5 (hex ident): missing value",
        "line 20: 'HELLO' is not an SBS-1 message type; expected MSG, STA, ID, AIR, SEL, CLK",
        "line 21: 12 field(s), an SBS-1 MSG line has 22",
        "line 22, field 2 (transmission type): '9' is not a transmission type (1 to 8)",
    ]
    read = read_tracks([path], skip_bad_rows=True)
    assert (read.rows_read, len(read.tracks), read.rows_rejected) == (21, 5, 7)
    assert accounted(read)


# --- readsb / dump1090 aircraft.json ------------------------------------------------------------


def test_aircraft_json_snapshot_time_is_now_minus_seen_pos() -> None:
    read = read_tracks([DATA / "aircraft.json"])
    tracks = read.tracks
    now = 1714564800.5
    assert (read.rows_read, len(tracks), read.rows_without_position) == (5, 3, 2)
    assert tracks.aircraft.tolist() == ["4ca7b5", "3c6444", "~2a0001"]
    np.testing.assert_allclose(tracks.time_s, [now - 0.4, now - 2.5, now - 3.0])
    np.testing.assert_allclose(tracks.alt_m, ft(37000, 12000, 5000))
    np.testing.assert_allclose(tracks.gs_mps, [*kt(420.3, 250.0), np.nan])
    np.testing.assert_array_equal(tracks.track_deg, [90.0, 180.0, np.nan])
    # baro_rate, else geom_rate
    np.testing.assert_allclose(tracks.vs_mps, [*fpm(-640, 64), np.nan])
    assert accounted(read)


def test_snapshots_as_json_lines_drop_repeated_positions() -> None:
    read = read_tracks([DATA / "snapshots.jsonl"])
    tracks = read.tracks
    # The second snapshot lists the first one's position again (time 0.1 s apart).
    assert (read.rows_read, len(tracks), read.rows_repeated) == (4, 3, 1)
    assert tracks.aircraft.tolist() == ["4ca7b5", "4ca7b5", "a0046f"]
    np.testing.assert_allclose(tracks.time_s, [1714564800.5, 1714564802.8, 1714564803.0])
    # Older dump1090 keys: altitude, speed, vert_rate.
    np.testing.assert_allclose(tracks.alt_m[2], ft(15000)[0])
    np.testing.assert_allclose(tracks.gs_mps[2], kt(300)[0])
    np.testing.assert_allclose(tracks.vs_mps[2], fpm(-512)[0])
    assert accounted(read)


def test_snapshot_errors_name_line_aircraft_and_key(tmp_path: Path) -> None:
    def snapshot(now: object, *aircraft: dict[str, object]) -> str:
        return json.dumps({"now": now, "aircraft": list(aircraft)}) + "\n"

    ok = {"hex": "4CA7B5", "alt_baro": 37000, "lat": 51.5, "lon": -0.1, "seen_pos": 0.5}
    path = tmp_path / "snapshots.json"
    path.write_text(
        snapshot(1714564801.0, ok, ok | {"hex": "abc123", "lat": 91})
        + "\n"
        + snapshot("later", ok)
        + snapshot(1714564803.0, ok | {"alt_baro": "high"}, ok | {"seen_pos": -1})
        + "{oops\n",
        encoding="utf-8",
    )
    with pytest.raises(TracksError) as caught:
        read_tracks([path])
    assert caught.value.problems == [
        "line 1, aircraft #2 ('abc123'), key 'lat': 91 is out of range [-90, 90]",
        "line 3, aircraft #1 ('4ca7b5'), key 'now': 'later' is not a time in epoch seconds "
        "[1970-01-01T00:00:00Z, 2100-01-01T00:00:00Z]",
        "line 4, aircraft #1 ('4ca7b5'), key 'alt_baro': 'high' is not a number",
        "line 4, aircraft #2 ('4ca7b5'), key 'seen_pos': -1 is out of range [0, 3600]",
        "line 5: not valid JSON: Expecting property name enclosed in double quotes: "
        "line 1 column 2 (char 1)",
    ]
    read = read_tracks([path], skip_bad_rows=True)
    assert (read.rows_read, len(read.tracks), read.rows_rejected) == (6, 1, 5)
    assert accounted(read)


def test_a_directory_of_snapshots(tmp_path: Path) -> None:
    snapshot = json.loads((DATA / "aircraft.json").read_text())
    for k in range(3):  # what a loop copying readsb's aircraft.json every second leaves
        snapshot["now"] += 1.0
        for entry in snapshot["aircraft"]:
            if "seen_pos" in entry:
                entry["seen_pos"] += 1.0  # no new position: the same one, listed again
        (tmp_path / f"aircraft-{k}.json").write_text(json.dumps(snapshot))
    (tmp_path / "receiver.json").write_text('{"version": "readsb", "refresh": 1000}')
    (tmp_path / "notes.md").write_text("not read")
    read = read_tracks([tmp_path])
    assert read.files == tuple(str(tmp_path / f"aircraft-{k}.json") for k in range(3))
    assert (read.rows_read, len(read.tracks), read.rows_repeated) == (15, 3, 6)
    assert read.rows_without_position == 6
    assert accounted(read)
    (tmp_path / "sub").mkdir()
    with pytest.raises(TracksError, match="no track files in this directory; valid types: "):
        read_tracks([tmp_path / "sub"])


# --- speed --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_day_of_swiss_traffic_reads_in_well_under_a_second(tmp_path: Path) -> None:
    """139,098 rows (the size of traffic's switzerland sample) in traffic's CSV layout."""
    rng = np.random.default_rng(1)
    n = 139_098
    stamps = pd.Timestamp("2018-08-01T05:00:00Z") + pd.to_timedelta(
        np.sort(rng.integers(0, 61_200, n)), unit="s"
    )
    frame = pd.DataFrame(
        {
            "timestamp": stamps,
            "altitude": rng.integers(300, 470, n) * 100.0,
            "callsign": "DLH8JW",
            "groundspeed": rng.uniform(135, 522, n),
            "icao24": rng.choice([f"{k:06x}" for k in range(842)], n),
            "latitude": rng.uniform(45.8, 47.8, n),
            "longitude": rng.uniform(5.9, 10.5, n),
            "track": rng.uniform(0, 360, n),
            "vertical_rate": rng.integers(-258, 65, n) * 64.0,
        }
    )
    path = tmp_path / "switzerland.csv"
    frame.round(10).to_csv(path)  # traffic's sample has 10 decimals at most
    read_tracks([path])  # warm up imports
    start = time.perf_counter()
    read = read_tracks([path])
    elapsed = time.perf_counter() - start
    assert len(read.tracks) == n
    assert elapsed < 1.0, f"{elapsed:.2f} s"
