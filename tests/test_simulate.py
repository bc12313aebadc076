"""The traffic simulator: scenario files, kinematics, noise, and the encounters it scripts.

The encounters are checked the way a user would: the simulator's reports are
written to a track file, read back by ``skysep replay``'s reader and replayed
under an agreement preset.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from pyproj import Geod

from skysep import units
from skysep.agreement import preset
from skysep.io.tracks import read_tracks
from skysep.replay import ReplayOptions, ReplayResult, replay
from skysep.simulate import (
    BUILTIN_SCENARIOS,
    ENCOUNTERS,
    PATTERNS,
    Scenario,
    SimulateError,
    builtin_scenario,
    builtin_scenario_text,
    load_scenario,
    loads_scenario,
    reports_table,
    simulate,
    simulate_tracks,
    turn_radius_m,
    turn_rate_rad_per_s,
    write_reports,
)
from skysep.simulate._scenario import G_MPS2, STANDARD_RATE_DEG_PER_S

ROOT = Path(__file__).resolve().parents[1]
GEOD = Geod(ellps="WGS84")

HEAD = """
name = "test"
start = 2026-11-27T12:00:00Z
duration_s = 1200
report_interval_s = 2

[area]
lat = 45.0
lon = 10.0
radius_nm = 150

[[parties]]
id = "north"

[[parties]]
id = "south"
"""

ORBIT = """
[[aircraft]]
id = "N1"
party = "north"
pattern = "orbit"
centre = { lat = 45.2, lon = 10.1 }
radius_nm = 10
alt_ft = 25000
speed_kt = 300
"""


def scenario(*tables: str, head: str = HEAD) -> Scenario:
    return loads_scenario(head + "\n".join(tables), "test.toml")


def per_aircraft(tracks: object, aircraft: str) -> dict[str, np.ndarray]:
    mine = tracks.aircraft == aircraft  # type: ignore[attr-defined]
    names = ("time_s", "lat_deg", "lon_deg", "alt_m", "gs_mps", "track_deg", "vs_mps")
    return {name: getattr(tracks, name)[mine] for name in names}


def wrap_deg(angle: np.ndarray) -> np.ndarray:
    return (angle + 180.0) % 360.0 - 180.0


def turning_rad_per_s(tracks: dict[str, np.ndarray]) -> np.ndarray:
    """How fast the track turns between reports, against a geodesic: the track
    (from true north) minus the convergence of the meridians, sin(lat) d(lon),
    which a geodesic's azimuth follows (Clairaut)."""
    d_track = np.radians(wrap_deg(np.diff(tracks["track_deg"])))
    d_lon = np.radians(wrap_deg(np.diff(tracks["lon_deg"])))
    lat = np.radians((tracks["lat_deg"][1:] + tracks["lat_deg"][:-1]) / 2)
    turned: np.ndarray = (d_track - d_lon * np.sin(lat)) / np.diff(tracks["time_s"])
    return turned


# --- scenario files ------------------------------------------------------------------------------


def test_a_scenario_reads_in_si_units() -> None:
    read = scenario(ORBIT)
    assert read.start_s == 1_795_780_800.0  # 2026-11-27T12:00:00Z
    assert read.party_ids == ("north", "south")
    (orbit,) = read.aircraft
    assert orbit.pattern_name == "orbit"
    assert orbit.speed_mps == pytest.approx(300 * 1852 / 3600)
    assert orbit.alt_m == pytest.approx(25000 * 0.3048)
    assert orbit.pattern.radius_m == pytest.approx(10 * 1852)  # type: ignore[union-attr]
    assert orbit.pattern.direction == "right"  # type: ignore[union-attr]  # the default
    assert read.noise.position_m == 0
    assert read.seed == 0


