"""Benchmark `skysep replay` on real recorded traffic, side by side with the `traffic` library.

The peer is traffic's ``Traffic.closest_point_of_approach`` followed by its
``aggregate`` (the way traffic finds losses of separation in recorded data).
Both run in this process's environment on the same files: traffic's own
samples ``switzerland`` (5 NM / 1000 ft) and ``quickstart`` (3 NM / 1000 ft),
written to Parquet with traffic's writer.

    python bench/bench_replay.py                 # SkySep only (about a minute)
    python bench/bench_replay.py --peer          # with traffic's CPA (about 15 minutes)
    python bench/bench_replay.py --peer --write docs/numbers-replay.md

Reported for SkySep: the end-to-end time of the ``skysep replay`` command as
a user runs it (process start to exit: reading the file, replay,
incidents.csv, alerts.csv, summary.json and report.html with every incident
plotted), the same with ``--no-report``, both the best of ``--runs`` runs with
the CPU time (user + system, the command and every process it starts) of
that run; the replay itself in one process, state vectors per second, and
misses against the brute-force reference (every pair of every time bin). For
the peer: its time, and the pairs it finds or misses against SkySep's
incidents. The 1-minute load average is read before each run: on a shared
machine wall times mean little without it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SKYSEP = Path(sys.executable).parent / "skysep"

#: sample name -> (preset, lateral NM, vertical ft, UTM zone for the peer's projection)
SAMPLES: dict[str, tuple[str, float, float, int]] = {
    "switzerland": ("icao-5nm", 5.0, 1000.0, 32),
    "quickstart": ("icao-3nm", 3.0, 1000.0, 31),
}


@dataclass
class Row:
    sample: str
    reports: int
    aircraft: int
    end_to_end_s: float
    end_to_end_cpu_s: float
    no_report_s: float
    no_report_cpu_s: float
    replay_s: float
    incidents: int
    plots: int
    pairs: int
    misses: int
    loads: tuple[float, float]
    peer_s: float | None = None
    peer_pairs: int | None = None
    peer_missed: int | None = None
    peer_extra: int | None = None


def export(folder: Path) -> dict[str, Path]:
    from traffic.data import samples

    files = {}
    for name in SAMPLES:
        path = folder / f"{name}.parquet"
        getattr(samples, name).to_parquet(path)
        files[name] = path
    return files


LOADS: list[float] = []


def user_environment(src: Path) -> dict[str, str]:
    """The environment the timed commands run in, with SkySep's modules compiled to bytecode.

    On a user's machine Python keeps the bytecode of the modules it imports
    (pip compiles an installed package; an editable install's first run
    writes it). This project's machines set ``PYTHONDONTWRITEBYTECODE=1``,
    with which every run compiles SkySep's modules from source again (0.05 s
    in the command's own process, as much in the figure process): the
    modules under ``src`` are compiled here first, and the variable is
    dropped.
    """
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(src)], check=True)
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


#: The timed commands' environment, made on first use.
ENV: dict[str, str] = {}


def command(path: Path, rules_name: str, out: Path, *extra: str) -> tuple[float, float]:
    """Wall time of one ``skysep replay`` process, start to exit, and the CPU time (user +
    system) of it and of every process it started."""
    if not ENV:
        ENV.update(user_environment(ROOT / "src"))
    LOADS.append(os.getloadavg()[0])
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(SKYSEP), "replay", str(path), "--preset", rules_name, "--out", str(out), *extra],
        stdout=subprocess.DEVNULL,
        env=ENV,
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall_s = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise subprocess.CalledProcessError(os.waitstatus_to_exitcode(status), process.args)
    return wall_s, usage.ru_utime + usage.ru_stime


def best(runs: list[tuple[float, float]]) -> tuple[float, float]:
    """The fastest run (wall time) and its CPU time."""
    return min(runs)


def run_ours(name: str, path: Path, folder: Path, runs: int) -> Row:
    from skysep.agreement import preset
    from skysep.io.tracks import read_tracks
    from skysep.replay import ReplayOptions, replay

    rules_name = SAMPLES[name][0]
    rules = preset(rules_name)
    # End to end, as a user runs it: with report.html, and without.
    out = folder / f"out-{name}"
    command(path, rules_name, out, "--quiet")  # compiles the kernels if the cache is stale
    LOADS.clear()
    end_to_end_s, end_to_end_cpu_s = best([command(path, rules_name, out) for _ in range(runs)])
    plots = (out / "report.html").read_text(encoding="utf-8").count("<img ")
    no_report_s, no_report_cpu_s = best(
        [command(path, rules_name, out, "--no-report") for _ in range(runs)]
    )
    loads = (min(LOADS), max(LOADS))
    fastest = np.inf
    for _ in range(3):
        started = time.perf_counter()
        read = read_tracks(path)
        result = replay(read.tracks, rules)
        fastest = min(fastest, time.perf_counter() - started)
    brute = replay(read.tracks, rules, ReplayOptions(method="brute-force"), partitions=1)
    ours = set(zip(result.incidents.aircraft_a, result.incidents.aircraft_b, strict=True))
    reference = set(zip(brute.incidents.aircraft_a, brute.incidents.aircraft_b, strict=True))
    same_intervals = np.array_equal(result.incidents.start_s, brute.incidents.start_s)
    misses = len(reference - ours) + (0 if same_intervals else 1)
    facts = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert facts["incidents"] == len(result.incidents)
    return Row(
        sample=name,
        reports=len(read.tracks),
        aircraft=result.n_aircraft,
        end_to_end_s=end_to_end_s,
        end_to_end_cpu_s=end_to_end_cpu_s,
        no_report_s=no_report_s,
        no_report_cpu_s=no_report_cpu_s,
        replay_s=fastest,
        incidents=len(result.incidents),
        plots=plots,
        pairs=len(ours),
        misses=misses,
        loads=loads,
    )


def run_peer(name: str, row: Row, ours: set[tuple[str, str]]) -> None:
    import pyproj
    from traffic.data import samples

    _, lateral_nm, vertical_ft, zone = SAMPLES[name]
    traffic = getattr(samples, name)
    started = time.perf_counter()
    cpa = traffic.closest_point_of_approach(
        lateral_separation=lateral_nm,
        vertical_separation=vertical_ft,
        projection=pyproj.Proj(proj="utm", zone=zone, ellps="WGS84"),
        round_t="d",
        max_workers=2,
    )
    aggregated = cpa.aggregate(lateral_nm, vertical_ft) if cpa is not None else None
    row.peer_s = time.perf_counter() - started
    found: set[tuple[str, str]] = set()
    if aggregated is not None:
        data = aggregated.data
        hits = data[(data.lateral < lateral_nm) & (data.vertical < vertical_ft)]
        for a, b in zip(hits.icao24_x, hits.icao24_y, strict=True):
            found.add((min(a, b), max(a, b)))
    row.peer_pairs = len(found)
    row.peer_missed = len(ours - found)
    row.peer_extra = len(found - ours)


def table(rows: list[Row]) -> str:
    lines = [
        "| sample | reports | aircraft | `skysep replay` end to end (CPU) | plots "
        "| same, `--no-report` (CPU) | replay in process | state vectors/s | incidents | pairs "
        "| misses vs brute force | load average | traffic CPA | CPA pairs | CPA misses | ratio |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        peer = f"{r.peer_s:.0f} s" if r.peer_s is not None else "not run"
        ratio = f"{r.peer_s / r.end_to_end_s:.0f} x" if r.peer_s is not None else ""
        lines.append(
            f"| {r.sample} | {r.reports:,} | {r.aircraft:,} "
            f"| {r.end_to_end_s:.2f} s ({r.end_to_end_cpu_s:.2f} s) | {r.plots} "
            f"| {r.no_report_s:.2f} s ({r.no_report_cpu_s:.2f} s) | {r.replay_s:.2f} s "
            f"| {r.reports / r.replay_s:,.0f} | {r.incidents} | {r.pairs} | {r.misses} "
            f"| {r.loads[0]:.1f}-{r.loads[1]:.1f} | {peer} "
            f"| {'' if r.peer_pairs is None else r.peer_pairs} "
            f"| {'' if r.peer_missed is None else r.peer_missed} | {ratio} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peer", action="store_true", help="also run traffic's CPA (slow)")
    parser.add_argument("--write", type=Path, help="write the results as Markdown here")
    parser.add_argument("--sample", nargs="*", default=list(SAMPLES), choices=list(SAMPLES))
    parser.add_argument("--runs", type=int, default=5, help="end-to-end runs (best kept)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = export(folder)
        for name in args.sample:
            row = run_ours(name, files[name], folder, args.runs)
            if args.peer:
                from skysep.agreement import preset
                from skysep.io.tracks import read_tracks
                from skysep.replay import replay

                result = replay(read_tracks(files[name]).tracks, preset(SAMPLES[name][0]))
                ours = set(
                    zip(result.incidents.aircraft_a, result.incidents.aircraft_b, strict=True)
                )
                run_peer(name, row, ours)
            rows.append(row)
            print(table(rows[-1:]), flush=True)
    text = table(rows)
    print(text)
    if args.write:
        cpu = next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor(),
        )
        block = (
            f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {cpu}, "
            f"Python {platform.python_version()}, with "
            f"`python bench/bench_replay.py {' '.join(sys.argv[1:])}`; "
            f"{os.cpu_count()} CPUs; the 1-minute load average before the runs of each "
            "sample is in the table (above the CPU count, other work shared the machine).\n\n"
            "End to end: the `skysep replay FILE --preset P --out DIR` command as a "
            "user runs it, process start to exit (reading Parquet written by traffic, replay, "
            "incidents.csv, alerts.csv, summary.json, report.html with every incident "
            f"plotted), best of {args.runs} runs, with the CPU time (user + system, all its "
            "processes) of that run; then the same with `--no-report`. "
            "Replay in process: reading and replaying in one process (best of 3). Misses: incident "
            "pairs (and intervals) of the brute-force reference that the replay does not "
            "report. traffic CPA: `closest_point_of_approach(...).aggregate(...)` with "
            "`round_t='d'`, two worker processes; its misses are SkySep's incident pairs it "
            "does not report. Plots: figures (one pair's incidents close in time share one).\n\n"
            + text
            + "\n"
        )
        write_block(args.write, block)


#: The part of a numbers page that --write replaces; the rest (the analysis) is kept.
BEGIN, END = "<!-- bench_replay.py --write: begin -->", "<!-- bench_replay.py --write: end -->"


def write_block(path: Path, block: str) -> None:
    """Put ``block`` between the page's markers, or write a new page holding it."""
    if not path.exists():
        path.write_text(f"# Replay: measured numbers\n\n{BEGIN}\n{block}{END}\n", "utf-8")
        return
    page = path.read_text(encoding="utf-8")
    if page.count(BEGIN) != 1 or page.count(END) != 1 or page.index(BEGIN) > page.index(END):
        raise SystemExit(
            f"{path}: exists without one {BEGIN!r} ... {END!r} pair of markers; refusing to "
            "overwrite its hand-written analysis (add the markers where the table goes)"
        )
    head, rest = page.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    path.write_text(f"{head}{BEGIN}\n{block}{END}{tail}", encoding="utf-8")


if __name__ == "__main__":
    main()
