"""The well-clear detector on encounters of our own: thresholds, levels, filters, fleets.

NASA's shipped encounters are all level flight at one altitude, so the vertical
thresholds (ZTHR, TCOA), the preventive level and the filters are checked here
against closed-form values.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from skysep import units
from skysep.engine import States
from skysep.errors import EngineError
from skysep.wellclear import (
    Alerter,
    AlertLevel,
    AlertMemory,
    TauModVolume,
    Traffic,
    WellClearConfig,
    alert_fleet,
    alert_pairs,
    preset,
)

DO_365B = preset("DO_365B_no_SUM")
BUFFERED = preset("Buffered_DWC_SC_228_nom_a")
CD3D = preset("CD3D")
DTHR_M = units.nm_to_m(0.66)
TTHR_S = 35.0
CLOSURE_MPS = 200.0
ALT_M = 3000.0


def local(*aircraft: tuple[str, float, float, float, float, float, float]) -> Traffic:
    """Aircraft (name, x_m, y_m, alt_m, ve_mps, vn_mps, vz_mps) in a local east-north frame."""
    cols = list(zip(*aircraft, strict=True))
    return Traffic(
        aircraft=np.array(cols[0], dtype=object),
        x_m=np.array(cols[1], dtype=float),
        y_m=np.array(cols[2], dtype=float),
        alt_m=np.array(cols[3], dtype=float),
        ve_mps=np.array(cols[4], dtype=float),
        vn_mps=np.array(cols[5], dtype=float),
        vz_mps=np.array(cols[6], dtype=float),
    )


def head_on(distance_m: float, dz_m: float = 0.0, offset_m: float = 0.0) -> Traffic:
    """Ownship north-bound, intruder south-bound ahead of it, closing at CLOSURE_MPS."""
    half = CLOSURE_MPS / 2
    return local(
        ("own", 0.0, 0.0, ALT_M, 0.0, half, 0.0),
        ("intruder", offset_m, distance_m, ALT_M + dz_m, 0.0, -half, 0.0),
    )


def pair(traffic: Traffic, config: WellClearConfig, **kwargs: object) -> tuple[int, np.ndarray]:
    alerts, _ = alert_pairs(traffic, [0], [1], config, **kwargs)  # type: ignore[arg-type]
    return int(alerts.alert_level[0]), alerts.time_in_s[0]


def distance_for_entry_m(entry_s: float) -> float:
    """The head-on distance whose modified-tau entry is ``entry_s`` from now."""
    return entry_s * CLOSURE_MPS - taumod_entry_s(0.0) * CLOSURE_MPS


def taumod_entry_s(distance_m: float) -> float:
    """Head-on entry: tau_mod = (r^2 - D^2) / (r c) reaches TTHR where

    r* = (T c + sqrt(T^2 c^2 + 4 D^2)) / 2.
    """
    t, c, d = TTHR_S, CLOSURE_MPS, DTHR_M
    r_star = (t * c + math.sqrt(t * t * c * c + 4 * d * d)) / 2
    return (distance_m - r_star) / c


@pytest.mark.parametrize(
    ("distance_m", "level"),
    [(20_000.0, 0), (15_000.0, 2), (10_000.0, 3)],
)
def test_head_on_time_to_violation_is_the_modified_tau_entry(distance_m: float, level: int) -> None:
    got_level, tin = pair(head_on(distance_m), DO_365B.without_hysteresis())
    expected = taumod_entry_s(distance_m)
    np.testing.assert_allclose(tin, [expected] * 3, rtol=0, atol=1e-9)
    assert got_level == level  # alerting times: 55 s for levels 1-2, 25 s for level 3


def test_preventive_level_uses_its_own_vertical_threshold() -> None:
    """DO-365 level 1 (preventive) has ZTHR 700 ft, levels 2-3 have 450 ft."""
    config = DO_365B.without_hysteresis()
    level, tin = pair(head_on(10_000.0, dz_m=units.ft_to_m(600.0)), config)
    assert level == 1
    assert np.isfinite(tin[0])
    assert np.isinf(tin[1:]).all()
    level, tin = pair(head_on(10_000.0, dz_m=units.ft_to_m(-699.0)), config)
    assert level == 1
    level, tin = pair(head_on(10_000.0, dz_m=units.ft_to_m(701.0)), config)
    assert level == 0
    assert np.isinf(tin).all()
    level, tin = pair(head_on(10_000.0, dz_m=units.ft_to_m(300.0)), config)
    assert level == 3
    assert np.isfinite(tin).all()


def converging_vertically(dz_ft: float, closing_fpm: float) -> Traffic:
    """Side by side 500 m apart (always horizontally in violation), closing vertically."""
    return local(
        ("own", 0.0, 0.0, ALT_M, 0.0, 100.0, 0.0),
        (
            "above",
            500.0,
            0.0,
            ALT_M + units.ft_to_m(dz_ft),
            0.0,
            100.0,
            -units.fpm_to_mps(closing_fpm),
        ),
    )


def test_time_to_co_altitude_threshold_widens_the_vertical_volume() -> None:
    """Buffered well-clear (TCOA 20 s): entry when |dz| = max(ZTHR, |vz| TCOA)."""
    traffic = converging_vertically(2000.0, 3000.0)  # 50 ft/s: TCOA widens 450 ft to 1000 ft
    alerts, _ = alert_pairs(traffic, [0], [1], BUFFERED)
    np.testing.assert_allclose(alerts.time_in_s[0], [20.0, 20.0, 20.0], rtol=0, atol=1e-9)
    # the exit is at -ZTHR on the other side: (2000 + 750) / 50 for level 1, (2000 + 450) / 50 else
    np.testing.assert_allclose(alerts.time_out_s[0], [55.0, 49.0, 49.0], rtol=0, atol=1e-9)
    # DO-365 (TCOA 0): entry at ZTHR, 700 ft for the preventive level and 450 ft for the others
    alerts, _ = alert_pairs(traffic, [0], [1], DO_365B)
    np.testing.assert_allclose(alerts.time_in_s[0], [26.0, 31.0, 31.0], rtol=0, atol=1e-9)


def test_diverging_vertically_is_not_a_violation() -> None:
    traffic = converging_vertically(800.0, -3000.0)  # above the 750 ft preventive threshold
    level, tin = pair(traffic, BUFFERED)
    assert level == 0
    assert np.isinf(tin).all()


def test_horizontal_miss_distance_filter() -> None:
    """A head-on pass with a miss distance just over DTHR never violates; just under, it does."""
    level, tin = pair(head_on(15_000.0, offset_m=DTHR_M * 1.01), DO_365B)
    assert level == 0
    assert np.isinf(tin).all()
    level, tin = pair(head_on(15_000.0, offset_m=DTHR_M * 0.99), DO_365B)
    assert level == 2
    assert np.isfinite(tin).all()


def test_cylinder_entry_is_the_circle_crossing() -> None:
    level, tin = pair(head_on(20_000.0, dz_m=units.ft_to_m(500.0)), CD3D)
    assert level == 1
    np.testing.assert_allclose(tin, [(20_000.0 - units.nm_to_m(5.0)) / CLOSURE_MPS], atol=1e-9)
    level, tin = pair(head_on(20_000.0, dz_m=units.ft_to_m(1500.0)), CD3D)
    assert level == 0


def sequence(
    distances_m: list[float | None], config: WellClearConfig, start_s: float = 0.0
) -> list[int]:
    """Alert levels of one pair over steps one second apart (None: the intruder is far away)."""
    memory = AlertMemory.empty()
    levels = []
    for k, distance in enumerate(distances_m):
        traffic = head_on(distance if distance is not None else 200_000.0)
        alerts, memory = alert_pairs(traffic, [0], [1], config, memory=memory, time_s=start_s + k)
        levels.append(int(alerts.alert_level[0]))
    return levels


def test_early_alerting_time_applies_once_alerted() -> None:
    """Level 2 (alerting 55 s, early 75 s): a violation 65 s away keeps an alert, not a new one."""
    config = DO_365B.without_hysteresis()
    at_50_s = distance_for_entry_m(50.0)
    at_65_s = distance_for_entry_m(65.0)
    assert taumod_entry_s(at_65_s) == pytest.approx(65.0)
    assert sequence([at_65_s], config) == [0]
    assert sequence([at_50_s, at_65_s, at_65_s], config) == [2, 2, 2]
    assert sequence([at_50_s, None, at_65_s], config) == [2, 0, 0]


def test_m_of_n_persistence_and_hysteresis() -> None:
    """DO-365 filters: 2 of 4, 4 s persistence, 5 s memory."""
    alerting = 10_000.0  # raw level 3
    far = None  # raw level 0
    raw = [far, alerting, far, alerting, far, far, far, far]
    # a first raw 3 after a 0 is not yet 2 of 4; the second is; it then holds 4 s
    assert sequence(raw, DO_365B) == [0, 0, 0, 3, 3, 3, 3, 0]
    # a new pair alerts at once (its record starts full of the first level)
    assert sequence([alerting, far], DO_365B) == [3, 3]
    # without the filters, every step stands alone
    assert sequence(raw, DO_365B.without_hysteresis()) == [0, 3, 0, 3, 0, 0, 0, 0]


def test_memory_is_forgotten_after_the_hysteresis_time() -> None:
    memory = AlertMemory.empty()
    _, memory = alert_pairs(head_on(200_000.0), [0], [1], DO_365B, memory=memory, time_s=0.0)
    # 1 s later a raw alert is filtered (1 of 4) ...
    alerts, _ = alert_pairs(head_on(10_000.0), [0], [1], DO_365B, memory=memory, time_s=1.0)
    assert alerts.alert_level[0] == 0
    # ... but 6 s later (> 5 s) the record is reset and the alert is immediate
    alerts, _ = alert_pairs(head_on(10_000.0), [0], [1], DO_365B, memory=memory, time_s=6.0)
    assert alerts.alert_level[0] == 3


def two_alerters(ownship_centric: bool) -> WellClearConfig:
    def alerter(name: str, dthr_m: float) -> Alerter:
        volume = TauModVolume(dthr_m=dthr_m, zthr_m=units.ft_to_m(450.0), tthr_s=0.0, tcoa_s=0.0)
        return Alerter(name, (AlertLevel(volume, 60.0, 60.0, "MID"),))

    return WellClearConfig(
        alerters=(alerter("small", 500.0), alerter("large", 5000.0)),
        ownship_centric=ownship_centric,
    )


@pytest.mark.parametrize(("ownship_centric", "dthr_m"), [(True, 500.0), (False, 5000.0)])
def test_alerter_of_ownship_or_traffic(ownship_centric: bool, dthr_m: float) -> None:
    traffic = replace(head_on(20_000.0), alerter=np.array([1, 2]))
    alerts, _ = alert_pairs(traffic, [0], [1], two_alerters(ownship_centric))
    assert alerts.alerter.tolist() == [1 if ownship_centric else 2]
    np.testing.assert_allclose(alerts.time_in_s[0], [(20_000.0 - dthr_m) / CLOSURE_MPS], atol=1e-9)


def test_pairs_without_a_valid_alerter_are_skipped() -> None:
    traffic = replace(head_on(20_000.0), alerter=np.array([1, 0]))
    alerts, _ = alert_pairs(traffic, [0], [1], two_alerters(False))
    assert len(alerts) == 0


def fleet(n: int, seed: int, spread_deg: float = 0.4) -> Traffic:
    rng = np.random.default_rng(seed)
    return Traffic.from_track(
        np.array([f"AC{k:03d}" for k in range(n)], dtype=object),
        rng.uniform(3000, 3400, n),
        rng.uniform(50, 150, n),
        rng.uniform(0, 360, n),
        rng.uniform(-5, 5, n),
        lat_deg=45 + rng.uniform(-spread_deg, spread_deg, n),
        lon_deg=7 + rng.uniform(-spread_deg, spread_deg, n),
        alerter=rng.integers(1, 4, n),
    )


def test_fleet_equals_each_ownship_on_its_own() -> None:
    traffic = fleet(40, seed=1)
    alerts, _ = alert_fleet(traffic, DO_365B, report="all")
    assert len(alerts) == 40 * 39
    for own in (0, 17, 39):
        others = np.array([k for k in range(40) if k != own])
        single, _ = alert_pairs(traffic, np.full(39, own), others, DO_365B)
        mask = alerts.own_index == own
        np.testing.assert_array_equal(alerts.traffic_index[mask], others)
        np.testing.assert_array_equal(alerts.alert_level[mask], single.alert_level)
        np.testing.assert_array_equal(alerts.time_in_s[mask], single.time_in_s)
    assert (alerts.alert_level > 0).any()


@pytest.mark.parametrize(
    ("seed", "name"),
    [(2, "DO_365B_no_SUM"), (3, "DO_365A_no_SUM"), (4, "Buffered_DWC_SC_228_nom_a"), (5, "CD3D")],
)
def test_pruning_far_pairs_changes_nothing(seed: int, name: str) -> None:
    """report='conflicts' skips pairs too far apart; levels and times equal the full test's."""
    config = preset(name)
    traffic = fleet(120, seed=seed, spread_deg=1.5)
    full, full_memory = alert_fleet(traffic, config, report="all")
    pruned, pruned_memory = alert_fleet(traffic, config)
    keep = (full.alert_level > 0) | np.isfinite(full.time_in_s).any(axis=1)
    assert 0 < keep.sum() < len(full)
    np.testing.assert_array_equal(pruned.own_index, full.own_index[keep])
    np.testing.assert_array_equal(pruned.traffic_index, full.traffic_index[keep])
    np.testing.assert_array_equal(pruned.alert_level, full.alert_level[keep])
    np.testing.assert_array_equal(pruned.time_in_s, full.time_in_s[keep])
    np.testing.assert_array_equal(pruned_memory.last_level, full_memory.last_level)


