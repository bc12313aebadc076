"""Replay: continuous losses of separation, incidents, alerts; grid = brute force = partitions."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from pyproj import Geod

from skysep import units
from skysep.agreement import Agreement, preset
from skysep.replay import ReplayError, ReplayOptions, ReplayResult, Tracks, replay
from skysep.replay._replay import threaded
from skysep.replay._select import aircraft_codes

GEOD = Geod(ellps="WGS84")
EPOCH = 1.7e9
ICAO_5NM = preset("icao-5nm")
H_5NM = units.nm_to_m(5.0)


@dataclasses.dataclass
class Flight:
    """A straight flight: start point, track, ground speed, altitude and climb, report times."""

    name: str
    lat: float
    lon: float
    track_deg: float
    gs_mps: float
    times_s: np.ndarray
    alt_m: float = 10_000.0
    vs_mps: float = 0.0
    party: str | None = None
    report_velocity: bool = False


def tracks_of(*flights: Flight) -> Tracks:
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("ac", "t", "lat", "lon", "alt", "gs")}
    cols |= {"trk": [], "vs": [], "party": []}
    for f in flights:
        n = f.times_s.shape[0]
        lon, lat, back = GEOD.fwd(
            np.full(n, f.lon), np.full(n, f.lat), np.full(n, f.track_deg), f.gs_mps * f.times_s
        )
        cols["ac"].append(np.full(n, f.name, dtype=object))
        cols["t"].append(EPOCH + f.times_s)
        cols["lat"].append(np.asarray(lat))
        cols["lon"].append(np.asarray(lon))
        cols["alt"].append(f.alt_m + f.vs_mps * f.times_s)
        nan = np.full(n, np.nan)
        cols["gs"].append(np.full(n, f.gs_mps) if f.report_velocity else nan)
        cols["trk"].append(np.mod(np.asarray(back) + 180.0, 360.0) if f.report_velocity else nan)
        cols["vs"].append(np.full(n, f.vs_mps) if f.report_velocity else nan)
        cols["party"].append(np.full(n, f.party, dtype=object))
    cat = {k: np.concatenate(v) for k, v in cols.items()}
    return Tracks(
        aircraft=cat["ac"],
        time_s=cat["t"],
        lat_deg=cat["lat"],
        lon_deg=cat["lon"],
        alt_m=cat["alt"],
        gs_mps=cat["gs"],
        track_deg=cat["trk"],
        vs_mps=cat["vs"],
        party=cat["party"],
    )


def assert_same(a: ReplayResult, b: ReplayResult) -> None:
    """Bit-identical incidents and alert episodes."""
    for name in ("incidents", "alerts"):
        x, y = getattr(a, name), getattr(b, name)
        for fld in dataclasses.fields(x):
            u, v = getattr(x, fld.name), getattr(y, fld.name)
            if u.dtype.kind == "f":
                np.testing.assert_array_equal(u, v, err_msg=f"{name}.{fld.name}")
            else:
                assert u.tolist() == v.tolist(), f"{name}.{fld.name}"


def test_loss_between_reports_is_found() -> None:
    """Head-on, reports every 90 s: the 40 s loss of separation falls between two reports."""
    times = np.arange(45.0, 601.0, 90.0)
    a = Flight("A", 45.0, 6.0, 90.0, 230.0, times)
    b = Flight("B", 45.01, 7.5, 270.0, 230.0, times)
    result = replay(tracks_of(a, b), ICAO_5NM, ReplayOptions(max_gap_s=120.0))
    inc = result.incidents
    assert len(inc) == 1
    start, end = inc.start_s[0] - EPOCH, inc.end_s[0] - EPOCH
    assert not np.any((times >= start) & (times <= end)), "no report inside the loss"
    # The meeting point: ~118 km apart closing at 460 m/s, passing 1.11 km apart.
    assert 250.0 < inc.time_of_min_s[0] - EPOCH < 265.0
    assert inc.min_h_m[0] == pytest.approx(1111.0, abs=15.0)
    half_s = np.sqrt(H_5NM**2 - inc.min_h_m[0] ** 2) / 460.0
    assert end - start == pytest.approx(2 * half_s, rel=2e-3)
    # The detector predicted it from its first step: lead time = start - first step.
    assert inc.first_alert_s[0] == EPOCH + times[0]
    assert inc.lead_time_s[0] == pytest.approx(start - times[0])
    assert inc.level_at_start[0] == "warning"
    assert result.alerts.incident.tolist() == [0]


def test_gap_longer_than_max_gap_means_absent() -> None:
    """B's reports stop 60 s before the meeting and resume 120 s later: absent in between."""
    times = np.arange(0.0, 601.0, 10.0)
    b_times = times[(times < 200.0) | (times > 320.0)]
    a = Flight("A", 45.0, 6.0, 90.0, 230.0, times)
    b = Flight("B", 45.01, 7.5, 270.0, 230.0, b_times)
    assert len(replay(tracks_of(a, b), ICAO_5NM, ReplayOptions(max_gap_s=60.0)).incidents) == 0
    bridged = replay(tracks_of(a, b), ICAO_5NM, ReplayOptions(max_gap_s=180.0))
    assert len(bridged.incidents) == 1


