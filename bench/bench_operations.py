"""Benchmark of the strategic check (issue #6): a new operation against 10,000 filed volumes.

    .venv/bin/python bench/bench_operations.py --write docs/numbers-operations.md
    .venv/bin/python bench/bench_operations.py --volumes 10000 --checks 300 --naive-checks 30

The filed volumes (fixed seed), parsed from GeoJSON like any filing: operations of
1 to 5 volumes by 40 parties, centred uniformly in a 400 x 400 km square around
44 N 4 E; 60 % polygons (5 to 12 vertices, 0.5 to 15 km across), 40 % circles
(0.2 to 8 km radius, about 40 to 500 vertices at the 1 m tolerance); altitude
bands drone (0-400 ft), low (0-3,000 ft), mid (1,000-10,000 ft), high
(5,000-20,000 ft); time windows of 1 to 8 h starting anywhere in three days.

Timed: building the index (filing every operation, then the STRtree), and
``OperationIndex.conflicts`` for each new operation (3 to 5 volumes drawn the same
way, of a party that filed nothing), conflicts' regions included. The naive peer,
in the same run: for each new volume, a loop over every filed volume's parts with
``shapely.intersects`` (then the same 4D test); its conflicts must equal the
index's. Target of the issue: a check under 50 ms.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from skysep.operations import Operation, OperationIndex, parse_operation

NOW = datetime(2030, 1, 1, tzinfo=UTC)
WEEK = datetime(2030, 6, 10, tzinfo=UTC)
CENTRE = (4.0, 44.0)
HALF_SIDE_KM = 200.0
BANDS_FT = ((0, 400), (0, 3000), (1000, 10000), (5000, 20000))


def _feature(rng: np.random.Generator, fid: str) -> dict[str, Any]:
    km_per_deg_lat = 111.2
    km_per_deg_lon = km_per_deg_lat * np.cos(np.radians(CENTRE[1]))
    x, y = rng.uniform(-HALF_SIDE_KM, HALF_SIDE_KM, 2)
    lon, lat = CENTRE[0] + x / km_per_deg_lon, CENTRE[1] + y / km_per_deg_lat
    lower, upper = BANDS_FT[int(rng.integers(len(BANDS_FT)))]
    start = WEEK + timedelta(minutes=int(rng.integers(0, 3 * 24 * 60)))
    end = start + timedelta(minutes=int(rng.integers(60, 8 * 60)))
    props: dict[str, Any] = {
        "lower_ft": lower,
        "upper_ft": upper,
        "start": start.isoformat(),
        "end": end.isoformat(),
    }
    if rng.random() < 0.4:
        geometry: dict[str, Any] = {"type": "Point", "coordinates": [lon, lat]}
        props["radius_m"] = float(rng.uniform(200.0, 8000.0))
    else:
        n = int(rng.integers(5, 13))
        angles = (np.arange(n) + rng.uniform(0, 0.8, n)) * 2 * np.pi / n  # star-shaped
        radius_km = rng.uniform(0.25, 7.5) * rng.uniform(0.6, 1.0, n)
        ring = [
            [lon + r * np.cos(a) / km_per_deg_lon, lat + r * np.sin(a) / km_per_deg_lat]
            for r, a in zip(radius_km, angles, strict=True)
        ]
        geometry = {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}
    return {"type": "Feature", "id": fid, "geometry": geometry, "properties": props}


def _operation(rng: np.random.Generator, op_id: str, party: str, volumes: int) -> Operation:
    data = {
        "type": "FeatureCollection",
        "operation": {"id": op_id, "party": party},
        "features": [_feature(rng, f"v{j}") for j in range(volumes)],
    }
    return parse_operation(data, now=NOW)


def filed_operations(rng: np.random.Generator, n_volumes: int) -> list[Operation]:
    ops: list[Operation] = []
    count = 0
    while count < n_volumes:
        k = min(int(rng.integers(1, 6)), n_volumes - count)
        ops.append(_operation(rng, f"op{len(ops)}", f"party{len(ops) % 40}", k))
        count += k
    return ops


def naive_conflicts(filed: list[Operation], new: Operation) -> set[tuple[str, str, str]]:
    """The peer: every filed volume's parts tested with shapely.intersects, then 4D."""
    out = set()
    for v in new.volumes:
        for other in filed:
            if other.party == new.party:
                continue
            for w in other.volumes:
                if not any(shapely.intersects(p, q) for p in v.parts for q in w.parts):
                    continue
                if not (
                    v.lower_m < w.upper_m
                    and w.lower_m < v.upper_m
                    and v.start < w.end
                    and w.start < v.end
                ):
                    continue
                if any(shapely.relate_pattern(p, q, "T********") for p in v.parts for q in w.parts):
                    out.add((v.id, other.id, w.id))
    return out


