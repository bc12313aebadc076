"""Benchmark of SkySep's conflict engine, next to BlueSky's compiled state-based detection.

Every (workload, N) runs in a fresh subprocess, so that its peak RSS is its own: the child
warms numba up with a small snapshot, builds the States (outside the timing), times full
``skysep.engine.detect(states, agreement)`` calls with all cores and with one thread, reads
its peak RSS, then (outside the timed and measured part) times the brute-force method and
checks that the grid gives exactly the same result, runs BlueSky on the same snapshot and
compares the pair sets. Seconds are the best of several repeats, with the median.

    .venv/bin/python bench/bench_detect.py                       # everything (a few minutes)
    .venv/bin/python bench/bench_detect.py --workload A --n 1000 10000
    .venv/bin/python bench/bench_detect.py --no-peer --write /tmp/numbers.md

See ``bench/README.md`` for the workloads and what the tables mean.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import math
import os
import platform
import resource
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any, Final, TypeVar

import numpy as np
import numpy.typing as npt
import workloads
from rich.console import Console
from rich.table import Table

from skysep.agreement import Agreement, preset
from skysep.engine import Conflicts, States, _geometry, _kernels, detect

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
T = TypeVar("T")

PRESET: Final = "icao-5nm"
SEED: Final = 1
#: Sizes run when ``--n`` is not given.
DEFAULT_SIZES: Final[dict[str, tuple[int, ...]]] = {
    "A": (1_000, 3_000, 10_000, 30_000, 100_000),
    "B": (10_000, 30_000, 100_000),
    "B-am": (10_000, 100_000),
}
#: BlueSky is all-pairs and single-threaded (about 60 s at N = 30,000): never above this.
PEER_MAX_N: Final = 10_000
#: Our own brute-force method is timed (and compared with the grid) up to this N.
BRUTE_MAX_N: Final = 10_000
#: Relative change of the minima (and of the lookahead) that makes a mismatch a boundary case.
BOUNDARY: Final = 0.01
#: BlueSky's Earth radius (``geo.hpp``) and its "no vertical rate" threshold (``cstatebased``).
PEER_EARTH_RADIUS_M: Final = 6_371_000.0
PEER_MIN_DVS_MPS: Final = 1e-6
#: Targets of the issue.
TARGET_A_10K_S: Final = 0.060
TARGET_B_100K_S: Final = 0.5
TARGET_SPEEDUP: Final = 70.0
RESULT_TAG: Final = "@@bench-result "


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclass
class PeerComparison:
    """Our pair set against BlueSky's on one snapshot, mismatches classified."""

    both: int
    only_ours: int
    only_peer: int
    #: Mismatches whose status flips when the minima are scaled by 1 +- BOUNDARY.
    boundary_minima: int
    #: Of the rest, those whose status flips when the lookahead is scaled by 1 +- BOUNDARY.
    boundary_lookahead: int
    #: Of the rest, those where the closest distance of the two models (inside the common
    #: vertical window and the lookahead) straddles H: a pure flat-earth model difference.
    flat_earth: int
    #: Largest |closest distance, BlueSky's model - ours| over the flat-earth cases: metres,
    #: and as a fraction of the pair's current distance.
    flat_earth_max_m: float
    flat_earth_max_rel: float
    #: Nearest a flat-earth case comes to H in our model, as a fraction of H.
    flat_earth_max_margin: float
    #: Everything else (should be empty): a short description per pair.
    unexplained: list[str] = field(default_factory=list)
    #: Mismatches between level aircraft exactly the vertical minimum apart (to rounding):
    #: BlueSky compares feet converted to metres with a strict "<" and no tolerance.
    at_vertical_minimum: int = 0

    @property
    def mismatches(self) -> int:
        return self.only_ours + self.only_peer

    @property
    def not_boundary(self) -> int:
        return self.mismatches - self.boundary_minima


@dataclass
class Case:
    """One (workload, N) run of a child process."""

    workload: str
    n: int
    seed: int
    threads_all: int
    secs_all: list[float] = field(default_factory=list)
    secs_one: list[float] = field(default_factory=list)
    candidates: int = 0
    conflicts: int = 0
    threads_agree: bool = True
    rss_base_kib: int = 0
    rss_peak_kib: int = 0
    brute_secs: list[float] | None = None
    exact: bool | None = None
    peer_secs: list[float] | None = None
    peer: PeerComparison | None = None
    #: B-am only: (pairs only in B-am, pairs only in B, B-am conflicts across the antimeridian)
    #: on the same N and seed.
    am_vs_b: tuple[int, int, int] | None = None
    error: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Case:
        peer = data.pop("peer", None)
        am = data.pop("am_vs_b", None)
        case = cls(**data)
        case.peer = PeerComparison(**peer) if peer is not None else None
        case.am_vs_b = (int(am[0]), int(am[1]), int(am[2])) if am is not None else None
        return case

    @property
    def best_all(self) -> float:
        return min(self.secs_all) if self.secs_all else math.nan

    @property
    def best_one(self) -> float:
        return min(self.secs_one) if self.secs_one else math.nan

    @property
    def best_peer(self) -> float:
        return min(self.peer_secs) if self.peer_secs else math.nan


