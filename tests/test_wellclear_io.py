"""DAIDALUS files as they are: encounter and configuration readers, located errors, the CSV."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from skysep import units
from skysep.errors import SkySepError
from skysep.io.daidalus import (
    DaidalusError,
    read_conf,
    read_daa,
    run_encounter,
    wellclear_frame,
    write_alerts,
)
from skysep.wellclear import alert_fleet, preset

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "daidalus"

HEADER = "NAME, lat, lon, alt, trk, gs, vs, time\n"
UNITS_ROW = "[none], [deg], [deg], [ft], [deg], [knot], [fpm], [s]\n"
ROWS = [
    "Own, 45.0, 7.0, 10000.0, 0.0, 200.0, 0.0, 0.0\n",
    "Intruder, 45.1, 7.0, 10300.0, 180.0, 200.0, -500.0, 0.0\n",
    "Own, 45.001, 7.0, 10000.0, 0.0, 200.0, 0.0, 1.0\n",
    "Intruder, 45.099, 7.0, 10292.0, 180.0, 200.0, -500.0, 1.0\n",
]

ALERTER = """\
lookahead_time = 120.0 [s]
alerters = Small,Big
Small_alert_1_region = NEAR
Small_alert_1_alerting_time = 60.0 [s]
Small_alert_1_early_alerting_time = 60.0 [s]
Small_alert_1_detector = det_1
Small_det_1_WCV_DTHR = 0.5 [nmi]
Small_det_1_WCV_ZTHR = 450.0 [ft]
Small_det_1_WCV_TTHR = 0.0 [s]
Small_det_1_WCV_TCOA = 0.0 [s]
Small_load_core_detection_det_1 = gov.nasa.larcfm.ACCoRD.WCV_TAUMOD
Big_alert_1_region = NONE
Big_alert_1_alerting_time = 60.0 [s]
Big_alert_1_early_alerting_time = 60.0 [s]
Big_alert_1_detector = cyl
Big_cyl_D = 5.0 [nmi]
Big_cyl_H = 1000.0 [ft]
Big_load_core_detection_cyl = gov.nasa.larcfm.ACCoRD.CDCylinder
Big_alert_2_region = NEAR
Big_alert_2_alerting_time = 30.0 [s]
Big_alert_2_early_alerting_time = 40.0 [s]
Big_alert_2_detector = cyl
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def daa(
    tmp_path: Path, *, header: str = HEADER, units_row: str = UNITS_ROW, rows: list[str] = ROWS
) -> Path:
    return write(tmp_path, "enc.daa", "# a comment\n" + header + units_row + "".join(rows))


def test_encounter_is_read_in_si_with_the_ownship_first(tmp_path: Path) -> None:
    encounter = read_daa(daa(tmp_path))
    assert encounter.ownship == "Own"
    assert encounter.geodetic
    assert not encounter.has_air_velocity
    np.testing.assert_array_equal(encounter.times_s, [0.0, 1.0])
    step = encounter.steps[1]
    assert step.aircraft.tolist() == ["Own", "Intruder"]
    assert step.lat_deg is not None
    np.testing.assert_array_equal(step.lat_deg, [45.001, 45.099])
    np.testing.assert_array_equal(step.alt_m, units.ft_to_m(np.array([10000.0, 10292.0])))
    np.testing.assert_allclose(step.vn_mps, units.kt_to_mps(np.array([200.0, -200.0])))
    np.testing.assert_allclose(step.vz_mps, units.fpm_to_mps(np.array([0.0, -500.0])))
    assert encounter.lines[1] == (6, 7)  # comment, header and units rows come first


def test_other_units_give_the_same_states(tmp_path: Path) -> None:
    deg = read_daa(daa(tmp_path)).steps[0]
    rows = [
        "Own, 0.7853981633974483, 0.12217304763960307, 3048.0, 0.0, 102.88888888888889, 0.0, 0.0\n",
        "Intruder, 0.7871434926494426, 0.12217304763960307, 3139.44, 3.141592653589793, "
        "102.88888888888889, -2.54, 0.0\n",
    ]
    units_row = "[none], [rad], [rad], [m], [rad], [m/s], [m/s], [s]\n"
    other = read_daa(daa(tmp_path, units_row=units_row, rows=rows)).steps[0]
    for name in ("lat_deg", "lon_deg", "alt_m", "ve_mps", "vn_mps", "vz_mps"):
        np.testing.assert_allclose(getattr(other, name), getattr(deg, name), rtol=1e-12, atol=1e-9)