def test_threads_share_the_work_without_changing_it() -> None:
    traffic = fleet(260, seed=5)  # 67,080 pairs: enough for two threads
    one, _ = alert_fleet(traffic, DO_365B, report="all", threads=1)
    two, _ = alert_fleet(traffic, DO_365B, report="all", threads=2)
    np.testing.assert_array_equal(one.alert_level, two.alert_level)
    np.testing.assert_array_equal(one.time_in_s, two.time_in_s)
    np.testing.assert_array_equal(one.s_m, two.s_m)


def test_fleet_memory_carries_over_snapshots() -> None:
    traffic = fleet(30, seed=6)
    _, memory = alert_fleet(traffic, DO_365B, time_s=0.0)
    assert len(memory) == 30 * 29
    _, memory2 = alert_fleet(traffic, DO_365B, memory=memory, time_s=1.0)
    assert len(memory2) == 30 * 29
    assert (memory2.last_time_s == 1.0).all()
    # one aircraft leaves: its pairs stay in memory, the others are updated
    fewer = Traffic(
        aircraft=traffic.aircraft[1:],
        alt_m=traffic.alt_m[1:],
        ve_mps=traffic.ve_mps[1:],
        vn_mps=traffic.vn_mps[1:],
        vz_mps=traffic.vz_mps[1:],
        lat_deg=traffic.lat_deg[1:] if traffic.lat_deg is not None else None,
        lon_deg=traffic.lon_deg[1:] if traffic.lon_deg is not None else None,
    )
    _, memory3 = alert_fleet(fewer, DO_365B, memory=memory2, time_s=2.0)
    assert len(memory3) == 30 * 29
    assert (memory3.last_time_s == 2.0).sum() == 29 * 28