# --------------------------------------------------------------------------------------------
# Child: one (workload, N) in a fresh process
# --------------------------------------------------------------------------------------------


def _rss_kib() -> int:
    """Peak resident set size of this process so far (KiB on Linux)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _timed(fn: Callable[[], T], repeats: int) -> tuple[list[float], T]:
    """Wall times of ``repeats`` calls and the last result (the previous one is freed first)."""
    times: list[float] = []
    result: T | None = None
    for _ in range(repeats):
        result = None
        gc.collect()
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    assert result is not None
    return times, result


def _keys(index_a: I64, index_b: I64, n: int) -> I64:
    """One int64 per unordered pair, for set operations."""
    lo = np.minimum(index_a, index_b)
    hi = np.maximum(index_a, index_b)
    keys: I64 = np.unique(lo * n + hi)
    return keys


def _conflict_keys(states: States, agreement: Agreement) -> I64:
    found = detect(states, agreement, method="brute-force")
    return _keys(found.index_a, found.index_b, len(states))


def _window(lo: float, hi: float, lookahead_s: float) -> tuple[float, float]:
    return max(lo, 0.0), min(hi, lookahead_s)


def _closest(a: float, b: float, c0: float, window: tuple[float, float]) -> float:
    """Smallest sqrt(a t^2 + 2 b t + c0) over the window (inf when it is empty)."""
    t0, t1 = window
    if not t0 <= t1:
        return math.inf
    t = t0 if a <= 0.0 else min(max(-b / a, t0), t1)
    return math.sqrt(max(a * t * t + 2.0 * b * t + c0, 0.0))


def _vertical_window(dz: float, dvz: float, v_m: float, zero_dvz: float) -> tuple[float, float]:
    """Times when |dz + dvz t| < v_m; the whole line when |dvz| <= zero_dvz and |dz| < v_m."""
    if abs(dvz) <= zero_dvz:
        return (-math.inf, math.inf) if abs(dz) < v_m else (math.inf, -math.inf)
    t1 = (-v_m - dz) / dvz
    t2 = (v_m - dz) / dvz
    return min(t1, t2), max(t1, t2)


def _ours_closest(states: States, agreement: Agreement, i: int, j: int) -> tuple[float, float]:
    """(closest distance in our model within the vertical window and the lookahead, now).

    Uses the engine's own pair geometry (``_kernels.pair_relative``) on the engine's inputs.
    """
    idx = np.array([i, j])
    lat, lon = states.lat_deg[idx], states.lon_deg[idx]
    pos, up = _geometry.surface_ecef(lat, lon)
    vel = _geometry.ground_velocity_ecef(lat, lon, states.gs_mps[idx], states.track_deg[idx])
    a, b, c0, dz, dvz = _kernels.pair_relative(
        pos, vel, up, states.alt_m[idx].copy(), states.vs_mps[idx].copy(), 0, 1
    )
    v_m = agreement.vertical_m - _kernels.AT_MINIMUM_TOLERANCE_M
    window = _window(*_vertical_window(dz, dvz, v_m, 0.0), agreement.lookahead_s)
    return _closest(a, b, c0, window), math.sqrt(c0)


def _peer_closest(states: States, agreement: Agreement, i: int, j: int) -> float:
    """Closest distance in BlueSky's model (``cstatebased``) within its vertical window.

    A replica of BlueSky's formulas: equirectangular distance and bearing on a 6,371 km sphere
    with the cosine of the mean latitude (longitudes not wrapped), velocities from ground speed
    and track in that one flat frame, vertical rates below 1e-6 m/s treated as zero.
    """
    lat1, lon1, lat2, lon2 = np.radians(
        [states.lat_deg[i], states.lon_deg[i], states.lat_deg[j], states.lon_deg[j]]
    )
    cos_mean = math.cos(0.5 * (lat1 + lat2))
    dx = PEER_EARTH_RADIUS_M * (lon2 - lon1) * cos_mean  # east, from i to j
    dy = PEER_EARTH_RADIUS_M * (lat2 - lat1)  # north
    trk_i, trk_j = np.radians([states.track_deg[i], states.track_deg[j]])
    ux = states.gs_mps[j] * math.sin(trk_j) - states.gs_mps[i] * math.sin(trk_i)
    uy = states.gs_mps[j] * math.cos(trk_j) - states.gs_mps[i] * math.cos(trk_i)
    dz = float(states.alt_m[j] - states.alt_m[i])
    dvz = float(states.vs_mps[j] - states.vs_mps[i])
    lo, hi = _vertical_window(dz, dvz, agreement.vertical_m, PEER_MIN_DVS_MPS)
    if abs(dvz) <= PEER_MIN_DVS_MPS and lo < hi:
        lo, hi = 0.0, 1e4  # BlueSky's window for a level pair in vertical LoS
    window = _window(lo, hi, agreement.lookahead_s)
    return _closest(ux * ux + uy * uy, dx * ux + dy * uy, dx * dx + dy * dy, window)


def compare_with_peer(
    states: States, agreement: Agreement, ours: Conflicts, peer_pairs: I64
) -> PeerComparison:
    """Count and classify the differences between our pair set and BlueSky's."""
    n = len(states)
    our_keys = _keys(ours.index_a, ours.index_b, n)
    peer_keys = _keys(peer_pairs[:, 0], peer_pairs[:, 1], n)
    only_ours = np.setdiff1d(our_keys, peer_keys, assume_unique=True)
    only_peer = np.setdiff1d(peer_keys, our_keys, assume_unique=True)

    def scaled(minima: float, lookahead: float) -> I64:
        return _conflict_keys(
            states,
            replace(
                agreement,
                horizontal_m=agreement.horizontal_m * minima,
                vertical_m=agreement.vertical_m * minima,
                lookahead_s=agreement.lookahead_s * lookahead,
            ),
        )

    mismatched = np.concatenate([only_ours, only_peer])
    i_all, j_all = np.divmod(mismatched, n)
    dz = np.abs(states.alt_m[i_all] - states.alt_m[j_all])
    level = states.vs_mps[i_all] == states.vs_mps[j_all]
    at_minimum = level & (np.abs(dz - agreement.vertical_m) <= _kernels.AT_MINIMUM_TOLERANCE_M)

    rest_ours, rest_peer = only_ours, only_peer
    counts: list[int] = []
    for change in ((1.0 + BOUNDARY, 1.0), (1.0, 1.0 + BOUNDARY)):
        if rest_ours.size or rest_peer.size:
            # A pair only BlueSky finds is ours with slightly larger limits; a pair only we
            # find is gone with slightly smaller ones.
            grown = scaled(*change)
            shrunk = scaled(*(2.0 - c for c in change))
            before = rest_ours.size + rest_peer.size
            rest_peer = np.setdiff1d(rest_peer, grown, assume_unique=True)
            rest_ours = np.intersect1d(rest_ours, shrunk, assume_unique=True)
            counts.append(before - rest_ours.size - rest_peer.size)
        else:
            counts.append(0)

    flat = 0
    max_m = max_rel = max_margin = 0.0
    unexplained: list[str] = []
    h_m = agreement.horizontal_m
    for keys, ours_found in ((rest_ours, True), (rest_peer, False)):
        for key in keys.tolist():
            i, j = divmod(int(key), n)
            h_ours, now = _ours_closest(states, agreement, i, j)
            h_peer = _peer_closest(states, agreement, i, j)
            # Ours counts h < H - 1e-6 m (AT_MINIMUM_TOLERANCE_M); BlueSky h < H.
            tol = 2.0 * _kernels.AT_MINIMUM_TOLERANCE_M
            found, missed = (h_ours, h_peer + tol) if ours_found else (h_peer, h_ours + tol)
            straddles = found < h_m <= missed
            if straddles:
                flat += 1
                max_m = max(max_m, abs(h_peer - h_ours))
                max_rel = max(max_rel, abs(h_peer - h_ours) / now)
                max_margin = max(max_margin, abs(h_ours - h_m) / h_m)
            else:
                unexplained.append(
                    f"{states.aircraft[i]}-{states.aircraft[j]} (only "
                    f"{'ours' if ours_found else 'BlueSky'}): closest {h_ours:.0f} m in our "
                    f"model, {h_peer:.0f} m in BlueSky's, now {now:.0f} m apart"
                )
    return PeerComparison(
        both=int(np.intersect1d(our_keys, peer_keys, assume_unique=True).size),
        only_ours=int(only_ours.size),
        only_peer=int(only_peer.size),
        boundary_minima=counts[0],
        boundary_lookahead=counts[1],
        flat_earth=flat,
        flat_earth_max_m=max_m,
        flat_earth_max_rel=max_rel,
        flat_earth_max_margin=max_margin,
        unexplained=unexplained,
        at_vertical_minimum=int(np.count_nonzero(at_minimum)),
    )


