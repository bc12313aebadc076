"""The well-clear alerting configuration: alerters, alert levels and their volumes, SI units.

This mirrors what a DAIDALUS configuration file sets for *alerting* (bands
parameters play no part in alert levels and are not represented). Every
quantity is SI: metres, seconds; names carry the unit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Final, Literal

from skysep.errors import EngineError

Region = Literal["NONE", "FAR", "MID", "NEAR"]

#: Guidance regions of an alert level, least to most severe (DAIDALUS ``BandsRegion``).
REGIONS: Final[tuple[str, ...]] = ("NONE", "FAR", "MID", "NEAR")


@dataclass(frozen=True)
class TauModVolume:
    """DO-365 well-clear volume (DAIDALUS ``WCV_TAUMOD``).

    Horizontally violated when the horizontal distance is at most ``dthr_m``,
    or when the horizontal miss distance is at most ``dthr_m`` and the modified
    tau ``(dthr_m**2 - r**2) / (r . r')`` lies in ``[0, tthr_s]``; vertically
    violated when the vertical separation is at most ``zthr_m`` or the time to
    co-altitude is in ``[0, tcoa_s]``.
    """

    dthr_m: float
    zthr_m: float
    tthr_s: float
    tcoa_s: float

    kind: Literal["taumod"] = field(default="taumod", init=False)


@dataclass(frozen=True)
class CylinderVolume:
    """A cylinder of radius ``d_m`` and half-height ``h_m`` (DAIDALUS ``CDCylinder``)."""

    d_m: float
    h_m: float

    kind: Literal["cylinder"] = field(default="cylinder", init=False)


@dataclass(frozen=True)
class TcasVolume:
    """The TCAS II volume (DAIDALUS ``TCAS3D``): thresholds by sensitivity level.

    The sensitivity level is the first whose altitude upper bound
    (``levels_m``, one fewer than the thresholds: the last level is
    unbounded) is at or above the ownship's altitude. For that level:
    horizontally, distance at most ``dmod_m`` or modified tau (with DMOD) at
    most ``tau_s`` while closing, and with ``hmd_filter`` a horizontal miss
    distance at most ``hmd_m``; vertically, separation at most ``zthr_m`` or
    time to co-altitude at most ``tcoa_s``.
    """

    levels_m: tuple[float, ...]
    tau_s: tuple[float, ...]
    tcoa_s: tuple[float, ...]
    dmod_m: tuple[float, ...]
    zthr_m: tuple[float, ...]
    hmd_m: tuple[float, ...]
    hmd_filter: bool

    kind: Literal["tcas"] = field(default="tcas", init=False)


Volume = TauModVolume | CylinderVolume | TcasVolume


@dataclass(frozen=True)
class AlertLevel:
    """One alert level: a volume, the alerting times and the guidance region.

    The level is raised when the volume will be violated within
    ``alerting_time_s`` (or now); once the level is the current (filtered)
    alert of a pair, ``early_alerting_time_s`` replaces ``alerting_time_s``
    for that pair (DAIDALUS's early alerting).
    """

    volume: Volume
    alerting_time_s: float
    early_alerting_time_s: float
    region: Region
    detector: str = ""


@dataclass(frozen=True)
class Alerter:
    """A named list of alert levels, level 1 (least severe) first."""

    name: str
    levels: tuple[AlertLevel, ...]

    def level_for_region(self, region: str) -> int:
        """The first level (1-based) whose region is ``region``, or 0."""
        for k, level in enumerate(self.levels, start=1):
            if level.region == region:
                return k
        return 0


@dataclass(frozen=True)
class WellClearConfig:
    """What decides alert levels: alerters, lookahead, and the alert filters.

    ``alerting_m`` of ``alerting_n`` is the M-of-N filter (off when ``m`` is
    0 or ``m > n``); ``hysteresis_time_s`` is how long the filter's memory of
    a pair lasts between updates; ``persistence_time_s`` is how long an alert
    is held before it may drop to a lower level. ``ownship_centric`` selects
    the ownship's alerter for every pair (else the traffic aircraft's).
    """

    alerters: tuple[Alerter, ...]
    lookahead_s: float = 180.0
    hysteresis_time_s: float = 0.0
    persistence_time_s: float = 0.0
    alerting_m: int = 0
    alerting_n: int = 0
    ownship_centric: bool = True
    corrective_region: Region = "NEAR"

    def __post_init__(self) -> None:
        validate_config(self)

    @property
    def max_levels(self) -> int:
        """The largest number of alert levels of any alerter."""
        return max((len(a.levels) for a in self.alerters), default=0)

    def without_hysteresis(self) -> WellClearConfig:
        """The same configuration with the M-of-N, persistence and hysteresis filters off.

        Early alerting still applies after an alert, as in DAIDALUS.
        """
        return replace(
            self, hysteresis_time_s=0.0, persistence_time_s=0.0, alerting_m=0, alerting_n=0
        )

    def corrective_level(self, alerter: int) -> int:
        """The level (1-based) of alerter ``alerter`` (1-based) in the corrective region, or 0."""
        if not 1 <= alerter <= len(self.alerters):
            return 0
        return self.alerters[alerter - 1].level_for_region(self.corrective_region)


def _finite_non_negative(name: str, value: float) -> None:
    if not (isinstance(value, float | int) and math.isfinite(value) and value >= 0):
        raise EngineError(f"{name} must be a finite number >= 0, got {value!r}")


def _validate_tcas(where: str, volume: TcasVolume) -> None:
    n = len(volume.levels_m) + 1
    for name in ("tau_s", "tcoa_s", "dmod_m", "zthr_m", "hmd_m"):
        values = getattr(volume, name)
        if len(values) != n:
            raise EngineError(
                f"{where}: {name} needs one value per sensitivity level ({n}), got {len(values)}"
            )
        for k, value in enumerate(values, start=1):
            _finite_non_negative(f"{where}: {name}[{k}]", value)
    for k, bound in enumerate(volume.levels_m, start=1):
        if not math.isfinite(bound) or (k > 1 and bound <= volume.levels_m[k - 2]):
            raise EngineError(
                f"{where}: levels_m must increase, got {bound!r} after "
                f"{volume.levels_m[k - 2] if k > 1 else None!r}"
            )


def validate_config(config: WellClearConfig) -> None:
    """Raise :class:`EngineError` naming the first unusable value."""
    _finite_non_negative("lookahead_s", config.lookahead_s)
    if config.lookahead_s <= 0:
        raise EngineError(f"lookahead_s must be > 0, got {config.lookahead_s!r}")
    _finite_non_negative("hysteresis_time_s", config.hysteresis_time_s)
    _finite_non_negative("persistence_time_s", config.persistence_time_s)
    for name in ("alerting_m", "alerting_n"):
        value = getattr(config, name)
        if not isinstance(value, int) or value < 0 or value > 64:
            raise EngineError(f"{name} must be an integer in [0, 64], got {value!r}")
    if config.corrective_region not in REGIONS:
        raise EngineError(
            f"corrective_region {config.corrective_region!r} is not a valid option, "
            f"must be one of {', '.join(REGIONS)}"
        )
    if not config.alerters:
        raise EngineError("a well-clear configuration needs at least one alerter")
    for alerter in config.alerters:
        if not alerter.levels:
            raise EngineError(f"alerter {alerter.name!r} has no alert level")
        for k, level in enumerate(alerter.levels, start=1):
            where = f"alerter {alerter.name!r} level {k}"
            _finite_non_negative(f"{where}: alerting_time_s", level.alerting_time_s)
            _finite_non_negative(f"{where}: early_alerting_time_s", level.early_alerting_time_s)
            if level.region not in REGIONS:
                raise EngineError(
                    f"{where}: region {level.region!r} is not a valid option, "
                    f"must be one of {', '.join(REGIONS)}"
                )
            volume = level.volume
            if isinstance(volume, TauModVolume):
                for name in ("dthr_m", "zthr_m", "tthr_s", "tcoa_s"):
                    _finite_non_negative(f"{where}: {name}", getattr(volume, name))
            elif isinstance(volume, CylinderVolume):
                for name in ("d_m", "h_m"):
                    _finite_non_negative(f"{where}: {name}", getattr(volume, name))
            elif isinstance(volume, TcasVolume):
                _validate_tcas(where, volume)
            else:
                raise EngineError(f"{where}: unknown volume {volume!r}")
