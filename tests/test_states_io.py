"""Reading tables of aircraft states: units at the edge, every bad cell named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skysep import units
from skysep.errors import StatesError
from skysep.io import read_states, states_from_frame
from skysep.io.states import MAX_PROBLEMS_LISTED

HEADER = "aircraft,party,lat,lon,alt_ft,gs_kt,track_deg,vs_fpm\n"
GOOD = [
    "A1,north,50.0,5.0,30000,450,90,0\n",
    "B2,south,50.1,5.2,31000,400,270,-1500\n",
    "C3,,49.9,4.9,12000,250,10,2000\n",
]


def write(tmp_path: Path, lines: list[str], header: str = HEADER) -> Path:
    path = tmp_path / "states.csv"
    path.write_text(header + "".join(lines), encoding="utf-8")
    return path


def test_csv_in_aviation_units_is_converted_to_si(tmp_path: Path) -> None:
    states = read_states(write(tmp_path, GOOD))
    assert states.aircraft.tolist() == ["A1", "B2", "C3"]
    assert states.party is not None
    assert states.party.tolist() == ["north", "south", None]
    np.testing.assert_array_equal(states.lat_deg, [50.0, 50.1, 49.9])
    np.testing.assert_allclose(states.alt_m, units.ft_to_m(np.array([30000.0, 31000, 12000])))
    np.testing.assert_allclose(states.gs_mps, units.kt_to_mps(np.array([450.0, 400, 250])))
    np.testing.assert_allclose(states.vs_mps, units.fpm_to_mps(np.array([0.0, -1500, 2000])))
    np.testing.assert_array_equal(states.track_deg, [90.0, 270.0, 10.0])


def test_si_columns_and_extra_columns(tmp_path: Path) -> None:
    header = "callsign,aircraft,lat,lon,alt_m,gs_mps,track_deg,vs_mps\n"
    path = write(tmp_path, ["XY1,A,1,2,1000,100,45,-2.5\n"], header)
    states = read_states(path)
    assert states.party is None
    assert states.alt_m.tolist() == [1000.0]
    assert states.gs_mps.tolist() == [100.0]
    assert states.vs_mps.tolist() == [-2.5]


def test_parquet_reads_like_csv(tmp_path: Path) -> None:
    from_csv = read_states(write(tmp_path, GOOD))
    frame = pd.read_csv(tmp_path / "states.csv")
    frame.to_parquet(tmp_path / "states.parquet")
    from_parquet = read_states(tmp_path / "states.parquet")
    assert from_parquet.aircraft.tolist() == from_csv.aircraft.tolist()
    np.testing.assert_array_equal(from_parquet.alt_m, from_csv.alt_m)
    np.testing.assert_array_equal(from_parquet.vs_mps, from_csv.vs_mps)


@pytest.mark.parametrize(
    ("bad_line", "expected"),
    [
        (
            "X9,north,91.5,5,30000,450,90,0\n",
            "line 5, column 'lat': '91.5' is out of range [-90, 90]",
        ),
        ("X9,north,50,5,30000,nan,90,0\n", "line 5, column 'gs_kt': 'nan' is not a number"),
        ("X9,north,50,5,30000,fast,90,0\n", "line 5, column 'gs_kt': 'fast' is not a number"),
        ("X9,north,50,5,,450,90,0\n", "line 5, column 'alt_ft': missing value"),
        ("X9,north,50,5,30000,-5,90,0\n", "line 5, column 'gs_kt': '-5' is out of range"),
        ("X9,north,50,181,30000,450,90,0\n", "line 5, column 'lon': '181' is out of range"),
        ("X9,north,50,5,30000,450,361,0\n", "line 5, column 'track_deg': '361' is out of range"),
        (",north,50,5,30000,450,90,0\n", "line 5, column 'aircraft': missing value"),
        (
            "A1,north,50,5,30000,450,90,0\n",
            "line 5, column 'aircraft': 'A1' already given at line 2",
        ),
        ("X9,north,50,5,inf,450,90,0\n", "line 5, column 'alt_ft': 'inf' is out of range"),
    ],
)
def test_bad_cell_is_named_by_file_line_and_column(
    tmp_path: Path, bad_line: str, expected: str
) -> None:
    path = write(tmp_path, [*GOOD, bad_line])
    with pytest.raises(StatesError) as caught:
        read_states(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert expected in str(caught.value)
    assert caught.value.total == 1


def test_blank_line_is_reported_not_skipped(tmp_path: Path) -> None:
    path = write(tmp_path, [GOOD[0], "\n", GOOD[1]])
    with pytest.raises(StatesError, match=r"line 3, column 'aircraft': missing value"):
        read_states(path)


def test_every_problem_counted_first_ones_listed(tmp_path: Path) -> None:
    lines = [f"X{k},north,95,5,30000,450,90,0\n" for k in range(MAX_PROBLEMS_LISTED + 5)]
    with pytest.raises(StatesError) as caught:
        read_states(write(tmp_path, lines))
    assert caught.value.total == MAX_PROBLEMS_LISTED + 5
    assert len(caught.value.problems) == MAX_PROBLEMS_LISTED
    assert "and 5 more problem(s)" in str(caught.value)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("aircraft,lat,lon,gs_kt,track_deg,vs_fpm\n", "missing column 'alt_ft or alt_m'"),
        ("aircraft,lat,lon,alt_ft,alt_m,gs_kt,track_deg,vs_fpm\n", "'alt_ft' and 'alt_m' both"),
        (
            "id,lat,lon,alt_ft,gs_kt,track_deg,vs_fpm\n",
            "missing column 'aircraft'; columns found: 'id'",
        ),
    ],
)
def test_bad_columns(tmp_path: Path, header: str, expected: str) -> None:
    n_fields = header.count(",") + 1
    path = write(tmp_path, [",".join(["1"] * n_fields) + "\n"], header)
    with pytest.raises(StatesError, match=expected):
        read_states(path)


def test_ragged_csv_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, [*GOOD, "X9,north,50,5,30000,450,90,0,extra\n"])
    with pytest.raises(StatesError, match=r"not a valid CSV file: .*line 5"):
        read_states(path)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("states.txt", "x", "unknown file type '.txt'; valid types: .csv, .parquet, .pq"),
        ("missing.csv", None, "no such file"),
        ("empty.csv", "", "the file is empty"),
        ("broken.parquet", "not parquet", "not a valid Parquet file"),
    ],
)
def test_unreadable_files(tmp_path: Path, name: str, content: str | None, expected: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(StatesError, match=expected):
        read_states(path)


def test_frame_errors_say_row_not_line() -> None:
    frame = pd.DataFrame(
        {
            "aircraft": ["A", "B"],
            "lat": [50.0, float("nan")],
            "lon": [5.0, 5.0],
            "alt_m": [1000.0, 1000.0],
            "gs_mps": [100.0, 100.0],
            "track_deg": [0.0, 0.0],
            "vs_mps": [0.0, 0.0],
        }
    )
    with pytest.raises(StatesError, match=r"table: row 2, column 'lat': missing value"):
        states_from_frame(frame)


def test_missing_markers_of_string_columns_are_missing() -> None:
    """pd.NA in a string column is "no party" (not the party '<NA>'), and no aircraft id."""
    frame = pd.DataFrame(
        {
            "aircraft": pd.array(["A", "B"], dtype="string"),
            "party": pd.array(["north", pd.NA], dtype="string"),
            "lat": [50.0, 50.0],
            "lon": [5.0, 5.1],
            "alt_m": [1000.0, 1000.0],
            "gs_mps": [100.0, 100.0],
            "track_deg": [0.0, 0.0],
            "vs_mps": [0.0, 0.0],
        }
    )
    states = states_from_frame(frame)
    assert states.party is not None
    assert states.party.tolist() == ["north", None]
    frame["aircraft"] = pd.array(["A", pd.NA], dtype="string")
    with pytest.raises(StatesError, match=r"row 2, column 'aircraft': missing value"):
        states_from_frame(frame)
