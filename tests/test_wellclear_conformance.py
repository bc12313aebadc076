"""Conformance with NASA DAIDALUS: every shipped encounter x configuration x hysteresis on/off.

The reference outputs in ``shared/daidalus/expected`` were printed by DAIDALUS's
``DaidalusAlerting`` (C++, v2.0.4). For every supported configuration the alert
level must be identical on every row and every time to violation within 1e-6 s
(the other columns within 1e-6 of their printed unit); unsupported
configurations must be refused with a message naming the file, key and value.
The shared folder sits beside the repository (CI copies it there): if it is
missing these tests fail, they are not skipped.
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skysep.io.daidalus import (
    DaidalusError,
    format_number,
    read_conf,
    run_encounter,
    write_alerts,
)
from skysep.wellclear import PRESETS, preset

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "daidalus"

#: NASA's shipped encounters and configurations (the folder must hold exactly these).
SCENARIOS = (
    "C0_0_120.daa",
    "C1_0_120.daa",
    "C1_0_120_W.daa",
    "H0_0_120.daa",
    "H0_0_120.xyz",
    "H1.daa",
    "H1_SUM.daa",
)
SUPPORTED = (
    "Buffered_DWC_SC_228_nom_a",
    "Buffered_DWC_SC_228_nom_b",
    "CD3D",
    "DO_365A_no_SUM",
    "DO_365B_no_SUM",
    "TCAS3D",
)
#: Refused, with a word the message must contain.
REFUSED = {
    "DO_365A_SUM": "SUM",
    "DO_365B_SUM": "SUM",
}
CASES = [
    (scenario, conf, hysteresis)
    for scenario in SCENARIOS
    for conf in (*SUPPORTED, *REFUSED)
    for hysteresis in (False, True)
]
TIME_TOLERANCE_S = 1e-6
#: Printed with six decimals: half a unit in the last place, plus the rounding of our side.
PRINTED_TOLERANCE = 1e-6


def expected_path(scenario: str, conf: str, hysteresis: bool) -> Path:
    folder = "hysteresis" if hysteresis else "no-hysteresis"
    return SHARED / "expected" / folder / f"{scenario}__{conf}.csv"


@cache
def expected_table(path: Path) -> tuple[list[str], list[str], list[list[str]]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    header = [c.strip() for c in lines[0].split(",")]
    rows = [line.split(", ") for line in lines[2:]]
    return header, lines[:2], rows


def parse(cell: str) -> float:
    cell = cell.strip()
    if cell == "":
        return math.nan
    if cell == "infty":
        return math.inf
    return float(cell)


def test_shared_data_holds_every_case() -> None:
    assert SHARED.is_dir(), f"the DAIDALUS conformance data is missing: {SHARED}"
    scenarios = sorted(p.name for p in (SHARED / "scenarios").iterdir())
    configs = sorted(p.stem for p in (SHARED / "configurations").iterdir())
    assert scenarios == sorted(SCENARIOS)
    assert configs == sorted([*SUPPORTED, *REFUSED])
    for folder in ("hysteresis", "no-hysteresis"):
        found = sorted(p.name for p in (SHARED / "expected" / folder).iterdir())
        assert found == sorted(f"{s}__{c}.csv" for s in SCENARIOS for c in (*SUPPORTED, *REFUSED))


@pytest.mark.parametrize(("scenario", "conf", "hysteresis"), CASES)
def test_matches_daidalus_alerting(scenario: str, conf: str, hysteresis: bool) -> None:
    daa = SHARED / "scenarios" / scenario
    conf_path = SHARED / "configurations" / f"{conf}.conf"
    if conf in REFUSED:
        with pytest.raises(DaidalusError) as refused:
            run_encounter(daa, conf_path, hysteresis=hysteresis)
        message = str(refused.value)
        assert str(conf_path) in message
        assert "load_core_detection" in message
        assert REFUSED[conf] in message
        assert "not supported" in message
        return
    header, _, rows = expected_table(expected_path(scenario, conf, hysteresis))
    frame = run_encounter(daa, conf_path, hysteresis=hysteresis)
    assert list(frame.columns) == header[: len(frame.columns)]
    assert len(frame) == len(rows)
    assert frame["Ownship"].tolist() == [r[1] for r in rows]
    assert frame["Traffic"].tolist() == [r[2] for r in rows]
    np.testing.assert_array_equal(frame["Time"].to_numpy(), [float(r[0]) for r in rows])
    np.testing.assert_array_equal(frame["Alerter"].to_numpy(), [int(r[3]) for r in rows])
    levels = frame["Alert Level"].to_numpy()
    expected_levels = np.array([int(r[4]) for r in rows])
    mismatch = np.flatnonzero(levels != expected_levels)
    assert mismatch.size == 0, (
        f"first mismatching alert level at t={frame['Time'].iloc[mismatch[0]]}: "
        f"{levels[mismatch[0]]} != {expected_levels[mismatch[0]]}"
    )
    for k, name in enumerate(header[5:], start=5):
        ours = frame[name].to_numpy(dtype=np.float64)
        theirs = np.array([parse(r[k]) for r in rows])
        same_kind = (np.isnan(ours) == np.isnan(theirs)) & (np.isinf(ours) == np.isinf(theirs))
        assert same_kind.all(), f"{name}: inf/blank differ at row {np.flatnonzero(~same_kind)[0]}"
        finite = np.isfinite(theirs)
        tolerance = TIME_TOLERANCE_S if name.startswith("Time to Volume") else PRINTED_TOLERANCE
        np.testing.assert_allclose(
            ours[finite], theirs[finite], rtol=0, atol=tolerance, err_msg=name
        )
        np.testing.assert_array_equal(ours[np.isinf(theirs)], theirs[np.isinf(theirs)])


@pytest.mark.parametrize("conf", SUPPORTED)
def test_csv_layout_is_daidalus_alertings(conf: str, tmp_path: Path) -> None:
    """Header and units rows byte for byte; rows cell for cell (numbers within 1e-6)."""
    scenario = "H1_SUM.daa"
    path = expected_path(scenario, conf, True)
    _, head, rows = expected_table(path)
    frame = run_encounter(
        SHARED / "scenarios" / scenario, SHARED / "configurations" / f"{conf}.conf"
    )
    out = tmp_path / "alerts.csv"
    write_alerts(frame, out)
    written = out.read_text(encoding="utf-8").splitlines()
    assert written[:2] == head
    assert len(written) == len(rows) + 2
    for ours, theirs in zip(written[2:], rows, strict=True):
        cells = ours.split(", ")
        assert len(cells) == len(theirs)  # including DaidalusAlerting's closing separator
        assert cells[:5] == theirs[:5]
        for mine, ref in zip(cells[5:], theirs[5:], strict=True):
            if ref.strip() in ("", "infty"):
                assert mine == ref
            else:
                assert abs(float(mine) - float(ref)) <= PRINTED_TOLERANCE
    for row in rows:  # the number format itself: every reference number prints back identically
        for cell in row[5:]:
            if cell.strip() not in ("", "infty"):
                assert format_number(float(cell)) == cell.strip()


def test_number_format_is_daidalus_fmprecision() -> None:
    assert format_number(0.0) == "0.0"
    assert format_number(17000.0) == "17000.0"
    assert format_number(4.55919) == "4.55919"
    assert format_number(165.2688714) == "165.268871"
    assert format_number(math.inf) == "infty"
    assert format_number(-math.inf) == "-infty"
    assert format_number(math.nan) == "NaN"
    assert format_number(-1e-8) == "0.0"  # no negative zero
    assert format_number(-0.5) == "-0.5"


@pytest.mark.parametrize("name", sorted(set(PRESETS)))
def test_presets_equal_the_shipped_configurations(name: str) -> None:
    assert read_conf(SHARED / "configurations" / f"{name}.conf").config == preset(name)


def test_wind_changes_the_projection_not_the_picture() -> None:
    """C1 with a 40 kt wind: same levels as without, times differ by well under a second."""
    conf = SHARED / "configurations" / "DO_365B_no_SUM.conf"
    calm = run_encounter(SHARED / "scenarios" / "C1_0_120.daa", conf, hysteresis=False)
    windy = run_encounter(SHARED / "scenarios" / "C1_0_120_W.daa", conf, hysteresis=False)
    column = "Time to Volume of Alert(3)"
    both = np.isfinite(calm[column]) & np.isfinite(windy[column])
    assert both.sum() > 50
    gap = (calm[column] - windy[column])[both].abs()
    assert 0 < gap.max() < 0.1
    closure = (calm["Horizontal Closure Rate"] - windy["Horizontal Closure Rate"]).abs()
    assert 0 < closure.max() < 0.1


def test_frame_carries_units() -> None:
    frame = run_encounter(
        SHARED / "scenarios" / "H1.daa", SHARED / "configurations" / "DO_365B_no_SUM.conf"
    )
    units = frame.attrs["units"]
    assert units["Horizontal Separation"] == "nmi"
    assert units["Vertical Separation"] == "ft"
    assert units["Projected TAUMOD (WCV*)"] == "s"
    assert isinstance(frame, pd.DataFrame)
