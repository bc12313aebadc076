"""Built-in alerting configurations: those of the configuration files DAIDALUS v2 ships.

Each preset equals what :func:`skysep.io.daidalus.read_conf` builds from the
file of the same name (the tests check it). ``Buffered_DWC_SC_228_nom_a`` and
``_nom_b`` differ only in bands parameters, so they share one preset.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from skysep import units
from skysep.errors import EngineError
from skysep.wellclear._config import (
    Alerter,
    AlertLevel,
    CylinderVolume,
    Region,
    TauModVolume,
    TcasVolume,
    WellClearConfig,
)

#: DO-365 hysteresis: 5 s memory, 4 s persistence, 2-of-4 filter.
_DO_365_FILTERS: Final = {
    "hysteresis_time_s": 5.0,
    "persistence_time_s": 4.0,
    "alerting_m": 2,
    "alerting_n": 4,
}


def _level(
    region: Region,
    alerting_s: float,
    early_s: float,
    dthr_m: float,
    zthr_m: float,
    tthr_s: float,
    tcoa_s: float,
    detector: str,
) -> AlertLevel:
    return AlertLevel(
        volume=TauModVolume(dthr_m=dthr_m, zthr_m=zthr_m, tthr_s=tthr_s, tcoa_s=tcoa_s),
        alerting_time_s=alerting_s,
        early_alerting_time_s=early_s,
        region=region,
        detector=detector,
    )


def _three_levels(
    name: str,
    times: tuple[tuple[float, float], tuple[float, float], tuple[float, float]],
    dthr_m: float,
    preventive_zthr_m: float,
    zthr_m: float,
    tthr_s: float,
    tcoa_s: float,
) -> Alerter:
    """Preventive (NONE), corrective (MID) and warning (NEAR) levels of one volume."""
    regions: tuple[Region, Region, Region] = ("NONE", "MID", "NEAR")
    zthrs = (preventive_zthr_m, zthr_m, zthr_m)
    return Alerter(
        name=name,
        levels=tuple(
            _level(region, alerting, early, dthr_m, zthr, tthr_s, tcoa_s, f"det_{k}")
            for k, (region, (alerting, early), zthr) in enumerate(
                zip(regions, times, zthrs, strict=True), start=1
            )
        ),
    )


def _phase_i() -> Alerter:
    return _three_levels(
        "DWC_Phase_I",
        ((55.0, 75.0), (55.0, 75.0), (25.0, 55.0)),
        dthr_m=units.nm_to_m(0.66),
        preventive_zthr_m=units.ft_to_m(700.0),
        zthr_m=units.ft_to_m(450.0),
        tthr_s=35.0,
        tcoa_s=0.0,
    )


def _phase_ii() -> Alerter:
    return _three_levels(
        "DWC_Phase_II",
        ((45.0, 75.0), (45.0, 75.0), (45.0, 75.0)),
        dthr_m=units.ft_to_m(1500.0),
        preventive_zthr_m=units.ft_to_m(450.0),
        zthr_m=units.ft_to_m(450.0),
        tthr_s=0.0,
        tcoa_s=0.0,
    )


def _non_coop() -> Alerter:
    return _three_levels(
        "DWC_Non_Coop",
        ((55.0, 110.0), (55.0, 110.0), (25.0, 90.0)),
        dthr_m=units.ft_to_m(2200.0),
        preventive_zthr_m=units.ft_to_m(450.0),
        zthr_m=units.ft_to_m(450.0),
        tthr_s=0.0,
        tcoa_s=0.0,
    )


def do_365a() -> WellClearConfig:
    """DO-365A without SUM: alerters Phase I (en route) and Phase II (terminal)."""
    return WellClearConfig(
        alerters=(_phase_i(), _phase_ii()),
        ownship_centric=False,
        corrective_region="MID",
        **_DO_365_FILTERS,  # type: ignore[arg-type]
    )


def do_365b() -> WellClearConfig:
    """DO-365B without SUM: DO-365A's alerters and a non-cooperative one."""
    return WellClearConfig(
        alerters=(_phase_i(), _phase_ii(), _non_coop()),
        ownship_centric=False,
        corrective_region="MID",
        **_DO_365_FILTERS,  # type: ignore[arg-type]
    )


def buffered_dwc() -> WellClearConfig:
    """SC-228 buffered well-clear (1 NM, 450 ft, 35 s, 20 s co-altitude), no filters."""
    return WellClearConfig(
        alerters=(
            _three_levels(
                "Buffered_DWC_Phase_I",
                ((60.0, 75.0), (60.0, 75.0), (30.0, 55.0)),
                dthr_m=units.nm_to_m(1.0),
                preventive_zthr_m=units.ft_to_m(750.0),
                zthr_m=units.ft_to_m(450.0),
                tthr_s=35.0,
                tcoa_s=20.0,
            ),
        ),
        corrective_region="MID",
    )