def test_load_scenario_takes_a_file_text_or_builtin_name(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(HEAD + ORBIT, encoding="utf-8")
    assert load_scenario(path).source == str(path)
    assert load_scenario(str(path)).aircraft == load_scenario(HEAD + ORBIT).aircraft
    assert load_scenario("two-party-drill").name == "Two-party drill"
    path.write_text(HEAD + ORBIT.replace("speed_kt = 300", "speed_kt = -5"), encoding="utf-8")
    with pytest.raises(SimulateError) as error:
        load_scenario(path)
    assert str(error.value) == (f"{path}: aircraft[0].speed_kt: -5 is out of range [1, 2000]")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ('pattern = "orbit"', 'pattern = "zigzag"'),
            "test.toml: aircraft[0].pattern: 'zigzag' is not a valid option, must be one of "
            + ", ".join(PATTERNS),
        ),
        (("speed_kt = 300", "speed_kt = 0"), "aircraft[0].speed_kt: 0 is out of range [1, 2000]"),
        (("speed_kt = 300", 'speed_kt = "fast"'), "aircraft[0].speed_kt: 'fast' is not a number"),
        (("speed_kt = 300\n", ""), "aircraft[0].speed_kt: missing (required)"),
        (
            ('party = "north"', 'party = "east"'),
            "aircraft[0].party: 'east' is not a valid option, must be one of north, south",
        ),
        (
            ("radius_nm = 10", "radius_mn = 10"),
            "aircraft[0]: unknown key 'radius_mn' (did you mean 'radius_nm'?)",
        ),
        (
            ("radius_nm = 10", "radius_nm = 0.5"),
            "aircraft[0].radius_nm: 0.5 is a tighter circle than this aircraft can fly at 300 kt "
            "and at most 25 deg of bank (smallest radius_nm 2.81)",
        ),
        (
            ("lat = 45.2, lon = 10.1", "lat = 48.2, lon = 10.1"),
            "aircraft[0].centre: (48.2, 10.1) is 192.1 NM from the area's centre, outside its "
            "radius_nm 150",
        ),
        (("lat = 45.2,", "lat = 95,"), "aircraft[0].centre.lat: 95 is out of range [-90, 90]"),
        (("alt_ft = 25000", 'alt_ft = 25000\ndirection = "up"'), "'up' is not a valid option"),
    ],
)
def test_aircraft_errors_name_the_key_and_the_value(change: tuple[str, str], message: str) -> None:
    old, new = change
    text = ORBIT.replace(old, new)
    assert old in ORBIT
    with pytest.raises(SimulateError) as error:
        scenario(text)
    assert message in str(error.value)
    assert str(error.value).startswith("test.toml: ")


ENCOUNTER = """
[[encounters]]
kind = "crossing"
at = { lat = 45.0, lon = 10.0 }
time_s = 600
alt_ft = 30000
aircraft = [
  { id = "N9", party = "north", heading_deg = 90, speed_kt = 400 },
  { id = "S9", party = "south", heading_deg = 180, speed_kt = 400 },
]
"""


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ('kind = "crossing"', 'kind = "overtake"'),
            "encounters[0].kind: 'overtake' is not a valid option, must be one of "
            + ", ".join(ENCOUNTERS),
        ),
        (
            ("heading_deg = 180", "heading_deg = 100"),
            "encounters[0].aircraft[1].heading_deg: headings 90 and 100 differ by 10 deg; "
            "a crossing needs 30 to 150 deg",
        ),
        (
            ('kind = "crossing"', 'kind = "head_on"'),
            "encounters[0].aircraft[1].heading_deg: headings 90 and 180 differ by 90 deg; "
            "a head_on needs at least 150 deg",
        ),
        (
            ('kind = "crossing"', 'kind = "near_miss"'),
            "encounters[0].miss_m: missing (required)",
        ),
        (
            ('kind = "crossing"', 'kind = "near_miss"\nmiss_m = 0'),
            "encounters[0].miss_m: 0 is out of range (0, 5000]",
        ),
        (
            ('kind = "crossing"', 'kind = "climbing_through"'),
            "encounters[0].aircraft: a climbing_through needs exactly one aircraft with a "
            "vs_fpm other than 0 (got 0 and 0)",
        ),
        (
            ("speed_kt = 400 },\n  { id", "speed_kt = 400, vs_fpm = 2000 },\n  { id"),
            "encounters[0].aircraft[0].vs_fpm: vs_fpm is only for kind = 'climbing_through'",
        ),
        (("time_s = 600", "time_s = 1300"), "encounters[0].time_s: 1300 is out of range [0, 1200]"),
        (('id = "S9"', 'id = "N9"'), "encounters[0].aircraft[1].id: 'N9' is already the id of "),
        (
            (
                "aircraft = [",
                'aircraft = [\n  { id = "X", party = "north", heading_deg = 0, speed_kt = 100 },',
            ),
            "encounters[0].aircraft: 3 aircraft: an encounter has exactly 2",
        ),
    ],
)
def test_encounter_errors_name_the_key_and_the_value(change: tuple[str, str], message: str) -> None:
    old, new = change
    assert old in ENCOUNTER
    with pytest.raises(SimulateError) as error:
        scenario(ENCOUNTER.replace(old, new))
    assert message in str(error.value)