def test_wind_cancels_in_a_local_frame() -> None:
    """With local positions, removing the same wind from both aircraft leaves the pair as is."""
    calm = head_on(15_000.0)
    windy = replace(calm, air_ve_mps=np.array([-20.0, np.nan]), air_vn_mps=np.array([70.0, np.nan]))
    _, tin_calm = pair(calm, DO_365B)
    _, tin_windy = pair(windy, DO_365B)
    np.testing.assert_allclose(tin_windy, tin_calm, rtol=0, atol=1e-9)


def test_geodetic_pair_matches_the_local_one_nearby() -> None:
    """Two aircraft 15 km apart near the equator: the tangent plane is almost the local frame."""
    deg_per_m = 180.0 / (math.pi * 6_366_707.0194937)
    traffic = Traffic(
        aircraft=np.array(["own", "intruder"], dtype=object),
        lat_deg=np.array([0.0, 15_000.0 * deg_per_m]),
        lon_deg=np.array([0.0, 0.0]),
        alt_m=np.array([ALT_M, ALT_M]),
        ve_mps=np.array([0.0, 0.0]),
        vn_mps=np.array([100.0, -100.0]),
        vz_mps=np.array([0.0, 0.0]),
    )
    _, tin = pair(traffic, DO_365B)
    np.testing.assert_allclose(tin, [taumod_entry_s(15_000.0)] * 3, rtol=0, atol=1e-3)