def test_merge_gap_joins_close_losses() -> None:
    """B flies formation 1 NM east of A and crosses its level twice, 150 s apart."""
    times = np.arange(0.0, 301.0, 1.0)
    a = Flight("A", 45.0, 6.0, 0.0, 100.0, times)
    b = Flight("B", 45.0, 6.0 + 1852.0 / 78_800.0, 0.0, 100.0, times)
    tracks = tracks_of(a, b)
    t = tracks.time_s - EPOCH
    zigzag = np.where(t < 200.0, 10_400.0 - 4.0 * t, 9_600.0 + 4.0 * (t - 200.0))
    tracks = dataclasses.replace(tracks, alt_m=np.where(tracks.aircraft == "B", zigzag, 10_000.0))
    rules = dataclasses.replace(ICAO_5NM, vertical_m=100.0)
    split = replay(tracks, rules, ReplayOptions(merge_gap_s=0.0)).incidents
    joined = replay(tracks, rules, ReplayOptions(merge_gap_s=200.0)).incidents
    assert len(split) == 2
    assert split.start_s - EPOCH == pytest.approx([75.0, 275.0], abs=1e-6)
    assert split.end_s - EPOCH == pytest.approx([125.0, 300.0], abs=1e-6)
    assert len(joined) == 1
    assert joined.start_s[0] == split.start_s[0]
    assert joined.end_s[0] == split.end_s[1]


def test_nuisance_alert_when_one_turns_away() -> None:
    """Head-on, then B turns away 60 s before it would have lost separation."""
    t1 = np.arange(0.0, 121.0, 10.0)
    a = Flight("A", 45.0, 6.0, 90.0, 230.0, np.arange(0.0, 601.0, 10.0))
    b_in = Flight("B", 45.01, 7.5, 270.0, 230.0, t1)
    tracks = tracks_of(a, b_in)
    # B's later reports go north from where it was at 120 s.
    lon120, lat120 = tracks.lon_deg[-1], tracks.lat_deg[-1]
    later = Flight("B", float(lat120), float(lon120), 0.0, 230.0, np.arange(10.0, 481.0, 10.0))
    extra = tracks_of(later)
    extra = dataclasses.replace(extra, time_s=extra.time_s + 120.0)
    merged = Tracks(
        **{
            f.name: np.concatenate([getattr(tracks, f.name), getattr(extra, f.name)])
            for f in dataclasses.fields(Tracks)
        }
    )
    result = replay(merged, ICAO_5NM)
    assert len(result.incidents) == 0
    assert len(result.alerts) == 1
    assert result.alerts.incident.tolist() == [-1]
    assert result.alerts.first_s[0] == EPOCH


def test_same_party_and_overrides_follow_the_agreement() -> None:
    times = np.arange(0.0, 601.0, 10.0)
    a = Flight("A", 45.0, 6.0, 90.0, 230.0, times, party="north")
    b = Flight("B", 45.04, 7.5, 270.0, 230.0, times, party="north")  # passes ~4.4 km apart
    rules = dataclasses.replace(ICAO_5NM, check_same_party=False)
    assert len(replay(tracks_of(a, b), rules).incidents) == 0
    assert len(replay(tracks_of(a, b), ICAO_5NM).incidents) == 1