def test_an_encounter_of_two_aircraft_with_one_velocity_is_refused() -> None:
    text = ENCOUNTER.replace('kind = "crossing"', 'kind = "near_miss"\nmiss_m = 900').replace(
        "heading_deg = 180", "heading_deg = 90"
    )
    with pytest.raises(SimulateError, match="same velocity: they never close in"):
        scenario(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name = [", "test.toml: not valid TOML"),
        (
            HEAD.replace("2026-11-27T12:00:00Z", "2026-11-27T12:00:00") + ORBIT,
            "test.toml: start: datetime.datetime(2026, 11, 27, 12, 0) is not a date and time "
            "with a UTC offset",
        ),
        (HEAD.replace("duration_s = 1200", "duration_s = 0") + ORBIT, "duration_s: 0 is out"),
        ("colour = 'red'\n" + HEAD + ORBIT, "test.toml: unknown key 'colour'"),
        (HEAD, "test.toml: no [[aircraft]] and no [[encounters]]: nothing would fly"),
        (
            HEAD + ORBIT + "[noise]\njitter_s = 1.0\n",
            "test.toml: noise.jitter_s: 1.0 must be less than half the report interval (1 s)",
        ),
        (HEAD + ORBIT + "[noise]\ndrop_fraction = 2\n", "noise.drop_fraction: 2 is out of range"),
        (
            HEAD + ORBIT + ORBIT,
            "test.toml: aircraft[1].id: 'N1' is already the id of aircraft[0]",
        ),
        (
            HEAD.replace('id = "south"', 'id = "north"') + ORBIT,
            "test.toml: parties[1].id: party 'north' is declared twice",
        ),
    ],
)
def test_scenario_errors(text: str, message: str) -> None:
    with pytest.raises(SimulateError) as error:
        loads_scenario(text, "test.toml")
    assert message in str(error.value)


PATROL = """
[[aircraft]]
id = "P1"
party = "south"
pattern = "patrol"
waypoints = [
  { lat = 44.6, lon = 9.5 },
  { lat = 44.6, lon = 10.5 },
  { lat = 44.3, lon = 10.5 },
]
alt_ft = 20000
speed_kt = SPEED
"""


def test_a_patrol_leg_too_short_for_its_turns_is_refused() -> None:
    # A rectangle 0.1 deg (11.1 km) high: each 90 deg corner cuts one turn radius
    # (6.3 NM at 450 kt and 25 deg of bank) off both legs it joins.
    text = PATROL.replace("SPEED", "450").replace(
        "{ lat = 44.3, lon = 10.5 },", "{ lat = 44.5, lon = 10.5 },\n  { lat = 44.5, lon = 9.5 },"
    )
    radius_m = turn_radius_m(450 * units.MPS_PER_KT, 25.0)
    with pytest.raises(SimulateError) as error:
        scenario(text)
    assert str(error.value) == (
        "test.toml: aircraft[0].waypoints: the leg from waypoints[1] to waypoints[2] is "
        f"11.11 km long, shorter than the {2 * radius_m / 1000:.2f} km its turns need at 450 kt "
        f"and 25 deg of bank (turn radius {units.m_to_nm(radius_m):.2f} NM)"
    )


# --- kinematics ----------------------------------------------------------------------------------


