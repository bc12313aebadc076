"""Conflict detection over a snapshot: arrays in, :class:`Conflicts` out."""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from skysep.agreement import Agreement
from skysep.engine import _kernels
from skysep.engine._geometry import F64, frame_facing, surface_state_ecef
from skysep.engine._types import I64, METHODS, STATE_RANGES, Conflicts, Method, Obj, States
from skysep.errors import EngineError

#: The fixed work of one slice per aircraft, in box tests (boxing, sorting,
#: scanning five ranges), for the choice of slices (tuned with bench/bench_detect.py).
_SLICE_COST_IN_BOX_TESTS = 12.0
_MAX_SLICES = 64
#: Below this many aircraft per thread, threads cost more than they save.
_MIN_AIRCRAFT_PER_THREAD = 2_000


def validate_states(states: States) -> None:
    """Raise :class:`EngineError` naming the first bad element of each field."""
    n = len(states.aircraft)
    for name, low, high in STATE_RANGES:
        values = getattr(states, name)
        if not isinstance(values, np.ndarray) or values.ndim != 1 or values.shape[0] != n:
            raise EngineError(
                f"{name} must be a 1-D float array of length {n} (one per aircraft), "
                f"got {getattr(values, 'shape', type(values).__name__)}"
            )
        bad = ~((values >= low) & (values <= high))  # catches NaN too
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise EngineError(
                f"aircraft #{row} ({states.aircraft[row]!r}): {name} = {values[row]!r} is "
                f"{'missing' if np.isnan(values[row]) else 'out of range'}; "
                f"valid range [{low}, {high}] ({int(bad.sum())} bad value(s) in {name})"
            )
    if states.party is not None and len(states.party) != n:
        raise EngineError(
            f"party must have one element per aircraft ({n}), got {len(states.party)}"
        )


@dataclass(frozen=True)
class _Prepared:
    order: I64  # sorted position -> original index
    pos: F64
    vel: F64
    up: F64
    alt: F64
    vs: F64
    code: I64
    hmat: F64
    vmat: F64


def _prepare(states: States, agreement: Agreement) -> _Prepared:
    validate_states(states)
    ids = np.asarray(states.aircraft).astype(str)
    order = np.argsort(ids, kind="stable").astype(np.int64)
    sorted_ids = ids[order]
    if sorted_ids.shape[0] > 1:
        dup = np.flatnonzero(sorted_ids[1:] == sorted_ids[:-1])
        if dup.shape[0]:
            rows = sorted(int(r) for r in order[np.flatnonzero(sorted_ids == sorted_ids[dup[0]])])
            raise EngineError(
                f"aircraft {sorted_ids[dup[0]]!r} appears more than once (aircraft "
                f"#{', #'.join(map(str, rows))}); a snapshot has one state per aircraft"
            )
    code, hmat, vmat = minima_tables(states.party, agreement, order)
    lat = states.lat_deg[order]
    lon = states.lon_deg[order]
    pos, up, vel = surface_state_ecef(lat, lon, states.gs_mps[order], states.track_deg[order])
    return _Prepared(
        order=order,
        pos=pos,
        vel=vel,
        up=up,
        alt=np.ascontiguousarray(states.alt_m[order], dtype=np.float64),
        vs=np.ascontiguousarray(states.vs_mps[order], dtype=np.float64),
        code=code,
        hmat=hmat,
        vmat=vmat,
    )


def _party_name(value: object) -> str | None:
    """A party id, or None for the markers of "no party" (None, NaN, pd.NA, "")."""
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return str(value)
    return None


def _distinct(values: Obj) -> tuple[list[object], I64]:
    """The distinct values (in order of first appearance) and each value's index among them."""
    index: dict[object, int] = {}
    distinct: list[object] = []
    inverse: list[int] = []
    for value in values:
        try:
            at = index.get(value)
            if at is None:
                at = index[value] = len(distinct)
                distinct.append(value)
        except TypeError:  # unhashable: an entry of its own (never a party name)
            at = len(distinct)
            distinct.append(value)
        inverse.append(at)
    return distinct, np.array(inverse, dtype=np.int64)


