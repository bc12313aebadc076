"""Well-clear alerting compatible with NASA's DAIDALUS (RTCA DO-365): arrays in, alerts out.

A port of DAIDALUS's alerting logic (well-clear volume ``WCV_TAUMOD`` with
``WCV_TCOA`` vertical, the ``CDCylinder`` and TCAS II ``TCAS3D`` volumes, alert levels with alerting
and early-alerting times, M-of-N, persistence and hysteresis), vectorised
over every pair of a fleet. No I/O: the DAIDALUS file readers are in
:mod:`skysep.io.daidalus`. See ``docs/wellclear.md``.
"""

from skysep.wellclear._alerting import REPORTS, Report, alert_fleet, alert_pairs, select
from skysep.wellclear._config import (
    REGIONS,
    Alerter,
    AlertLevel,
    CylinderVolume,
    Region,
    TauModVolume,
    TcasVolume,
    Volume,
    WellClearConfig,
)
from skysep.wellclear._kernels import EARTH_RADIUS_M, VELOCITY_STEP_S
from skysep.wellclear._presets import PRESETS, preset
from skysep.wellclear._types import AlertMemory, Traffic, WellClearAlerts

__all__ = [
    "EARTH_RADIUS_M",
    "PRESETS",
    "REGIONS",
    "REPORTS",
    "VELOCITY_STEP_S",
    "AlertLevel",
    "AlertMemory",
    "Alerter",
    "CylinderVolume",
    "Region",
    "Report",
    "TauModVolume",
    "TcasVolume",
    "Traffic",
    "Volume",
    "WellClearAlerts",
    "WellClearConfig",
    "alert_fleet",
    "alert_pairs",
    "preset",
    "select",
]