def test_an_orbit_is_a_circle_flown_at_its_speed_and_turn_rate() -> None:
    read = scenario(ORBIT)
    tracks = per_aircraft(simulate_tracks(read), "N1")
    speed = 300 * units.MPS_PER_KT
    radius = 10 * units.M_PER_NM
    _, _, from_centre = GEOD.inv(
        np.full(len(tracks["lat_deg"]), 10.1),
        np.full(len(tracks["lat_deg"]), 45.2),
        tracks["lon_deg"],
        tracks["lat_deg"],
    )
    np.testing.assert_allclose(from_centre, radius, rtol=1e-6)
    _, _, step = GEOD.inv(
        tracks["lon_deg"][:-1], tracks["lat_deg"][:-1], tracks["lon_deg"][1:], tracks["lat_deg"][1:]
    )
    dt = np.diff(tracks["time_s"])
    # Successive reports are joined by a chord of the circle: 2 r sin(w dt / 2).
    rate = speed / radius
    np.testing.assert_allclose(step, 2 * radius * np.sin(rate * dt / 2), rtol=1e-5)
    np.testing.assert_allclose(tracks["gs_mps"], speed, rtol=1e-5)
    np.testing.assert_allclose(turning_rad_per_s(tracks), rate, rtol=1e-4)  # right: clockwise
    assert np.all(tracks["alt_m"] == pytest.approx(25000 * 0.3048))
    assert np.all(tracks["vs_mps"] == 0)
    assert len(tracks["time_s"]) == 601  # every 2 s from 0 to 1200 s inclusive


@pytest.mark.parametrize(("speed_kt", "bank_limited"), [(150, False), (450, True)])
def test_patrol_turns_at_standard_rate_or_at_the_bank_limit(
    speed_kt: float, bank_limited: bool
) -> None:
    read = scenario(PATROL.replace("SPEED", str(speed_kt)))
    tracks = per_aircraft(simulate_tracks(read), "P1")
    speed = speed_kt * units.MPS_PER_KT
    expected = turn_rate_rad_per_s(speed, 25.0)
    if bank_limited:
        assert expected == pytest.approx(G_MPS2 * math.tan(math.radians(25.0)) / speed)
        assert expected < math.radians(STANDARD_RATE_DEG_PER_S)
    else:
        assert expected == pytest.approx(math.radians(STANDARD_RATE_DEG_PER_S))
    rates = np.abs(turning_rad_per_s(tracks))
    # Turning all the way between two reports: the turn rate, not more (a report
    # interval that straddles the start or end of a turn shows less).
    assert rates.max() == pytest.approx(expected, rel=1e-3)
    bank = np.degrees(np.arctan(speed * rates.max() / G_MPS2))
    assert bank <= 25.0 + 0.05
    np.testing.assert_allclose(tracks["gs_mps"], speed, rtol=1e-4)
    _, _, step = GEOD.inv(
        tracks["lon_deg"][:-1], tracks["lat_deg"][:-1], tracks["lon_deg"][1:], tracks["lat_deg"][1:]
    )
    assert step.max() <= speed * 2 * (1 + 1e-4)
    # Three turns per loop, all to the right (clockwise) for these waypoints.
    assert turning_rad_per_s(tracks).min() > -1e-5


def test_a_tanker_track_repeats_with_the_period_of_its_racetrack() -> None:
    text = """
[[aircraft]]
id = "T1"
party = "north"
pattern = "tanker"
anchor = { lat = 45.0, lon = 9.0 }
heading_deg = 90
length_nm = 40
direction = "left"
alt_ft = 22000
speed_kt = 300
"""
    read = scenario(text, head=HEAD.replace("duration_s = 1200", "duration_s = 7200"))
    tracks = per_aircraft(simulate_tracks(read), "T1")
    speed = 300 * units.MPS_PER_KT
    radius = speed / turn_rate_rad_per_s(speed, 25.0)
    period = (2 * 40 * units.M_PER_NM + 2 * math.pi * radius) / speed
    t = tracks["time_s"] - tracks["time_s"][0]
    # First leg: on the heading from the anchor; after its length, turning left.
    # First leg: the geodesic leaving the anchor on the heading (its azimuth grows
    # eastwards by the convergence of the meridians); then a turn to the left.
    first_leg = t < 40 * units.M_PER_NM / speed
    n = int(first_leg.sum())
    _, _, back = GEOD.fwd(np.full(n, 9.0), np.full(n, 45.0), np.full(n, 90.0), speed * t[first_leg])
    np.testing.assert_allclose(tracks["track_deg"][first_leg], (back + 180) % 360, atol=1e-3)
    assert turning_rad_per_s(tracks).min() < -0.9 * turn_rate_rad_per_s(speed, 25.0)
    later = (
        np.interp(t[:200] + period, t, tracks["lat_deg"]),
        np.interp(t[:200] + period, t, tracks["lon_deg"]),
    )
    _, _, apart = GEOD.inv(tracks["lon_deg"][:200], tracks["lat_deg"][:200], later[1], later[0])
    # Linear interpolation between 2 s reports on the straight leg: a few centimetres.
    assert apart.max() < 1.0
    assert tracks["lat_deg"].max() > 45.0 + radius * 2 / 111_000 * 0.99  # the leg back, north