def test_far_side_of_the_earth_is_no_conflict() -> None:
    traffic = Traffic(
        aircraft=np.array(["own", "antipode"], dtype=object),
        lat_deg=np.array([10.0, -10.0]),
        lon_deg=np.array([20.0, -160.0]),
        alt_m=np.array([ALT_M, ALT_M]),
        ve_mps=np.array([0.0, 0.0]),
        vn_mps=np.array([100.0, -100.0]),
        vz_mps=np.array([0.0, 0.0]),
    )
    level, tin = pair(traffic, DO_365B)
    assert level == 0
    assert np.isinf(tin).all()


def test_from_states_converts_track_and_speed() -> None:
    states = States(
        aircraft=np.array(["A", "B"], dtype=object),
        lat_deg=np.array([45.0, 45.1]),
        lon_deg=np.array([7.0, 7.0]),
        alt_m=np.array([3000.0, 3000.0]),
        gs_mps=np.array([100.0, 100.0]),
        track_deg=np.array([0.0, 180.0]),
        vs_mps=np.array([0.0, 0.0]),
    )
    traffic = Traffic.from_states(states)
    np.testing.assert_allclose(traffic.vn_mps, [100.0, -100.0])
    np.testing.assert_allclose(traffic.ve_mps, [0.0, 0.0], atol=1e-12)
    level, _ = pair(traffic, DO_365B)
    assert level == 3  # 11 km apart closing at 200 m/s


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"alt_m": np.array([ALT_M, np.nan])}, "alt_m"),
        ({"aircraft": np.array(["same", "same"], dtype=object)}, "more than once"),
        ({"x_m": None}, "x_m"),
    ],
)
def test_bad_traffic_is_refused(change: dict[str, object], message: str) -> None:
    traffic = replace(head_on(10_000.0), **change)  # type: ignore[arg-type]
    with pytest.raises(EngineError, match=message):
        alert_pairs(traffic, [0], [1], DO_365B)


