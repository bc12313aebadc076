"""The replay's output folder: incidents.csv, alerts.csv, summary.json, report.html.

Everything is written into a temporary folder beside the destination and
moved into place at the end, so a reader never sees a half-written folder.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import numpy as np

from skysep import units
from skysep.agreement import Agreement
from skysep.errors import SkySepError
from skysep.replay._types import F64, ReplayResult, TrackRead

#: The columns of incidents.csv, in order (a contract).
INCIDENT_COLUMNS: Final[tuple[str, ...]] = (
    "aircraft_a",
    "aircraft_b",
    "party_a",
    "party_b",
    "start",
    "end",
    "duration_s",
    "min_h_m",
    "min_v_m",
    "time_of_min",
    "lat",
    "lon",
    "alt_m",
    "first_alert",
    "lead_time_s",
    "level_at_start",
)

#: The columns of alerts.csv, in order.
ALERT_COLUMNS: Final[tuple[str, ...]] = (
    "aircraft_a",
    "aircraft_b",
    "party_a",
    "party_b",
    "level",
    "first",
    "last",
    "steps",
    "min_t_in_s",
    "incident",
)

#: Incidents whose vertical separation at closest approach is within this of
#: the vertical minimum are counted apart in summary.json: recorded altitudes
#: come in 25 ft steps, so aircraft level on adjacent flight levels 1000 ft
#: apart can read 925-975 ft apart.
QUANTISATION_BAND_FT: Final = 100.0


def iso_utc(time_s: F64) -> list[str]:
    """Seconds since the epoch as ISO-8601 UTC strings (millisecond precision); '' for NaN."""
    out = []
    for value in time_s.tolist():
        if math.isnan(value):
            out.append("")
            continue
        stamp = datetime.fromtimestamp(value, tz=UTC)
        out.append(stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"))
    return out


def incident_rows(result: ReplayResult) -> list[list[Any]]:
    """incidents.csv's rows (without the header), in :data:`INCIDENT_COLUMNS` order."""
    inc = result.incidents
    columns: list[Sequence[Any]] = [
        inc.aircraft_a.tolist(),
        inc.aircraft_b.tolist(),
        inc.party_a.tolist(),
        inc.party_b.tolist(),
        iso_utc(inc.start_s),
        iso_utc(inc.end_s),
        inc.duration_s.tolist(),
        inc.min_h_m.tolist(),
        inc.min_v_m.tolist(),
        iso_utc(inc.time_of_min_s),
        inc.lat_deg.tolist(),
        inc.lon_deg.tolist(),
        inc.alt_m.tolist(),
        iso_utc(inc.first_alert_s),
        inc.lead_time_s.tolist(),
        inc.level_at_start.tolist(),
    ]
    return [list(row) for row in zip(*columns, strict=True)]


def alert_rows(result: ReplayResult) -> list[list[Any]]:
    """alerts.csv's rows (without the header), in :data:`ALERT_COLUMNS` order; ``incident``
    is the 1-based row of incidents.csv, None for a nuisance alert."""
    al = result.alerts
    columns: list[Sequence[Any]] = [
        al.aircraft_a.tolist(),
        al.aircraft_b.tolist(),
        al.party_a.tolist(),
        al.party_b.tolist(),
        al.level.tolist(),
        iso_utc(al.first_s),
        iso_utc(al.last_s),
        al.steps.tolist(),
        al.min_t_in_s.tolist(),
        [k + 1 if k >= 0 else None for k in al.incident.tolist()],
    ]
    return [list(row) for row in zip(*columns, strict=True)]


def _cell(value: Any) -> Any:
    """A value as pandas' ``to_csv`` writes it: nothing for None and NaN, floats by repr."""
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return value


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A CSV file as pandas' ``to_csv(index=False)`` writes it (the replay's files did once)."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator=os.linesep)
        writer.writerow(header)
        writer.writerows([_cell(v) for v in row] for row in rows)


def _stats(values: F64) -> dict[str, float | None]:
    if values.shape[0] == 0:
        return {k: None for k in ("min", "p10", "median", "mean", "p90", "max")}
    return {
        "min": float(values.min()),
        "p10": float(np.percentile(values, 10)),
        "median": float(np.median(values)),
        "mean": float(values.mean()),
        "p90": float(np.percentile(values, 90)),
        "max": float(values.max()),
    }