def test_a_transit_climbs_at_its_rate_to_its_level_and_ends_at_its_destination() -> None:
    text = """
[[aircraft]]
id = "C1"
party = "north"
pattern = "transit"
from = { lat = 44.5, lon = 9.0 }
to = { lat = 45.5, lon = 10.5 }
alt_ft = 10000
speed_kt = 400
to_alt_ft = 30000
vs_fpm = 2500
climb_at_s = 100
start_s = 60
"""
    read = scenario(text)
    tracks = per_aircraft(simulate_tracks(read), "C1")
    t = tracks["time_s"] - read.start_s
    _, _, length = GEOD.inv(9.0, 44.5, 10.5, 45.5)
    arrival = 60 + length / (400 * units.MPS_PER_KT)
    assert t[0] == 60.0
    assert t[-1] <= arrival < t[-1] + 2
    _, _, to_go = GEOD.inv(tracks["lon_deg"][-1], tracks["lat_deg"][-1], 10.5, 45.5)
    assert to_go == pytest.approx((arrival - t[-1]) * 400 * units.MPS_PER_KT, abs=0.5)
    alt_ft = units.m_to_ft(tracks["alt_m"])
    vs_fpm = units.mps_to_fpm(tracks["vs_mps"])
    climb_start, climb_end = 160.0, 160.0 + 20000 / 2500 * 60
    level_before = t < climb_start
    climbing = (t >= climb_start) & (t < climb_end)
    assert np.all(alt_ft[level_before] == pytest.approx(10000))
    np.testing.assert_allclose(alt_ft[climbing], 10000 + 2500 * (t[climbing] - 160) / 60)
    np.testing.assert_allclose(vs_fpm[climbing], 2500)
    assert np.all(alt_ft[t >= climb_end] == pytest.approx(30000))
    assert np.all(vs_fpm[~climbing] == 0)
    np.testing.assert_allclose(tracks["gs_mps"], 400 * units.MPS_PER_KT, rtol=1e-6)


# --- noise and determinism -----------------------------------------------------------------------

NOISE = "[noise]\nposition_m = 50\nalt_ft = 20\njitter_s = 0.5\ndrop_fraction = 0.2\n"


def test_the_same_seed_gives_the_same_reports_and_another_seed_others() -> None:
    read = scenario(ORBIT, NOISE)
    one, two = simulate_tracks(read, seed=3), simulate_tracks(read, seed=3)
    other = simulate_tracks(read, seed=4)
    for name in ("time_s", "lat_deg", "lon_deg", "alt_m"):
        np.testing.assert_array_equal(getattr(one, name), getattr(two, name))
    assert len(one) != len(other) or not np.array_equal(one.lat_deg, other.lat_deg)
    # A shorter run is a prefix of a longer one (draws are made per chunk of ticks).
    short = simulate_tracks(read, seed=3, duration_s=700)
    np.testing.assert_array_equal(short.time_s, one.time_s[: len(short)])
    np.testing.assert_array_equal(short.lat_deg, one.lat_deg[: len(short)])
    assert one.time_s[len(short)] - read.start_s > 700