def minima_tables(party: Obj | None, agreement: Agreement, order: I64) -> tuple[I64, F64, F64]:
    """Party code per aircraft (sorted order) and the (H, V) table by code pair.

    The last code stands for "no party": never the same party as another.
    Pairs within one party that are not to be checked get H = 0 (never a LoS).
    """
    n = order.shape[0]
    if party is None:
        names: list[str] = []
        code = np.zeros(n, dtype=np.int64)
    else:
        raw = np.asarray(party, dtype=object)[order]
        # Name each distinct value once (a few parties among many aircraft).
        distinct, inverse = _distinct(raw)
        named = [_party_name(p) for p in distinct]
        names = sorted({name for name in named if name is not None})
        lookup = {name: k for k, name in enumerate(names)}
        none_code = len(names)
        codes = np.array(
            [none_code if name is None else lookup[name] for name in named], dtype=np.int64
        )
        code = codes[inverse]
    size = len(names) + 1
    hmat = np.empty((size, size))
    vmat = np.empty((size, size))
    labels: list[str | None] = [*names, None]
    for p in range(size):
        for q in range(size):
            h_m, v_m = agreement.minima_for(labels[p], labels[q])
            if p == q and labels[p] is not None and not agreement.check_same_party:
                h_m = 0.0
            hmat[p, q] = h_m
            vmat[p, q] = v_m
    return code, hmat, vmat


def _slices(
    posr: F64,
    speed_max: float,
    vs_max: float,
    alt: F64,
    lookahead_s: float,
    h_max: float,
    v_max: float,
) -> int:
    """How many time slices minimise the grid's estimated work.

    Per slice and aircraft the grid pays a fixed cost (boxing, sorting) and
    one box test per aircraft in the scanned cells: about 4.5 columns of 3
    altitude cells, each cell as large as the largest box. More slices make
    smaller boxes (fewer tests each) but more passes; dense traffic wants
    more slices than sparse traffic. The estimate uses the traffic's extent
    in the grid plane and in altitude.
    """
    n = alt.shape[0]
    if n < 2 or h_max <= 0:
        return 1
    extent_x = float(np.ptp(posr[:, 0]))
    extent_y = float(np.ptp(posr[:, 1]))
    extent_a = float(np.ptp(alt))
    best, best_cost = 1, math.inf
    for k in range(1, _MAX_SLICES + 1):
        cell_h = h_max + speed_max * lookahead_s / k
        cell_a = v_max + vs_max * lookahead_s / k
        area = max(extent_x, cell_h) * max(extent_y, cell_h)
        per_column = n * cell_h * cell_h / area
        alt_share = min(1.0, 3.0 * cell_a / max(extent_a, cell_a))
        tests = min(n, 4.5 * per_column * alt_share)
        cost = k * (_SLICE_COST_IN_BOX_TESTS + tests)
        if cost < best_cost:
            best, best_cost = k, cost
    return best