def _ms(values: list[float]) -> tuple[float, float, float]:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(np.ceil(0.99 * len(ordered))) - 1)]
    return statistics.median(ordered) * 1e3, p99 * 1e3, max(ordered) * 1e3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--volumes", type=int, default=10_000)
    parser.add_argument("--checks", type=int, default=300, help="new operations checked")
    parser.add_argument("--naive-checks", type=int, default=30, help="of them, by the peer too")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--write", type=Path, help="write the Markdown report here")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)

    t = time.perf_counter()
    filed = filed_operations(rng, args.volumes)
    parse_s = time.perf_counter() - t
    parts = sum(len(v.parts) for op in filed for v in op.volumes)
    vertices = sum(
        int(shapely.get_num_coordinates(p)) for op in filed for v in op.volumes for p in v.parts
    )
    print(f"{args.volumes} volumes in {len(filed)} operations parsed in {parse_s:.1f} s")

    t = time.perf_counter()
    index = OperationIndex(filed)
    add_s = time.perf_counter() - t
    t = time.perf_counter()
    index.build()
    build_s = time.perf_counter() - t
    print(f"index: filed in {add_s * 1e3:.1f} ms, STRtree built in {build_s * 1e3:.1f} ms")

    news = [
        _operation(rng, f"new{k}", "newcomer", int(rng.integers(3, 6))) for k in range(args.checks)
    ]
    times: list[float] = []
    found: list[int] = []
    results = []
    for new in news:
        t = time.perf_counter()
        conflicts = index.conflicts(new)
        times.append(time.perf_counter() - t)
        found.append(len(conflicts))
        results.append({(c.volume_id, c.other_operation_id, c.other_volume_id) for c in conflicts})
    naive_times: list[float] = []
    for new, got in zip(news[: args.naive_checks], results, strict=False):
        t = time.perf_counter()
        want = naive_conflicts(filed, new)
        naive_times.append(time.perf_counter() - t)
        if want != got:
            print(f"MISMATCH for {new.id}: index {sorted(got)} naive {sorted(want)}")
            return 1
    med, p99, worst = _ms(times)
    n_med, n_p99, n_worst = _ms(naive_times)
    print(f"index: median {med:.2f} ms, p99 {p99:.2f} ms, max {worst:.2f} ms")
    print(f"naive: median {n_med:.1f} ms, p99 {n_p99:.1f} ms ({len(naive_times)} checks)")

    if args.write:
        machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
        report = f"""# Numbers: strategic check of operations

Measured {datetime.now(UTC):%Y-%m-%d} on {machine} (shared with other work),
Python {platform.python_version()}, shapely {shapely.__version__}
(GEOS {shapely.geos_version_string}). Reproduce:

```console
.venv/bin/python bench/bench_operations.py --write docs/numbers-operations.md
```

The workload is described in `bench/bench_operations.py`: {args.volumes:,} filed
volumes ({len(filed):,} operations of 40 parties; {parts:,} polygon parts,
{vertices:,} vertices) in a 400 x 400 km square, 60 % polygons and 40 % circles,
four altitude bands, windows of 1 to 8 h over three days. Each new operation has 3
to 5 volumes drawn the same way; on average it has
{statistics.mean(found):.1f} strategic conflicts (max {max(found)}).

| | median | p99 | max | checks |
| --- | ---: | ---: | ---: | ---: |
| `OperationIndex.conflicts` (STRtree) | {med:.2f} ms | {p99:.2f} ms | {worst:.2f} ms \
| {len(times)} |
| naive peer (loop, `shapely.intersects`) | {n_med:.1f} ms | {n_p99:.1f} ms \
| {n_worst:.1f} ms | {len(naive_times)} |

The peer found the same conflicts as the index on every check it ran.

| building the index | time |
| --- | ---: |
| filing {len(filed):,} operations (`OperationIndex(ops)`) | {add_s * 1e3:.1f} ms |
| STRtree over {parts:,} parts (`index.build()`) | {build_s * 1e3:.1f} ms |
| parsing and validating the {args.volumes:,} GeoJSON volumes (circles made) | {parse_s:.1f} s |

The issue's target, a check under 50 ms against 10,000 filed volumes, is
{"met" if p99 < 50 else "NOT met"} at the 99th percentile here ({args.volumes:,} volumes).
"""
        args.write.write_text(report, encoding="utf-8")
        print(f"wrote {args.write}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