def test_noise_has_the_size_the_scenario_gives() -> None:
    text = ORBIT.replace("radius_nm = 10", "radius_nm = 20")
    head = HEAD.replace("duration_s = 1200", "duration_s = 7200")
    noisy = simulate_tracks(scenario(text, NOISE, head=head))
    clean = scenario(text, NOISE.replace("position_m = 50", "position_m = 0"), head=head)
    reference = simulate_tracks(clean)
    np.testing.assert_array_equal(noisy.time_s, reference.time_s)  # same draws otherwise
    n_ticks = 7200 // 2 + 1
    assert len(noisy) / n_ticks == pytest.approx(0.8, abs=0.03)
    offset = noisy.time_s - read_ticks(noisy.time_s, scenario(text, head=head))
    assert np.abs(offset).max() <= 0.5
    assert np.abs(offset).max() > 0.45
    _, _, apart = GEOD.inv(noisy.lon_deg, noisy.lat_deg, reference.lon_deg, reference.lat_deg)
    # Gaussian noise of 50 m on each axis: the distance is Rayleigh, mean 50 sqrt(pi/2).
    assert apart.mean() == pytest.approx(50 * math.sqrt(math.pi / 2), rel=0.05)
    assert units.m_to_ft(noisy.alt_m - 25000 * 0.3048).std() == pytest.approx(20, rel=0.05)
    # Velocities are reported without noise.
    np.testing.assert_array_equal(noisy.gs_mps, reference.gs_mps)


def read_ticks(time_s: np.ndarray, read: Scenario) -> np.ndarray:
    interval = read.report_interval_s
    return read.start_s + np.round((time_s - read.start_s) / interval) * interval


def test_batches_come_one_per_tick_in_time_order() -> None:
    read = scenario(ORBIT, ENCOUNTER, NOISE)
    batches = list(simulate(read))
    assert len(batches) == 601
    ticks = np.array([b.time_s for b in batches])
    np.testing.assert_array_equal(ticks, read.start_s + 2.0 * np.arange(601))
    for batch in batches:
        assert np.all(np.abs(batch.reports.time_s - batch.time_s) <= 0.5)
        assert np.all(np.diff(batch.reports.time_s) >= 0)
    every = np.concatenate([b.reports.time_s for b in batches])
    assert np.all(np.diff(every) >= 0)


@pytest.mark.parametrize("bad", [0, -5.0, math.inf, math.nan])
def test_a_bad_duration_is_refused(bad: float) -> None:
    with pytest.raises(SimulateError, match="duration_s must be a positive finite number"):
        next(simulate(scenario(ORBIT), duration_s=bad))


# --- files ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_the_track_file_reads_back_as_the_same_reports(tmp_path: Path, suffix: str) -> None:
    read = scenario(ORBIT, ENCOUNTER, NOISE)
    tracks = simulate_tracks(read)
    path = write_reports(tracks, tmp_path / f"tracks{suffix}")
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left
    back = read_tracks(path).tracks
    assert len(back) == len(tracks)
    np.testing.assert_array_equal(back.aircraft, tracks.aircraft)
    np.testing.assert_array_equal(back.party, tracks.party)
    np.testing.assert_allclose(back.time_s, tracks.time_s, atol=1e-6)
    for name, atol in (
        ("lat_deg", 1e-7),
        ("lon_deg", 1e-7),
        ("alt_m", 1e-4),
        ("gs_mps", 1e-5),
        ("track_deg", 1e-6),
        ("vs_mps", 1e-6),
    ):
        np.testing.assert_allclose(getattr(back, name), getattr(tracks, name), atol=atol)
    assert list(reports_table(tracks).columns) == [
        "time",
        "aircraft",
        "party",
        "lat",
        "lon",
        "alt_ft",
        "gs_kt",
        "track_deg",
        "vs_fpm",
    ]


def test_an_unknown_output_type_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SimulateError, match=r"'\.txt' is not a valid output type"):
        write_reports(simulate_tracks(scenario(ORBIT), duration_s=10), tmp_path / "t.txt")
    assert list(tmp_path.iterdir()) == []


# --- scripted encounters, through skysep replay --------------------------------------------------