def _grid(
    prep: _Prepared,
    args: tuple[Any, ...],
    lookahead_s: float,
    h_max: float,
    v_max: float,
    threads: int | None,
) -> tuple[I64, int]:
    frame = frame_facing(prep.up)
    posr = np.ascontiguousarray(prep.pos @ frame.T)
    velr = np.ascontiguousarray(prep.vel @ frame.T)
    n = prep.alt.shape[0]
    speed_max = float(np.max(np.linalg.norm(prep.vel, axis=1))) if n else 0.0
    vs_max = float(np.max(np.abs(prep.vs))) if n else 0.0
    n_slices = _slices(posr, speed_max, vs_max, prep.alt, lookahead_s, h_max, v_max)
    n_threads = max(1, threads if threads is not None else (os.cpu_count() or 1))
    if n < _MIN_AIRCRAFT_PER_THREAD * 2:
        n_threads = 1
    # Threads take whole slices (each builds its own grid); with fewer slices
    # than threads, each slice's aircraft are split into parts instead.
    if n_threads > 1 and n_slices >= n_threads:
        n_slices = -(-n_slices // n_threads) * n_threads
        n_parts = 1
    else:
        n_parts = n_threads

    def run(task: tuple[int, int]) -> tuple[I64, int]:
        k, part = task
        kernel: Any = _kernels.grid_slice_pairs  # numba's stubs do not know its signature
        found: tuple[I64, int] = kernel(
            posr, velr, *args, n_slices, h_max, v_max, speed_max, k, part, n_parts
        )
        return found

    tasks = [(k, part) for k in range(n_slices) for part in range(n_parts)]
    if n_threads == 1:
        results = [run(task) for task in tasks]
    else:
        with ThreadPoolExecutor(max_workers=n_threads) as pool:
            results = list(pool.map(run, tasks))
    pairs = np.concatenate([r[0] for r in results]) if results else np.empty((0, 2), np.int64)
    return pairs, sum(r[1] for r in results)


def detect(
    states: States,
    agreement: Agreement,
    *,
    method: Method = "grid",
    threads: int | None = None,
) -> Conflicts:
    """Every pair of aircraft that loses separation within the lookahead.

    Parameters
    ----------
    states
        The snapshot (SI units).
    agreement
        Minima (with per-party-pair overrides), lookahead and alert thresholds.
    method
        ``"grid"`` (default): sub-quadratic candidate search, then the exact
        test. ``"brute-force"``: the exact test on every pair. Both give the
        same pairs and values.
    threads
        Threads for the grid search (default: one per CPU core).

    Returns
    -------
    Conflicts
        One element per conflicting pair, sorted by aircraft id.
    """
    if method not in METHODS:
        raise EngineError(f"{method!r} is not a valid method, must be one of {', '.join(METHODS)}")
    prep = _prepare(states, agreement)
    lookahead_s = float(agreement.lookahead_s)
    h_max = float(prep.hmat.max())
    v_max = float(prep.vmat.max())
    args = (
        prep.pos,
        prep.vel,
        prep.up,
        prep.alt,
        prep.vs,
        prep.code,
        prep.hmat,
        prep.vmat,
        lookahead_s,
    )
    if method == "grid":
        pairs, candidates = _grid(prep, args, lookahead_s, h_max, v_max, threads)
    else:
        pairs = _kernels.brute_force_pairs(*args)
        n = prep.alt.shape[0]
        candidates = n * (n - 1) // 2
    pairs = _kernels.sort_unique_pairs(pairs, prep.alt.shape[0])
    fields = _kernels.pair_fields(*args, pairs)
    return _result(states, prep, pairs, fields, agreement, int(candidates))


def _result(
    states: States,
    prep: _Prepared,
    pairs: I64,
    fields: F64,
    agreement: Agreement,
    candidates: int,
) -> Conflicts:
    index_a = prep.order[pairs[:, 0]]
    index_b = prep.order[pairs[:, 1]]
    party = None if states.party is None else np.asarray(states.party, dtype=object)
    t_in = np.ascontiguousarray(fields[:, 0])
    level: npt.NDArray[np.int8] = np.where(
        t_in <= agreement.warning_s, 0, np.where(t_in <= agreement.caution_s, 1, 2)
    ).astype(np.int8)
    return Conflicts(
        index_a=index_a,
        index_b=index_b,
        states_aircraft=np.asarray(states.aircraft, dtype=object),
        states_party=party,
        level_code=level,
        t_in_s=t_in,
        t_out_s=np.ascontiguousarray(fields[:, 1]),
        t_cpa_s=np.ascontiguousarray(fields[:, 2]),
        h_cpa_m=np.ascontiguousarray(fields[:, 3]),
        v_cpa_m=np.ascontiguousarray(fields[:, 4]),
        h_now_m=np.ascontiguousarray(fields[:, 5]),
        v_now_m=np.ascontiguousarray(fields[:, 6]),
        horizontal_m=np.ascontiguousarray(fields[:, 7]),
        vertical_m=np.ascontiguousarray(fields[:, 8]),
        candidates=candidates,
    )