def test_aircraft_with_two_parties_is_refused() -> None:
    times = np.arange(0.0, 60.0, 10.0)
    tracks = tracks_of(Flight("A", 45.0, 6.0, 90.0, 230.0, times, party="north"))
    party = tracks.party
    assert party is not None
    party[-1] = "south"
    with pytest.raises(ReplayError, match=r"'A' is reported with two parties, 'north' and 'south'"):
        replay(tracks, ICAO_5NM)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (ReplayOptions(max_gap_s=0.0), "max_gap_s must be a positive finite number, got 0.0"),
        (ReplayOptions(step_s=float("nan")), "step_s must be a positive finite number"),
        (ReplayOptions(merge_gap_s=-1.0), "merge_gap_s must be a non-negative"),
        (ReplayOptions(method="fast"), "'fast' is not a valid method"),  # type: ignore[arg-type]
    ],
)
def test_bad_options(options: ReplayOptions, message: str) -> None:
    tracks = tracks_of(Flight("A", 45.0, 6.0, 90.0, 230.0, np.arange(0.0, 60.0, 10.0)))
    with pytest.raises(ReplayError, match=message):
        replay(tracks, ICAO_5NM, options)


def random_traffic(seed: int, n_flights: int = 40) -> Tracks:
    """Flights in a 65 km box over 40 minutes: random tracks, speeds, levels, climbs,
    report intervals, dropouts, parties, reported velocities or not."""
    rng = np.random.default_rng(seed)
    flights = []
    for k in range(n_flights):
        start = rng.uniform(0.0, 1200.0)
        interval = rng.choice([1.0, 4.0, 10.0, 30.0])
        times = np.arange(0.0, rng.uniform(300.0, 1500.0), interval)
        keep = rng.random(times.shape[0]) > 0.1  # dropouts, some gaps longer than max_gap
        times = times[keep]
        if times.shape[0] == 0:
            continue
        f = Flight(
            f"F{k:03d}",
            float(rng.uniform(46.0, 46.6)),
            float(rng.uniform(7.0, 7.8)),
            float(rng.uniform(0.0, 360.0)),
            float(rng.uniform(60.0, 260.0)),
            times,
            alt_m=float(rng.choice([6000.0, 6100.0, 6200.0, 6300.0])),
            vs_mps=float(rng.choice([0.0, 0.0, 2.0, -2.0])),
            party=str(rng.choice(["north", "south", "east"])),
            report_velocity=bool(rng.random() < 0.5),
        )
        tracks = tracks_of(f)
        flights.append(dataclasses.replace(tracks, time_s=tracks.time_s + start))
    return Tracks(
        **{
            f.name: np.concatenate([getattr(t, f.name) for t in flights])
            for f in dataclasses.fields(Tracks)
        }
    )


def override_rules() -> Agreement:
    rules = preset("rule-of-threes")
    from skysep.agreement import PairMinima

    pairs = (PairMinima(("north", "south"), units.nm_to_m(5.0), units.ft_to_m(1000.0)),)
    return dataclasses.replace(rules, pairs=pairs, check_same_party=False)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("rules", [ICAO_5NM, override_rules()], ids=["icao-5nm", "overrides"])
def test_grid_equals_brute_force_and_partitions_do_not_matter(seed: int, rules: Agreement) -> None:
    tracks = random_traffic(seed)
    brute = replay(tracks, rules, ReplayOptions(method="brute-force"), partitions=1)
    grid = replay(tracks, rules, ReplayOptions(), partitions=1)
    assert len(brute.incidents) > 0, "the scenario should have losses of separation"
    assert len(brute.alerts) > len(brute.incidents) / 2
    assert_same(grid, brute)
    assert grid.los_candidates <= brute.los_candidates
    assert_same(replay(tracks, rules, ReplayOptions(), partitions=7), brute)
    # Partitions computed in threads (as skysep replay does): the same result.
    assert_same(replay(tracks, rules, ReplayOptions(), partitions=7, runner=threaded(3)), brute)