def _same_result(x: Conflicts, y: Conflicts) -> bool:
    """Whether two results hold the same pairs with the same values, bit for bit."""
    names = (
        "index_a",
        "index_b",
        "level_code",
        "t_in_s",
        "t_out_s",
        "t_cpa_s",
        "h_cpa_m",
        "v_cpa_m",
        "h_now_m",
        "v_now_m",
        "horizontal_m",
        "vertical_m",
    )
    return all(np.array_equal(getattr(x, k), getattr(y, k), equal_nan=True) for k in names)


def run_case(spec: dict[str, Any]) -> Case:
    """Measure one (workload, N): the body of a child process."""
    workload = workloads.WORKLOADS[spec["workload"]]
    n, seed, repeats = int(spec["n"]), int(spec["seed"]), int(spec["repeats"])
    agreement = preset(PRESET)
    case = Case(workload=workload.key, n=n, seed=seed, threads_all=os.cpu_count() or 1)

    # Warm up: load (or compile) every kernel, on both paths and both thread settings.
    small = workload.make(min(n, 1_000), seed + 1)
    for threads in (None, 1):
        detect(small, agreement, threads=threads)
    if spec["brute"]:
        detect(small, agreement, method="brute-force")
    case.rss_base_kib = _rss_kib()

    states = workload.make(n, seed)
    case.secs_all, found = _timed(lambda: detect(states, agreement), repeats)
    case.candidates, case.conflicts = found.candidates, len(found)
    pairs_all = found.pairs
    del found
    case.secs_one, found_one = _timed(lambda: detect(states, agreement, threads=1), repeats)
    case.rss_peak_kib = _rss_kib()
    case.threads_agree = bool(np.array_equal(pairs_all, found_one.pairs))
    del pairs_all

    if spec["brute"]:
        case.brute_secs, brute = _timed(
            lambda: detect(states, agreement, method="brute-force"), max(1, min(repeats, 3))
        )
        case.exact = _same_result(found_one, brute)
        del brute

    if spec["peer"]:
        import bluesky_peer

        def run_peer() -> bluesky_peer.PeerResult:
            return bluesky_peer.bluesky_detect(
                states.lat_deg,
                states.lon_deg,
                states.alt_m,
                states.gs_mps,
                states.track_deg,
                states.vs_mps,
                horizontal_m=agreement.horizontal_m,
                vertical_m=agreement.vertical_m,
                lookahead_s=agreement.lookahead_s,
            )

        runs = [run_peer() for _ in range(max(1, min(repeats, 3)))]
        case.peer_secs = [r.seconds for r in runs]
        case.peer = compare_with_peer(states, agreement, found_one, runs[-1].pairs)

    if workload.key == "B-am":
        other = detect(workloads.WORKLOADS["B"].make(n, seed), agreement)
        here = _keys(found_one.index_a, found_one.index_b, n)
        there = _keys(other.index_a, other.index_b, n)
        lon_a, lon_b = states.lon_deg[found_one.index_a], states.lon_deg[found_one.index_b]
        case.am_vs_b = (
            int(np.setdiff1d(here, there).size),
            int(np.setdiff1d(there, here).size),
            int(np.count_nonzero(np.abs(lon_a - lon_b) > 180.0)),
        )
    return case


