"""Replay on real recorded flights: the `traffic` library's samples, exported to files.

The samples ship with traffic (MIT; data from the OpenSky Network) and load
offline. They are written with traffic's own writers, read back with
SkySep's readers and replayed through the command line and the Python API.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from skysep import units
from skysep.agreement import preset
from skysep.io.tracks import read_tracks
from skysep.replay import ReplayOptions, ReplayResult, replay
from skysep.replay.outputs import INCIDENT_COLUMNS

SKYSEP = shutil.which("skysep", path=str(Path(sys.executable).parent)) or "skysep"


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from traffic.data.samples import dreamliner_airfrance, quickstart, switzerland

    folder = tmp_path_factory.mktemp("traffic")
    files = {
        "dreamliner": folder / "dreamliner.csv",
        "quickstart": folder / "quickstart.parquet",
        "switzerland": folder / "switzerland.parquet",
    }
    dreamliner_airfrance.to_csv(files["dreamliner"])
    quickstart.to_parquet(files["quickstart"])
    switzerland.to_parquet(files["switzerland"])
    return files


def assert_same(a: ReplayResult, b: ReplayResult) -> None:
    for name in ("incidents", "alerts"):
        x, y = getattr(a, name), getattr(b, name)
        for field in x.__dataclass_fields__:
            u, v = getattr(x, field), getattr(y, field)
            if u.dtype.kind == "f":
                np.testing.assert_array_equal(u, v, err_msg=f"{name}.{field}")
            else:
                assert u.tolist() == v.tolist(), f"{name}.{field}"


def test_formation_flight_is_a_loss_of_separation(samples: dict[str, Path], tmp_path: Path) -> None:
    """The Air France Dreamliner formation flight, replayed through the command line."""
    out = tmp_path / "out"
    result = subprocess.run(
        [SKYSEP, "replay", str(samples["dreamliner"]), "--preset", "icao-5nm", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "alerts.csv",
        "incidents.csv",
        "report.html",
        "summary.json",
    ]
    incidents = pd.read_csv(out / "incidents.csv")
    assert list(incidents.columns) == list(INCIDENT_COLUMNS)
    assert len(incidents) >= 1
    closest = incidents.sort_values("min_h_m").iloc[0]
    assert closest["min_h_m"] < units.nm_to_m(1.0)  # a formation: well inside 5 NM
    assert closest["aircraft_a"] < closest["aircraft_b"]
    assert incidents["start"].is_monotonic_increasing
    facts: dict[str, Any] = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert facts["incidents"] == len(incidents)
    assert facts["aircraft"] >= 2
    assert facts["points_read"] > 10_000
    html = (out / "report.html").read_text(encoding="utf-8")
    assert str(closest["aircraft_a"]) in html
    assert html.endswith("</body></html>\n")
    # The summary line reaches a pipe whole (the command ends without the interpreter's
    # clean-up once its outputs are written: skysep._start.exit_now).
    printed = "".join(result.stdout.split())  # rich wraps lines where it likes
    assert f"{facts['incidents']}incident(s)" in printed
    assert printed.endswith("writtento" + "".join(str(out).split()))


def test_quickstart_grid_equals_brute_force(samples: dict[str, Path]) -> None:
    """Paris, 238 flights with approach traffic, at 3 NM / 1000 ft: no loss missed."""
    tracks = read_tracks(samples["quickstart"]).tracks
    rules = preset("icao-3nm")
    grid = replay(tracks, rules)
    brute = replay(tracks, rules, ReplayOptions(method="brute-force"), partitions=1)
    assert len(grid.incidents) > 20
    assert_same(grid, brute)


def test_quickstart_figures_show_the_closest_approach_the_replay_found(
    samples: dict[str, Path],
) -> None:
    """Every figure's separations at its closest approach are the replay's, to 1 cm, drawn
    from the reports the replay hands over.

    quickstart has junk altitudes that the replay drops as spikes: the figures
    drop them too (they once plotted a 2.7 km vertical spike the replay never saw).
    """
    from skysep.replay import report
    from skysep.replay._select import UsedReports, used_reports

    tracks = read_tracks(samples["quickstart"]).tracks
    options = ReplayOptions()
    handed: list[UsedReports] = []
    result = replay(tracks, preset("icao-3nm"), options, on_reports=handed.append)
    assert result.altitude_spikes > 0
    # What the replay hands the figure process is what it would find in the tracks.
    (used,) = handed
    found = used_reports(tracks, options.max_gap_s, options.spike_vertical_rate_mps)
    for name in UsedReports.__dataclass_fields__:
        np.testing.assert_array_equal(getattr(used, name), getattr(found, name), err_msg=name)
    inc = result.incidents
    index = report._TrackIndex(used)
    for k in range(len(inc)):
        pic = report._picture(index, inc, (k,), options.max_gap_s)
        (at,) = np.flatnonzero(pic.t_rel == pic.min_rel)
        assert abs(units.nm_to_m(pic.h_nm[at]) - inc.min_h_m[k]) < 0.01, k
        assert abs(units.ft_to_m(pic.v_ft[at]) - inc.min_v_m[k]) < 0.01, k


def test_switzerland_grid_equals_brute_force(samples: dict[str, Path]) -> None:
    """A day over Switzerland at 5 NM / 1000 ft; most losses are adjacent flight levels."""
    tracks = read_tracks(samples["switzerland"]).tracks
    rules = preset("icao-5nm")
    grid = replay(tracks, rules)
    brute = replay(tracks, rules, ReplayOptions(method="brute-force"), partitions=1)
    assert_same(grid, brute)
    inc = grid.incidents
    assert len(inc) > 50
    near_v = (inc.vertical_m - inc.min_v_m) <= units.ft_to_m(100.0)
    # Altitudes in 25 ft steps: level aircraft on adjacent levels read 925-975 ft apart.
    assert near_v.mean() > 0.5
    assert grid.los_candidates < brute.los_candidates / 10


@pytest.mark.slow
def test_dask_cluster_gives_the_same_output(samples: dict[str, Path], tmp_path: Path) -> None:
    """--workers 2 (a 2-process LocalCluster) writes the same files as one process."""
    outputs = {}
    base = [SKYSEP, "replay", str(samples["quickstart"]), "--preset", "icao-3nm", "--quiet"]
    for name, extra in (("single", []), ("dask", ["--workers", "2"])):
        out = tmp_path / name
        result = subprocess.run(
            [*base, "--out", str(out), *extra],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        outputs[name] = out
    for file in ("incidents.csv", "alerts.csv"):
        single = (outputs["single"] / file).read_text(encoding="utf-8")
        assert single == (outputs["dask"] / file).read_text(encoding="utf-8")
        assert len(single.splitlines()) > 10


def test_quickstart_vertical_early_out_changes_no_alert(
    samples: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Approach traffic climbing and descending through each other: the same alerts with
    the vertical early-out as with every step sampled in full."""
    from test_replay import assert_same, without_vertical_early_out

    tracks = read_tracks(samples["quickstart"]).tracks
    rules = preset("icao-3nm")
    fast = replay(tracks, rules, partitions=1)
    without_vertical_early_out(monkeypatch)
    full = replay(tracks, rules, partitions=1)
    assert len(full.alerts) > 100
    assert_same(fast, full)