def sampled_losses(tracks: Tracks, rules: Agreement, step: float = 0.25) -> set[tuple[str, str]]:
    """Pairs that lose separation at some sampled instant: an independent check.

    Positions interpolated linearly in ECEF between reports at most 60 s apart;
    horizontal distance from pyproj's geodesic between the interpolated points'
    geodetic positions (close to the engine's projected chord); V from altitude.
    """
    from pyproj import Transformer

    to_ecef = Transformer.from_crs("EPSG:4979", "EPSG:4978", always_xy=True)
    to_geo = Transformer.from_crs("EPSG:4978", "EPSG:4979", always_xy=True)
    flights: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for name in sorted(set(tracks.aircraft.tolist())):
        mask = tracks.aircraft == name
        order = np.argsort(tracks.time_s[mask])
        t = tracks.time_s[mask][order]
        x, y, z = to_ecef.transform(tracks.lon_deg[mask][order], tracks.lat_deg[mask][order], 0 * t)
        flights[name] = (t, np.stack([x, y, z], axis=1), tracks.alt_m[mask][order])
    names = sorted(flights)
    found = set()
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            ta, pa, za = flights[a]
            tb, pb, zb = flights[b]
            lo, hi = max(ta[0], tb[0]), min(ta[-1], tb[-1])
            if lo > hi:
                continue
            grid = np.arange(lo, hi, step)
            ok = np.ones(grid.shape[0], dtype=bool)
            cols = []
            for tt, pp, zz in ((ta, pa, za), (tb, pb, zb)):
                k = np.clip(np.searchsorted(tt, grid) - 1, 0, tt.shape[0] - 2)
                gap = tt[k + 1] - tt[k]
                ok &= (gap <= 60.0) & (grid >= tt[k]) & (grid <= tt[k + 1])
                w = ((grid - tt[k]) / gap)[:, None]
                cols.append(
                    (pp[k] + w * (pp[k + 1] - pp[k]), zz[k] + w[:, 0] * (zz[k + 1] - zz[k]))
                )
            (p1, z1), (p2, z2) = cols
            lon1, lat1, _ = to_geo.transform(*p1.T)
            lon2, lat2, _ = to_geo.transform(*p2.T)
            _, _, dist = GEOD.inv(lon1, lat1, lon2, lat2)
            loss = (
                ok
                & (np.asarray(dist) < rules.horizontal_m - 1.0)
                & (np.abs(z1 - z2) < rules.vertical_m - 1e-3)
            )
            if loss.any():
                found.add((a, b))
    return found


def test_losses_match_dense_sampling() -> None:
    """Every pair that dense sampling sees 1 m inside H is an incident pair, and every
    incident pair is seen by sampling with H 2 m looser."""
    tracks = random_traffic(3, n_flights=15)
    result = replay(tracks, ICAO_5NM)
    got = set(zip(result.incidents.aircraft_a, result.incidents.aircraft_b, strict=True))
    assert got, "the scenario should have losses of separation"
    assert sampled_losses(tracks, ICAO_5NM) <= got
    looser = dataclasses.replace(ICAO_5NM, horizontal_m=ICAO_5NM.horizontal_m + 3.0)
    assert got <= sampled_losses(tracks, looser)


def test_empty_and_single_aircraft() -> None:
    one = tracks_of(Flight("A", 45.0, 6.0, 90.0, 230.0, np.arange(0.0, 60.0, 10.0)))
    result = replay(one, ICAO_5NM)
    assert len(result.incidents) == 0
    assert len(result.alerts) == 0
    assert result.n_aircraft == 1
    empty = dataclasses.replace(
        one,
        **{f.name: getattr(one, f.name)[:0] for f in dataclasses.fields(one) if f.name != "party"},
    )
    empty = dataclasses.replace(empty, party=None)
    assert len(replay(empty, ICAO_5NM).incidents) == 0


def test_aircraft_codes_are_those_of_np_unique() -> None:
    rng = np.random.default_rng(7)
    pool = np.array(
        ["a", "b", "ab", "1", 1, 2, "2", "\u00e9", "A", "zz", 1.5, "3c6444"], dtype=object
    )
    for n in (0, 1, 2, 50, 5_000):
        aircraft = pool[rng.integers(0, pool.shape[0], n)]
        ids, codes = aircraft_codes(aircraft)
        ref_ids, ref_codes = np.unique(aircraft.astype(str), return_inverse=True)
        np.testing.assert_array_equal(ids, ref_ids)
        np.testing.assert_array_equal(codes, ref_codes)
        assert codes.dtype == np.int64
        assert ids.dtype.kind == "U"
    # 1 and "1" read the same: one aircraft, as with astype(str).
    ids, codes = aircraft_codes(np.array([1, "1", "b"], dtype=object))
    assert ids.tolist() == ["1", "b"]
    assert codes.tolist() == [0, 0, 1]