def test_no_units_row_means_daidalus_defaults(tmp_path: Path) -> None:
    header = "NAME lat lon alt trk gs vs time\n"
    rows = [r.replace(",", " ") for r in ROWS]
    encounter = read_daa(daa(tmp_path, header=header, units_row="", rows=rows))
    reference = read_daa(daa(tmp_path))
    np.testing.assert_array_equal(encounter.steps[0].alt_m, reference.steps[0].alt_m)
    np.testing.assert_array_equal(encounter.steps[0].vn_mps, reference.steps[0].vn_mps)


def test_local_encounter_and_wind_columns() -> None:
    local = read_daa(SHARED / "scenarios" / "H0_0_120.xyz")
    assert not local.geodetic
    step = local.steps[0]
    assert step.x_m is not None
    np.testing.assert_allclose(step.x_m, units.nm_to_m(np.array([-3.333333, 5.0])))
    windy = read_daa(SHARED / "scenarios" / "C1_0_120_W.daa")
    assert windy.has_air_velocity
    own = windy.steps[0]
    assert own.air_ve_mps is not None
    assert own.air_vn_mps is not None
    wind_kt = units.mps_to_kt(
        math.hypot(own.ve_mps[0] - own.air_ve_mps[0], own.vn_mps[0] - own.air_vn_mps[0])
    )
    assert wind_kt == pytest.approx(40.0, abs=1e-3)  # the file's 40 kt wind


@pytest.mark.parametrize(
    ("rows", "units_row", "expected"),
    [
        (
            [ROWS[0], "Intruder, 45.1, seven, 10300.0, 180.0, 200.0, -500.0, 0.0\n"],
            UNITS_ROW,
            [":5:", "'lon'", "'seven'", "not a number"],
        ),
        (
            [ROWS[0], "Intruder, 45.1, 7.0, 10300.0, 180.0, 200.0, 0.0\n"],
            UNITS_ROW,
            [":5:", "7 field(s)", "the header has 8"],
        ),
        (ROWS, UNITS_ROW.replace("[ft]", "[furlong]"), ["'alt'", "'furlong'", "ft, "]),
        (ROWS, UNITS_ROW.replace("[ft]", "[s]"), ["'alt'", "not a valid length unit"]),
        ([ROWS[0], ROWS[1], ROWS[3]], UNITS_ROW, ["ownship 'Own'", "time 1.0", "'Intruder'"]),
        ([ROWS[0], ROWS[1], ROWS[0]], UNITS_ROW, [":6:", "'Own'", "second state", "line 4"]),
    ],
)
def test_encounter_errors_name_file_line_column_and_value(
    tmp_path: Path, rows: list[str], units_row: str, expected: list[str]
) -> None:
    path = daa(tmp_path, units_row=units_row, rows=rows)
    with pytest.raises(DaidalusError) as error:
        read_daa(path)
    message = str(error.value)
    assert str(path) in message
    for fragment in expected:
        assert fragment in message
    assert isinstance(error.value, SkySepError)


def test_encounter_structure_errors(tmp_path: Path) -> None:
    with pytest.raises(DaidalusError, match="no such file"):
        read_daa(tmp_path / "missing.daa")
    with pytest.raises(DaidalusError, match=r"no sz\|alt\|altitude column"):
        read_daa(daa(tmp_path, header="NAME, lat, lon, height, trk, gs, vs, time\n"))
    with pytest.raises(DaidalusError, match=r":2: configuration line 'lookahead_time = 60"):
        read_daa(write(tmp_path, "p.daa", "# c\nlookahead_time = 60 [s]\n" + HEADER + ROWS[0]))
    with pytest.raises(DaidalusError, match="no aircraft state"):
        read_daa(daa(tmp_path, rows=[]))


def test_configuration_is_read_in_si(tmp_path: Path) -> None:
    configuration = read_conf(write(tmp_path, "a.conf", ALERTER))
    config = configuration.config
    assert config.lookahead_s == 120.0
    assert [a.name for a in config.alerters] == ["Small", "Big"]
    small, big = config.alerters
    assert small.levels[0].volume.kind == "taumod"
    assert small.levels[0].volume.dthr_m == units.nm_to_m(0.5)
    assert big.levels[1].volume.kind == "cylinder"
    assert big.levels[1].early_alerting_time_s == 40.0
    # DAIDALUS's defaults for what the file does not set
    assert (config.hysteresis_time_s, config.alerting_m, config.ownship_centric) == (0.0, 0, True)
    assert configuration.output_units == {
        "horizontal": "nmi",
        "vertical": "ft",
        "horizontal_speed": "knot",
        "vertical_speed": "fpm",
    }