def test_bad_pairs_are_refused() -> None:
    with pytest.raises(EngineError, match="differ within a pair"):
        alert_pairs(head_on(10_000.0), [0], [0], DO_365B)
    with pytest.raises(EngineError, match="report"):
        alert_fleet(head_on(10_000.0), DO_365B, report="some")  # type: ignore[arg-type]


def test_bad_configuration_is_refused() -> None:
    bad = Alerter("x", (AlertLevel(TauModVolume(-1.0, 1.0, 0.0, 0.0), 1.0, 1.0, "MID"),))
    with pytest.raises(EngineError, match="dthr_m"):
        replace(DO_365B, alerters=(bad,))
    with pytest.raises(EngineError, match="corrective_region"):
        replace(DO_365B, corrective_region="SOMEWHERE")  # type: ignore[arg-type]
    with pytest.raises(EngineError, match="lookahead_s"):
        replace(DO_365B, lookahead_s=0.0)
    with pytest.raises(EngineError, match="not a valid well-clear preset"):
        preset("DO_365C")


TCAS = preset("TCAS3D")


def tcas_entry_s(distance_m: float, tau_s: float, dmod_nmi: float) -> float:
    """Head-on entry into TCAS's modified-tau test (the same formula with TAU and DMOD)."""
    c, d = CLOSURE_MPS, units.nm_to_m(dmod_nmi)
    return (distance_m - (tau_s * c + math.sqrt(tau_s**2 * c**2 + 4 * d * d)) / 2) / c