def cd3d() -> WellClearConfig:
    """The 5 NM / 1,000 ft cylinder with a single alert level over the whole lookahead."""
    return WellClearConfig(
        alerters=(
            Alerter(
                name="CD3D",
                levels=(
                    AlertLevel(
                        volume=CylinderVolume(d_m=units.nm_to_m(5.0), h_m=units.ft_to_m(1000.0)),
                        alerting_time_s=180.0,
                        early_alerting_time_s=180.0,
                        region="NEAR",
                        detector="det_1",
                    ),
                ),
            ),
        ),
        corrective_region="NEAR",
    )


#: TCAS II sensitivity levels: altitude upper bounds of levels 1-7 (level 8 is unbounded), ft.
_TCAS_LEVELS_FT: Final = (0.0, 1000.0, 2350.0, 5000.0, 10000.0, 20000.0, 42000.0)


def _tcas_volume(
    tau_s: tuple[float, ...],
    dmod_nmi: tuple[float, ...],
    zthr_ft: tuple[float, ...],
    hmd_ft: tuple[float, ...],
    hmd_filter: bool,
) -> TcasVolume:
    return TcasVolume(
        levels_m=tuple(units.ft_to_m(x) for x in _TCAS_LEVELS_FT),
        tau_s=tau_s,
        tcoa_s=tau_s,
        dmod_m=tuple(units.nm_to_m(x) for x in dmod_nmi),
        zthr_m=tuple(units.ft_to_m(x) for x in zthr_ft),
        hmd_m=tuple(units.ft_to_m(x) for x in hmd_ft),
        hmd_filter=hmd_filter,
    )


def tcas_ii() -> WellClearConfig:
    """TCAS II: traffic advisory (level 1) and resolution advisory (level 2) volumes, now only."""
    ta_dmod_nmi = (0.0, 0.3, 0.33, 0.48, 0.75, 1.0, 1.3, 1.3)
    ta = _tcas_volume(
        tau_s=(0.0, 20.0, 25.0, 30.0, 40.0, 45.0, 48.0, 48.0),
        dmod_nmi=ta_dmod_nmi,
        zthr_ft=(0.0, 850.0, 850.0, 850.0, 850.0, 850.0, 850.0, 1200.0),
        # DAIDALUS writes the TA's HMD (equal to its DMOD) in feet with ten decimals
        hmd_ft=(
            0.0,
            1822.8346456693,
            2005.1181102362,
            2916.5354330709,
            4557.0866141732,
            6076.1154855643,
            7898.9501312336,
            7898.9501312336,
        ),
        hmd_filter=False,
    )
    ra = _tcas_volume(
        tau_s=(0.0, 0.0, 15.0, 20.0, 25.0, 30.0, 35.0, 35.0),
        dmod_nmi=(0.0, 0.0, 0.2, 0.35, 0.55, 0.8, 1.1, 1.1),
        zthr_ft=(0.0, 0.0, 600.0, 600.0, 600.0, 600.0, 700.0, 800.0),
        hmd_ft=(0.0, 0.0, 1215.0, 2126.0, 3342.0, 4861.0, 6683.0, 6683.0),
        hmd_filter=True,
    )
    return WellClearConfig(
        alerters=(
            Alerter(
                name="TCASII",
                levels=(
                    AlertLevel(ta, 0.0, 0.0, "NONE", "det_1"),
                    AlertLevel(ra, 0.0, 0.0, "NEAR", "det_2"),
                ),
            ),
        ),
        lookahead_s=60.0,
        corrective_region="NEAR",
    )


#: Built-in configurations by the name of the DAIDALUS file they come from.
PRESETS: Final[dict[str, Callable[[], WellClearConfig]]] = {
    "DO_365A_no_SUM": do_365a,
    "DO_365B_no_SUM": do_365b,
    "Buffered_DWC_SC_228_nom_a": buffered_dwc,
    "Buffered_DWC_SC_228_nom_b": buffered_dwc,
    "CD3D": cd3d,
    "TCAS3D": tcas_ii,
}


def preset(name: str) -> WellClearConfig:
    """A built-in configuration by name (see :data:`PRESETS`)."""
    try:
        return PRESETS[name]()
    except KeyError:
        raise EngineError(
            f"{name!r} is not a valid well-clear preset, must be one of {', '.join(PRESETS)}"
        ) from None