@pytest.mark.parametrize(
    ("replace_from", "replace_to", "expected"),
    [
        (
            "Small_alert_1_region = NEAR",
            "Small_alert_1_region = NEAR\nSmall_alert_1_spread_hdir = 15.0 [deg]",
            ["key 'Small_alert_1_spread_hdir' = '15.0'", "kinematic alerting", "not supported"],
        ),
        ("lookahead_time", "dta_logic = 1\nlookahead_time", ["key 'dta_logic' = '1'", "DTA"]),
        ("alerters = Small,Big", "alerters = ", ["'alerters'", "missing or empty"]),
        ("= NEAR", "= CLOSE", ["key 'Small_alert_1_region' = 'CLOSE'", "NONE, FAR, MID, NEAR"]),
        (
            "ACCoRD.CDCylinder",
            "ACCoRD.Ellipsoid",
            ["'Big_load_core_detection_cyl' = 'gov.nasa.larcfm.ACCoRD.Ellipsoid'", "supported:"],
        ),
        (
            "WCV_DTHR = 0.5",
            "WCV_DTHR = half",
            ["key 'Small_det_1_WCV_DTHR' = 'half'", "not a number"],
        ),
        ("WCV_DTHR = 0.5 [nmi]", "WCV_DTHR = 0.5 [s]", ["'Small_det_1_WCV_DTHR'", "length unit"]),
        ("Small_det_1_WCV_TTHR = 0.0 [s]\n", "", ["key 'Small_det_1_WCV_TTHR' is missing"]),
        ("Big_cyl_H = 1000.0 [ft]", "Big_cyl_H 1000.0", ["'Big_cyl_H 1000.0'", "key = value"]),
        (
            "ACCoRD.WCV_TAUMOD",
            "ACCoRD.WCV_TAUMOD_SUM",
            ["'Small_load_core_detection_det_1'", "SUM", "not supported"],
        ),
    ],
)
def test_configuration_errors_name_file_line_key_and_value(
    tmp_path: Path, replace_from: str, replace_to: str, expected: list[str]
) -> None:
    text = ALERTER.replace(replace_from, replace_to, 1)
    assert text != ALERTER
    path = write(tmp_path, "bad.conf", text)
    with pytest.raises(DaidalusError) as error:
        read_conf(path)
    message = str(error.value)
    assert message.startswith(str(path))
    for fragment in expected:
        assert fragment in message


def test_alerters_with_fewer_levels_leave_columns_blank(tmp_path: Path) -> None:
    rows = [
        "Own, 45.0, 7.0, 10000.0, 0.0, 200.0, 0.0, 0.0, 1\n",
        "Near, 45.05, 7.0, 10000.0, 180.0, 200.0, 0.0, 0.0, 1\n",
        "Cyl, 45.05, 7.01, 10200.0, 180.0, 200.0, 0.0, 0.0, 2\n",
        "Ignored, 45.05, 7.02, 10200.0, 180.0, 200.0, 0.0, 0.0, 3\n",
    ]
    path = daa(
        tmp_path,
        header=HEADER.replace("time", "time, alerter"),
        units_row=UNITS_ROW.replace("[s]", "[s], [none]"),
        rows=rows,
    )
    conf = write(
        tmp_path,
        "a.conf",
        ALERTER.replace("lookahead", "ownship_centric_alerting = false\nlookahead"),
    )
    frame = run_encounter(path, conf)
    # alerter 3 does not exist: DaidalusAlerting skips the pair
    assert frame["Traffic"].tolist() == ["Near", "Cyl"]
    assert frame["Alerter"].tolist() == [1, 2]
    assert math.isnan(frame["Time to Volume of Alert(2)"].iloc[0])
    assert math.isfinite(frame["Time to Volume of Alert(2)"].iloc[1])
    assert "Projected TAUMOD (WCV*)" in frame.columns  # alerter 1's corrective (NEAR) volume
    out = tmp_path / "alerts.csv"
    write_alerts(frame, out)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith(" Time, Ownship, Traffic, Alerter, Alert Level, Time to Volume")
    assert lines[1].startswith("[s],,,,, [s], [s], [nmi], [ft]")
    first = lines[2].split(", ")
    assert first[:3] == ["0.0", "Own", "Near"]
    assert first[6] == ""  # level 2 of a one-level alerter


def test_fleet_alerts_table_is_si_with_units_in_names() -> None:
    encounter = read_daa(SHARED / "scenarios" / "H1.daa")
    traffic = encounter.steps[160]  # the intruder is about 8 nmi away, alerting
    alerts, _ = alert_fleet(traffic, preset("DO_365B_no_SUM"), report="all")
    frame = wellclear_frame(alerts)
    assert list(frame.columns[:4]) == ["ownship", "traffic", "alerter", "alert_level"]
    assert {"t_in_s_1", "t_out_s_3", "h_now_m", "v_now_m"} <= set(frame.columns)
    assert frame["alert_level"].tolist() == [3, 3]  # both ways round
    assert frame["h_now_m"].iloc[0] == pytest.approx(units.nm_to_m(8.939356), rel=1e-6)