def head_on_at(
    distance_m: float, alt_ft: float, offset_m: float = 0.0, vz_fpm: float = 0.0
) -> Traffic:
    half = CLOSURE_MPS / 2
    alt = units.ft_to_m(alt_ft)
    vz = units.fpm_to_mps(vz_fpm)
    return local(
        ("own", 0.0, 0.0, alt, 0.0, half, vz),
        ("intruder", offset_m, distance_m, alt, 0.0, -half, vz),
    )


@pytest.mark.parametrize(
    ("alt_ft", "ta", "ra"),
    [
        (3_000.0, (30.0, 0.48), (20.0, 0.35)),  # sensitivity level 4
        (30_000.0, (48.0, 1.3), (35.0, 1.1)),  # sensitivity level 7
    ],
)
def test_tcas_thresholds_follow_the_ownship_altitude(
    alt_ft: float, ta: tuple[float, float], ra: tuple[float, float]
) -> None:
    alerts, _ = alert_pairs(head_on_at(14_000.0, alt_ft), [0], [1], TCAS)
    expected = [tcas_entry_s(14_000.0, *ta), tcas_entry_s(14_000.0, *ra)]
    np.testing.assert_allclose(alerts.time_in_s[0], expected, rtol=0, atol=1e-9)
    assert alerts.alert_level[0] == 0  # TCAS alerts only on a current violation (alerting time 0)
    level, _ = pair(head_on_at(2_000.0, alt_ft), TCAS)
    assert level == 2


def test_tcas_resolution_advisory_needs_a_small_miss_distance() -> None:
    """The RA volume has the HMD filter (2,126 ft at level 4), the TA volume has none."""
    _, tin = pair(head_on_at(14_000.0, 3_000.0, offset_m=units.ft_to_m(2_300.0)), TCAS)
    assert np.isfinite(tin[0])
    assert np.isinf(tin[1])


def test_tcas_pruning_changes_nothing() -> None:
    traffic = replace(fleet(150, seed=8, spread_deg=0.15), alerter=None)
    full, _ = alert_fleet(traffic, TCAS, report="all")
    pruned, _ = alert_fleet(traffic, TCAS)
    keep = (full.alert_level > 0) | np.isfinite(full.time_in_s).any(axis=1)
    assert 0 < keep.sum() < len(full)
    np.testing.assert_array_equal(pruned.alert_level, full.alert_level[keep])
    np.testing.assert_array_equal(pruned.time_in_s, full.time_in_s[keep])


def test_tcas_climbing_ownship_crosses_sensitivity_levels() -> None:
    """Climbing through 5,000 ft at 6 s: the RA entry at about 44 s uses level 5's thresholds."""
    traffic = head_on_at(14_000.0, 4_900.0, vz_fpm=1_000.0)
    _, tin = pair(traffic, TCAS)
    np.testing.assert_allclose(tin[1], tcas_entry_s(14_000.0, 25.0, 0.55), rtol=0, atol=1e-9)
    level_4_entry = tcas_entry_s(14_000.0, 20.0, 0.35)
    assert tin[1] < level_4_entry