ENCOUNTERS_TEXT = """
[[encounters]]
kind = "crossing"
at = { lat = 45.3, lon = 10.4 }
time_s = 700
alt_ft = 27000
miss_m = 600
aircraft = [
  { id = "NX", party = "north", heading_deg = 45, speed_kt = 420 },
  { id = "SX", party = "south", heading_deg = 135, speed_kt = 400 },
]

[[encounters]]
kind = "crossing"
at = { lat = 44.6, lon = 10.4 }
time_s = 720
alt_ft = 27000
vertical_ft = 2000
aircraft = [
  { id = "NV", party = "north", heading_deg = 10, speed_kt = 420 },
  { id = "SV", party = "south", heading_deg = 100, speed_kt = 400 },
]

[[encounters]]
kind = "head_on"
at = { lat = 45.0, lon = 9.4 }
time_s = 740
alt_ft = 31000
aircraft = [
  { id = "NH", party = "north", heading_deg = 200, speed_kt = 450 },
  { id = "SH", party = "south", speed_kt = 430 },
]

[[encounters]]
kind = "climbing_through"
at = { lat = 45.5, lon = 9.5 }
time_s = 760
alt_ft = 20000
miss_m = 900
climb_ft = 4000
aircraft = [
  { id = "NC", party = "north", heading_deg = 300, speed_kt = 250 },
  { id = "SC", party = "south", heading_deg = 30, speed_kt = 250, vs_fpm = 3000 },
]

[[encounters]]
kind = "near_miss"
at = { lat = 44.6, lon = 9.5 }
time_s = 780
alt_ft = 23000
miss_m = 1500
aircraft = [
  { id = "NM", party = "north", heading_deg = 80, speed_kt = 380 },
  { id = "SM", party = "south", heading_deg = 330, speed_kt = 410 },
]
"""


@pytest.fixture(scope="module")
def encounter_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Scenario, Path]:
    read = scenario(ENCOUNTERS_TEXT)
    path = tmp_path_factory.mktemp("sim") / "encounters.parquet"
    write_reports(simulate(read), path)
    return read, path


def replayed(path: Path, preset_name: str) -> ReplayResult:
    return replay(read_tracks(path).tracks, preset(preset_name), ReplayOptions())


def incident_of(result: ReplayResult, a: str, b: str) -> int | None:
    pairs = list(zip(result.incidents.aircraft_a, result.incidents.aircraft_b, strict=True))
    found = [k for k, pair in enumerate(pairs) if set(pair) == {a, b}]
    assert len(found) <= 1, found
    return found[0] if found else None


def closing_speed_mps(read: Scenario, a: str, b: str) -> float:
    for encounter in read.encounters:
        if {p.id for p in encounter.aircraft} == {a, b}:
            first, second = encounter.aircraft
            velocities = [
                p.speed_mps
                * complex(
                    math.sin(math.radians(p.heading_deg)), math.cos(math.radians(p.heading_deg))
                )
                for p in (first, second)
            ]
            return abs(velocities[1] - velocities[0])
    raise AssertionError((a, b))


# Straight lines at constant speed between reports: the replay's interpolation is
# exact but for the sagitta of a 2 s chord of the Earth (< 1 cm) and the plane of
# the encounter's projection (1e-7 at 6 km), so a metre and a tenth of a second
# are generous tolerances, whatever the report interval.
MISS_TOLERANCE_M = 1.0
TIME_TOLERANCE_S = 0.1


@pytest.mark.parametrize(
    ("a", "b", "miss_m"),
    [("NX", "SX", 600.0), ("NH", "SH", 0.0), ("NC", "SC", 900.0), ("NM", "SM", 1500.0)],
)
def test_each_encounter_is_a_loss_at_its_time_place_and_miss_distance(
    encounter_file: tuple[Scenario, Path], a: str, b: str, miss_m: float
) -> None:
    read, path = encounter_file
    agreement = preset("rule-of-threes")
    result = replayed(path, "rule-of-threes")
    k = incident_of(result, a, b)
    assert k is not None
    incidents = result.incidents
    encounter = next(e for e in read.encounters if {p.id for p in e.aircraft} == {a, b})
    when = read.start_s + encounter.time_s
    assert incidents.min_h_m[k] == pytest.approx(miss_m, abs=MISS_TOLERANCE_M)
    assert incidents.time_of_min_s[k] == pytest.approx(when, abs=TIME_TOLERANCE_S)
    assert incidents.min_v_m[k] == pytest.approx(0.0, abs=0.01)
    _, _, off = GEOD.inv(
        incidents.lon_deg[k], incidents.lat_deg[k], encounter.at.lon_deg, encounter.at.lat_deg
    )
    assert off < 0.01  # the midpoint of the two aircraft then: the encounter's point
    # Level (or within 3000 ft) and straight: the loss begins when the distance
    # falls to H, sqrt(H^2 - miss^2) / closing speed before the closest approach.
    half_s = math.sqrt(agreement.horizontal_m**2 - miss_m**2) / closing_speed_mps(read, a, b)
    assert incidents.start_s[k] == pytest.approx(when - half_s, abs=TIME_TOLERANCE_S)
    assert incidents.end_s[k] == pytest.approx(when + half_s, abs=TIME_TOLERANCE_S)
    # The detector (300 s lookahead, 1 s steps) saw it coming from the first step
    # at which the loss was at most 300 s away: the encounter began 600 s before.
    assert agreement.lookahead_s - 1.0 <= incidents.lead_time_s[k] <= agreement.lookahead_s
    assert incidents.level_at_start[k] == "warning"
    assert {incidents.party_a[k], incidents.party_b[k]} == {"north", "south"}