def child_main(spec_json: str) -> int:
    try:
        case = run_case(json.loads(spec_json))
    except Exception as exc:
        spec = json.loads(spec_json)
        case = Case(
            workload=spec["workload"],
            n=int(spec["n"]),
            seed=int(spec["seed"]),
            threads_all=os.cpu_count() or 1,
            error=f"{type(exc).__name__}: {exc}",
        )
    sys.stdout.write(RESULT_TAG + json.dumps(asdict(case)) + "\n")
    sys.stdout.flush()
    return 0


# --------------------------------------------------------------------------------------------
# Parent: plan, run children, report
# --------------------------------------------------------------------------------------------


def run_child(spec: dict[str, Any]) -> Case:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)]
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_TAG):
            return Case.from_json(json.loads(line[len(RESULT_TAG) :]))
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return Case(
        workload=spec["workload"],
        n=int(spec["n"]),
        seed=int(spec["seed"]),
        threads_all=os.cpu_count() or 1,
        error=f"child exited with code {proc.returncode}: {tail}",
    )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _mem_total_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return math.nan


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _git_commit() -> str:
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}{' (working tree modified)' if dirty else ''}"


@dataclass(frozen=True)
class CpuSample:
    """Busy CPU time of the whole machine and of this process tree, at one moment."""

    wall: float
    machine_busy_s: float
    ours_s: float

    @classmethod
    def now(cls) -> CpuSample:
        busy = math.nan
        try:
            fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
            ticks = [int(x) for x in fields]
            # user nice system idle iowait irq softirq steal ...: busy is all but idle, iowait
            busy = (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            pass
        ours = 0.0
        for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
            usage = resource.getrusage(who)
            ours += usage.ru_utime + usage.ru_stime
        return cls(time.perf_counter(), busy, ours)


def other_load(start: CpuSample, end: CpuSample) -> float:
    """Average number of cores kept busy by other processes between two samples."""
    wall = end.wall - start.wall
    others = (end.machine_busy_s - start.machine_busy_s) - (end.ours_s - start.ours_s)
    return max(others, 0.0) / wall if wall > 0 else math.nan


def machine(others_cores: float) -> list[tuple[str, str]]:
    import numba

    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    rows = [
        ("CPU", _cpu_model()),
        (
            "Cores",
            f"{os.cpu_count()} logical"
            + (f", {affinity} usable by this process" if affinity is not None else ""),
        ),
        ("Memory", f"{_mem_total_gib():.1f} GiB"),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("Python", platform.python_version()),
        ("numpy", np.__version__),
        ("numba", numba.__version__),
        ("BlueSky (bluesky-simulator)", _version("bluesky-simulator")),
        ("SkySep", f"{_version('skysep')}, commit {_git_commit()}"),
        (
            "Other processes during the run",
            f"{others_cores:.2f} cores busy on average"
            + (" (timings disturbed: rerun on a quiet machine)" if others_cores > 0.2 else ""),
        ),
    ]
    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if name in os.environ:
            rows.append((name, os.environ[name]))
    return rows


def _fmt_s(seconds: float) -> str:
    if math.isnan(seconds):
        return "-"
    if seconds < 1.0:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def _best_median(times: Sequence[float] | None) -> str:
    if not times:
        return "-"
    return f"{_fmt_s(min(times))} ({_fmt_s(float(np.median(times)))})"


def _mib(kib: int) -> str:
    return f"{kib / 1024:,.0f}"


def _ratio(num: float, den: float) -> str:
    if math.isnan(num) or math.isnan(den) or den <= 0.0:
        return "-"
    return f"{num / den:,.0f}x"


def _yes(flag: bool | None) -> str:
    return "-" if flag is None else ("yes" if flag else "NO")


Rows = tuple[list[str], list[list[str]]]


def main_table(cases: Sequence[Case]) -> Rows:
    head = [
        "Workload",
        "N",
        "all cores: best (median)",
        "1 thread: best (median)",
        "candidate pairs",
        "conflicts",
        "peak RSS MiB",
        "BlueSky",
        "vs BlueSky (all / 1 thread)",
    ]
    rows = []
    for c in cases:
        if c.error:
            rows.append([c.workload, f"{c.n:,}", f"FAILED: {c.error}", *[""] * 6])
            continue
        ratio = (
            f"{_ratio(c.best_peer, c.best_all)} / {_ratio(c.best_peer, c.best_one)}"
            if c.peer_secs
            else "-"
        )
        rows.append(
            [
                c.workload,
                f"{c.n:,}",
                _best_median(c.secs_all),
                _best_median(c.secs_one),
                f"{c.candidates:,}",
                f"{c.conflicts:,}",
                _mib(c.rss_peak_kib),
                _best_median(c.peer_secs),
                ratio,
            ]
        )
    return head, rows


def exactness_table(cases: Sequence[Case]) -> Rows:
    head = [
        "Workload",
        "N",
        "brute-force: best (median)",
        "grid gain (1 thread)",
        "grid == brute-force",
        "threads=None == threads=1",
    ]
    rows = [
        [
            c.workload,
            f"{c.n:,}",
            _best_median(c.brute_secs),
            _ratio(min(c.brute_secs), c.best_one) if c.brute_secs else "-",
            _yes(c.exact),
            _yes(c.threads_agree),
        ]
        for c in cases
        if not c.error and (c.brute_secs or not c.threads_agree)
    ]
    return head, rows


def peer_table(cases: Sequence[Case]) -> Rows:
    head = [
        "Workload",
        "N",
        "pairs in both",
        "only ours",
        "only BlueSky",
        "boundary: minima +-1%",
        "not boundary",
        "of which: lookahead +-1%",
        "of which: flat-earth model",
        "of which: unexplained",
    ]
    rows = []
    for c in cases:
        p = c.peer
        if p is None:
            continue
        flat = f"{p.flat_earth:,}"
        if p.flat_earth:
            flat += (
                f" (models differ by <= {p.flat_earth_max_m:.0f} m"
                f" = {100 * p.flat_earth_max_rel:.2f}% of range;"
                f" <= {100 * p.flat_earth_max_margin:.1f}% of H from H)"
            )
        rows.append(
            [
                c.workload,
                f"{c.n:,}",
                f"{p.both:,}",
                f"{p.only_ours:,}",
                f"{p.only_peer:,}",
                f"{p.boundary_minima:,}"
                + (
                    f" ({p.at_vertical_minimum:,} level pairs exactly V apart)"
                    if p.at_vertical_minimum
                    else ""
                ),
                f"{p.not_boundary:,}",
                f"{p.boundary_lookahead:,}",
                flat,
                f"{len(p.unexplained):,}",
            ]
        )
    return head, rows


def memory_table(cases: Sequence[Case]) -> Rows:
    head = [
        "Workload",
        "N",
        "RSS after warm-up MiB",
        "peak RSS MiB",
        "growth MiB",
        "growth per aircraft",
    ]
    rows = []
    for c in cases:
        if c.error or not c.workload.startswith("B"):
            continue
        growth = max(c.rss_peak_kib - c.rss_base_kib, 0)
        rows.append(
            [
                c.workload,
                f"{c.n:,}",
                _mib(c.rss_base_kib),
                _mib(c.rss_peak_kib),
                _mib(growth),
                f"{growth * 1024 / c.n:,.0f} B",
            ]
        )
    return head, rows


def _find(cases: Sequence[Case], workload: str, n: int) -> Case | None:
    for c in cases:
        if c.workload == workload and c.n == n and not c.error:
            return c
    return None


def targets_table(cases: Sequence[Case]) -> Rows:
    head = ["Target", "Measured", "Met"]
    rows: list[list[str]] = []
    a10 = _find(cases, "A", 10_000)
    if a10 is not None:
        for label, best in (("all cores", a10.best_all), ("1 thread", a10.best_one)):
            rows.append(
                [
                    f"A, N = 10,000, {label}: <= {TARGET_A_10K_S * 1e3:.0f} ms",
                    _fmt_s(best),
                    _yes(best <= TARGET_A_10K_S),
                ]
            )
        if a10.peer_secs:
            for label, best in (("all cores", a10.best_all), ("1 thread", a10.best_one)):
                rows.append(
                    [
                        f"A, N = 10,000, {label}: >= {TARGET_SPEEDUP:.0f}x BlueSky (same run)",
                        _ratio(a10.best_peer, best),
                        _yes(a10.best_peer / best >= TARGET_SPEEDUP),
                    ]
                )
    with_peer = [c for c in cases if c.peer is not None and c.workload == "A"]
    if with_peer:
        not_boundary = sum(c.peer.not_boundary for c in with_peer if c.peer)
        unexplained = sum(len(c.peer.unexplained) for c in with_peer if c.peer)
        rows.append(
            [
                "A: pair set = BlueSky's apart from boundary cases (minima or lookahead "
                "+-1%, or moved by its flat-earth model)",
                f"{not_boundary:,} mismatches outside minima +-1%, of which "
                f"{unexplained:,} not explained by the lookahead or the flat-earth model",
                _yes(unexplained == 0),
            ]
        )
    a100 = _find(cases, "A", 100_000)
    if a100 is not None:
        rows.append(
            [
                "A, N = 100,000 runs without exhausting memory",
                f"{_fmt_s(a100.best_all)}, peak RSS {_mib(a100.rss_peak_kib)} MiB",
                "yes",
            ]
        )
    b100 = _find(cases, "B", 100_000)
    if b100 is not None:
        for label, best, times in (
            ("all cores", b100.best_all, b100.secs_all),
            ("1 thread", b100.best_one, b100.secs_one),
        ):
            rows.append(
                [
                    f"B, N = 100,000, {label}: <= {TARGET_B_100K_S} s per snapshot",
                    f"{_fmt_s(best)} (median {_fmt_s(float(np.median(times)))})",
                    _yes(best <= TARGET_B_100K_S),
                ]
            )
    bs = sorted((c for c in cases if c.workload == "B" and not c.error), key=lambda c: c.n)
    if len(bs) >= 2:
        per = [(c.rss_peak_kib - c.rss_base_kib) * 1024 / c.n for c in bs]
        rows.append(
            [
                "B: peak memory linear in N",
                "growth per aircraft " + ", ".join(f"{p:,.0f} B" for p in per),
                _yes(max(per) <= 2.0 * max(min(per), 1.0)),
            ]
        )
    exact = [c for c in cases if c.exact is not None]
    if exact:
        rows.append(
            [
                "grid == brute-force (pairs and every value)",
                ", ".join(f"{c.workload} {c.n:,}" for c in exact),
                _yes(all(c.exact for c in exact)),
            ]
        )
    am = [c for c in cases if c.am_vs_b is not None]
    if am:
        rows.append(
            [
                "B-am (antimeridian) = B (same picture, turned about the axis)",
                ", ".join(
                    f"N {c.n:,}: {c.am_vs_b[0]} + {c.am_vs_b[1]} pairs differ"
                    f" ({c.am_vs_b[2]:,} conflicts cross the antimeridian)"
                    for c in am
                    if c.am_vs_b
                ),
                _yes(all(c.am_vs_b[:2] == (0, 0) for c in am if c.am_vs_b)),
            ]
        )
    return head, rows


TABLES: Final[tuple[tuple[str, Callable[[Sequence[Case]], Rows], str], ...]] = (
    (
        "Conflict engine timings",
        main_table,
        "Full `skysep.engine.detect(states, agreement)` calls (result building included, "
        "States built outside the timing), best of the repeats with the median in brackets. "
        "*all cores* is `threads=None`; the engine uses one thread below 4,000 aircraft "
        "whatever it is asked. BlueSky is `cstatebased.detect` (single-threaded, all pairs) on "
        "the same snapshot in the same process. Peak RSS is the child process's `ru_maxrss` "
        "after the timed calls (imports and warm-up included).",
    ),
    ("Targets", targets_table, ""),
    (
        "Exactness and the brute-force method",
        exactness_table,
        "The brute-force method tests every pair with the same exact test; *grid gain* is its "
        "best time over the grid's best single-thread time. *grid == brute-force* compares "
        "every pair and every value bit for bit.",
    ),
    (
        "Pair sets against BlueSky",
        peer_table,
        "A mismatch is a boundary case when its status in our engine flips with the minima "
        "(H and V) scaled by 0.99 / 1.01 (brute-force method). The others are then tried "
        "with the lookahead scaled by 0.99 / 1.01, then against BlueSky's flat-earth model: "
        "a *flat-earth model* case is one where the closest horizontal distance inside the "
        "common vertical window and the lookahead is below H in one model and not in the other "
        "(BlueSky: equirectangular on a 6,371 km sphere, one flat frame, no convergence of "
        "meridians; ours: WGS84). *Unexplained* mismatches are listed below the tables. "
        "*Level pairs exactly V apart*: both level, altitudes exactly 1,000 ft apart; feet "
        "converted to metres differ from V by a rounding error either way, which BlueSky's "
        "strict `<` turns into a loss of separation half of the time; ours ignores "
        "differences under a micrometre.",
    ),
    (
        "Memory of workload B",
        memory_table,
        "Growth is peak RSS minus RSS after imports and warm-up.",
    ),
)


def _print_tables(console: Console, cases: Sequence[Case]) -> None:
    for title, build, _note in TABLES:
        head, rows = build(cases)
        if not rows:
            continue
        table = Table(title=title, title_justify="left")
        for k, name in enumerate(head):
            table.add_column(name, justify="left" if k == 0 else "right", overflow="fold")
        for row in rows:
            table.add_row(*row)
        console.print(table)
    for c in cases:
        if c.peer and c.peer.unexplained:
            console.print(f"[bold]Unexplained mismatches, {c.workload} N = {c.n:,}:[/bold]")
            for line in c.peer.unexplained[:20]:
                console.print(f"  {line}")


def _md_table(head: list[str], rows: list[list[str]]) -> str:
    def esc(cell: str) -> str:
        return cell.replace("|", "\\|")

    align = ["---"] + ["---:"] * (len(head) - 1)
    lines = [
        "| " + " | ".join(esc(h) for h in head) + " |",
        "| " + " | ".join(align) + " |",
    ]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown(
    cases: Sequence[Case], machine_rows: list[tuple[str, str]], command: str, when: str
) -> str:
    parts = [
        "# Conflict engine benchmark",
        "",
        "Generated by `bench/bench_detect.py` (see `bench/README.md` for the workloads). "
        f"Agreement: preset `{PRESET}` (5 NM / 1,000 ft, lookahead 300 s).",
        "",
        f"- Date: {when}",
        f"- Reproduce: `{command}`",
        "",
    ]
    for title, build, note in TABLES:
        head, rows = build(cases)
        if not rows:
            continue
        parts += [f"## {title}", ""]
        if note:
            parts += [note, ""]
        parts += [_md_table(head, rows), ""]
    unexplained = [c for c in cases if c.peer and c.peer.unexplained]
    if unexplained:
        parts += ["## Unexplained mismatches", ""]
        for c in unexplained:
            assert c.peer is not None
            parts += [f"- {c.workload}, N = {c.n:,}: {line}" for line in c.peer.unexplained]
        parts.append("")
    parts += ["## Machine", "", _md_table(["", ""], [list(r) for r in machine_rows]), ""]
    return "\n".join(parts)


def _command() -> str:
    exe = Path(sys.executable)
    try:
        exe_text = str(exe.relative_to(Path.cwd()))
    except ValueError:
        exe_text = str(exe)
    return shlex.join([exe_text, *sys.argv])


def plan(args: argparse.Namespace) -> list[dict[str, Any]]:
    specs = []
    for key in args.workload:
        for n in args.n or DEFAULT_SIZES[key]:
            repeats = args.repeats or (5 if n <= 10_000 else 3)
            specs.append(
                {
                    "workload": key,
                    "n": n,
                    "seed": args.seed,
                    "repeats": repeats,
                    "brute": n <= args.brute_max,
                    "peer": key in args.peer_workload and not args.no_peer and n <= args.peer_max,
                }
            )
    return specs


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark skysep.engine.detect, next to BlueSky when it is installed."
    )
    parser.add_argument(
        "--workload",
        nargs="+",
        choices=sorted(workloads.WORKLOADS),
        default=list(DEFAULT_SIZES),
        help="workloads to run (default: all): "
        + "; ".join(f"{w.key}: {w.title}" for w in workloads.WORKLOADS.values()),
    )
    parser.add_argument(
        "--n",
        nargs="+",
        type=int,
        help="aircraft counts, for every chosen workload (default: "
        + "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in DEFAULT_SIZES.items())
        + ")",
    )
    parser.add_argument("--no-peer", action="store_true", help="do not run BlueSky")
    parser.add_argument(
        "--peer-workload",
        nargs="+",
        choices=sorted(workloads.WORKLOADS),
        default=["A"],
        help="workloads BlueSky runs on (default: A, the peer's own benchmark)",
    )
    parser.add_argument(
        "--peer-max",
        type=int,
        default=PEER_MAX_N,
        help=f"largest N BlueSky runs at (default {PEER_MAX_N:,}; it is all-pairs)",
    )
    parser.add_argument(
        "--brute-max",
        type=int,
        default=BRUTE_MAX_N,
        help=f"largest N the brute-force method runs at (default {BRUTE_MAX_N:,})",
    )
    parser.add_argument(
        "--repeats", type=int, help="timed repeats (default 5 for N <= 10,000, else 3)"
    )
    parser.add_argument("--seed", type=int, default=SEED, help=f"random seed (default {SEED})")
    parser.add_argument("--write", type=Path, metavar="PATH", help="write a Markdown report")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child is not None:
        return child_main(args.child)

    import bluesky_peer

    if not args.no_peer and not bluesky_peer.available():
        print("BlueSky (bluesky-simulator) is not installed: running without the peer.")
        args.no_peer = True
    console = Console()
    if not console.is_terminal:
        console = Console(width=200)
    cpu_start = CpuSample.now()
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    cases: list[Case] = []
    for spec in plan(args):
        console.print(
            f"[dim]{spec['workload']} N={spec['n']:,}: {spec['repeats']} repeats"
            f"{', brute force' if spec['brute'] else ''}{', BlueSky' if spec['peer'] else ''}"
            "...[/dim]"
        )
        start = time.perf_counter()
        case = run_child(spec)
        console.print(
            f"[dim]  {'FAILED: ' + case.error if case.error else 'done'}"
            f" in {time.perf_counter() - start:.1f} s[/dim]"
        )
        cases.append(case)
    machine_rows = machine(other_load(cpu_start, CpuSample.now()))
    _print_tables(console, cases)
    table = Table(title="Machine", title_justify="left", show_header=False)
    for name, value in machine_rows:
        table.add_row(name, value)
    console.print(table)
    command = _command()
    console.print(f"Date: {when}\nReproduce: {command}")
    if args.write is not None:
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text(markdown(cases, machine_rows, command, when), encoding="utf-8")
        console.print(f"Wrote {args.write}")
    return 1 if any(c.error for c in cases) else 0


if __name__ == "__main__":
    sys.exit(main())