def test_duplicate_reports_are_counted() -> None:
    tracks = tracks_of(Flight("A", 45.0, 6.0, 90.0, 230.0, np.arange(0.0, 60.0, 10.0)))
    doubled = Tracks(
        **{
            f.name: np.concatenate([getattr(tracks, f.name), getattr(tracks, f.name)[:2]])
            for f in dataclasses.fields(Tracks)
        }
    )
    assert replay(doubled, ICAO_5NM).duplicate_reports == 2


def test_altitude_spikes_are_dropped_and_counted() -> None:
    """One junk altitude (a 2,000 ft jump for one 1 s report) makes a false loss."""
    times = np.arange(0.0, 301.0, 1.0)
    a = Flight("A", 45.0, 6.0, 0.0, 100.0, times, alt_m=10_000.0)
    b = Flight("B", 45.0, 6.0 + 1852.0 / 78_800.0, 0.0, 100.0, times, alt_m=10_609.6)
    tracks = tracks_of(a, b)
    junk = np.flatnonzero(tracks.aircraft == "B")[150]
    alt = tracks.alt_m.copy()
    alt[junk] = 10_000.0
    tracks = dataclasses.replace(tracks, alt_m=alt)
    kept = replay(tracks, ICAO_5NM, ReplayOptions(spike_vertical_rate_mps=None))
    assert len(kept.incidents) == 1
    assert kept.altitude_spikes == 0
    cleaned = replay(tracks, ICAO_5NM)
    assert len(cleaned.incidents) == 0
    assert cleaned.altitude_spikes == 1
    # A steady climb of 4,000 ft/min is not a spike.
    climbing = tracks_of(dataclasses.replace(b, vs_mps=20.3))
    assert replay(climbing, ICAO_5NM).altitude_spikes == 0


_INIT_TARGET_SCRIPT = """
import sys
from skysep.replay._kernels import init_target
from skysep.replay import replay
from skysep.agreement import preset
import tests.test_replay as t

init_target()
tracks = t.tracks_of(
    t.Flight("A", 50.0, 5.0, 90.0, 230.0, t.np.arange(0.0, 600.0, 5.0)),
    t.Flight("B", 50.0, 5.6, 270.0, 230.0, t.np.arange(0.0, 600.0, 5.0), alt_m=10_100.0),
)
incidents = len(replay(tracks, preset("icao-5nm")).incidents)
print("scipy.linalg loaded:", "scipy.linalg" in sys.modules)
print("cffi loaded:", "cffi" in sys.modules)
print("incidents:", incidents)
import scipy.linalg.cython_blas
print("scipy.linalg imports afterwards:", scipy.linalg.cython_blas.__name__)
import cffi
print("cffi imports afterwards:", cffi.FFI.__name__)
"""


def test_init_target_skips_scipy_and_kernels_still_run() -> None:
    """The command line's numba set-up: no scipy.linalg or cffi import, kernels load, both
    importable afterwards."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", _INIT_TARGET_SCRIPT],
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
    ).stdout.splitlines()
    assert out == [
        "scipy.linalg loaded: False",
        "cffi loaded: False",
        "incidents: 1",
        "scipy.linalg imports afterwards: scipy.linalg.cython_blas",
        "cffi imports afterwards: FFI",
    ]


def without_vertical_early_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the replay sample the detector at every step in full (no vertical early-out)."""
    from skysep.replay import _kernels

    full = _kernels.alert_samples
    monkeypatch.setattr(_kernels, "alert_samples", lambda *args: full(*args, False))


@pytest.mark.parametrize("seed", range(6))
def test_the_vertical_early_out_changes_no_alert(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Alert sampling skips the horizontal solution where a pair is vertically apart over
    the whole lookahead: the alerts are bit-identical to sampling every step in full."""
    tracks = random_traffic(seed)
    fast = replay(tracks, ICAO_5NM, partitions=1)
    without_vertical_early_out(monkeypatch)
    full = replay(tracks, ICAO_5NM, partitions=1)
    assert len(full.alerts) > 0
    assert_same(fast, full)