def test_a_crossing_2000_ft_apart_is_a_loss_under_3000_ft_not_under_1000_ft(
    encounter_file: tuple[Scenario, Path],
) -> None:
    _, path = encounter_file
    threes = replayed(path, "rule-of-threes")
    k = incident_of(threes, "NV", "SV")
    assert k is not None
    assert threes.incidents.min_h_m[k] == pytest.approx(0.0, abs=MISS_TOLERANCE_M)
    assert threes.incidents.min_v_m[k] == pytest.approx(2000 * 0.3048, abs=0.01)
    assert incident_of(replayed(path, "icao-5nm"), "NV", "SV") is None


def test_climbing_through_is_a_loss_while_the_climber_is_within_the_vertical_minimum(
    encounter_file: tuple[Scenario, Path],
) -> None:
    read, path = encounter_file
    result = replayed(path, "icao-5nm")
    k = incident_of(result, "NC", "SC")
    assert k is not None
    when = read.start_s + 760
    # 1000 ft at 3000 ft/min: 20 s either side of passing 20,000 ft; the
    # horizontal loss (5 NM at 129 m/s closing speed) lasts longer.
    assert result.incidents.start_s[k] == pytest.approx(when - 20, abs=TIME_TOLERANCE_S)
    assert result.incidents.end_s[k] == pytest.approx(when + 20, abs=TIME_TOLERANCE_S)
    assert result.incidents.min_h_m[k] == pytest.approx(900, abs=MISS_TOLERANCE_M)
    # Level 2000 ft below until 40 s before: no alert could come before the
    # report that preceded the climb (2 s earlier), 22 s before the loss.
    assert 0 < result.incidents.lead_time_s[k] <= 22


# --- the shipped drill ---------------------------------------------------------------------------


def test_the_example_drill_is_the_packaged_one() -> None:
    example = (ROOT / "examples" / "scenarios" / "two-party-drill.toml").read_text(encoding="utf-8")
    assert example == builtin_scenario_text("two-party-drill")
    assert BUILTIN_SCENARIOS == ("two-party-drill",)


def test_the_drill_has_every_kind_of_encounter_between_the_two_parties(tmp_path: Path) -> None:
    drill = builtin_scenario()
    assert drill.party_ids == ("north", "south")
    assert {a.pattern_name for a in drill.aircraft} == set(PATTERNS)
    assert {a.party for a in drill.aircraft} == {"north", "south"}
    assert sorted(e.kind for e in drill.encounters) == sorted(ENCOUNTERS)
    path = write_reports(simulate(drill), tmp_path / "drill.parquet")
    result = replayed(path, "rule-of-threes")
    assert drill.noise.position_m == 20
    for encounter in drill.encounters:
        first, second = encounter.aircraft
        assert {first.party, second.party} == {"north", "south"}
        k = incident_of(result, first.id, second.id)
        assert k is not None, encounter.kind
        # Position noise of 20 m per axis on each aircraft: 28 m on the relative
        # position's axis; the minimum over the reports near the closest approach
        # stays within 5 of those of the scripted miss distance.
        assert result.incidents.min_h_m[k] == pytest.approx(encounter.miss_m, abs=5 * 28.3)
        assert result.incidents.time_of_min_s[k] == pytest.approx(
            drill.start_s + encounter.time_s, abs=drill.report_interval_s
        )
        assert result.incidents.lead_time_s[k] > 60  # a warning at least a minute ahead