def summary(
    result: ReplayResult, agreement: Agreement, read: TrackRead | None, elapsed_s: float
) -> dict[str, Any]:
    """What summary.json holds (see docs/replay.md)."""
    inc, al = result.incidents, result.alerts
    lead = inc.lead_time_s[~np.isnan(inc.lead_time_s)]
    nuisance = int((al.incident < 0).sum())
    band_m = units.ft_to_m(QUANTISATION_BAND_FT)
    near_v = int(((inc.vertical_m - inc.min_v_m) <= band_m).sum()) if len(inc) else 0
    return {
        "incidents": len(inc),
        "incidents_alerted_before_start": int((lead > 0).sum()),
        "incidents_alerted_at_or_after_start": int((lead <= 0).sum()),
        "incidents_never_alerted": int(np.isnan(inc.lead_time_s).sum()),
        "incidents_within_100_ft_of_the_vertical_minimum": near_v,
        "lead_time_s": _stats(lead),
        "alert_episodes": len(al),
        "nuisance_alert_episodes": nuisance,
        "nuisance_alert_ratio": (nuisance / len(al)) if len(al) else None,
        "alert_episodes_by_level": {
            level: int((al.level == level).sum()) for level in ("warning", "caution", "advisory")
        },
        "points_read": read.rows_read if read else result.n_reports,
        "rows_rejected": read.rows_rejected if read else 0,
        "rows_without_position": read.rows_without_position if read else 0,
        "rows_repeated": read.rows_repeated if read else 0,
        "rejected_examples": list(read.rejected_examples) if read else [],
        "duplicate_reports_dropped": result.duplicate_reports,
        "altitude_spikes_dropped": result.altitude_spikes,
        "reports_used": result.n_reports - result.duplicate_reports - result.altitude_spikes,
        "aircraft": result.n_aircraft,
        "files": list(read.files) if read else [],
        "start": iso_utc(np.array([result.start_s]))[0],
        "end": iso_utc(np.array([result.end_s]))[0],
        "agreement": {
            "name": agreement.name,
            "horizontal_m": agreement.horizontal_m,
            "vertical_m": agreement.vertical_m,
            "lookahead_s": agreement.lookahead_s,
            "caution_s": agreement.caution_s,
            "warning_s": agreement.warning_s,
            "pair_overrides": len(agreement.pairs),
        },
        "options": {
            "max_gap_s": result.options.max_gap_s,
            "step_s": result.options.step_s,
            "merge_gap_s": result.options.merge_gap_s,
            "method": result.options.method,
            "spike_vertical_rate_mps": result.options.spike_vertical_rate_mps,
        },
        "candidate_windows": {
            "loss_of_separation": result.los_candidates,
            "alerts": result.alert_candidates,
        },
        "alert_steps_in_conflict": result.alert_steps,
        "elapsed_s": elapsed_s,
        "state_vectors_per_s": (result.n_reports / elapsed_s) if elapsed_s > 0 else None,
    }


def write_outputs(
    out_dir: str | Path,
    result: ReplayResult,
    agreement: Agreement,
    read: TrackRead | None,
    elapsed_s: float,
    report: Callable[[Path, dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Write the output folder atomically; returns the summary.

    ``report(path, summary)``, when given, writes report.html.
    """
    out_dir = Path(out_dir)
    parent = out_dir.parent if str(out_dir.parent) else Path(".")
    if not parent.is_dir():
        raise SkySepError(f"{out_dir}: the folder {str(parent)!r} does not exist")
    if out_dir.exists() and not out_dir.is_dir():
        raise SkySepError(f"{out_dir}: exists and is not a folder")
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=parent))
    try:
        facts = summary(result, agreement, read, elapsed_s)
        write_csv(staging / "incidents.csv", INCIDENT_COLUMNS, incident_rows(result))
        write_csv(staging / "alerts.csv", ALERT_COLUMNS, alert_rows(result))
        (staging / "summary.json").write_text(
            json.dumps(facts, indent=2, allow_nan=False) + "\n", encoding="utf-8"
        )
        if report is not None:
            report(staging / "report.html", facts)
        if out_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old.", dir=parent))
            out_dir.rename(old / out_dir.name)
            staging.rename(out_dir)
            shutil.rmtree(old)
        else:
            staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return facts
