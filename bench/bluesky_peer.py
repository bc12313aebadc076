"""Run BlueSky's compiled state-based conflict detection standalone, as a benchmark peer.

BlueSky (PyPI package ``bluesky-simulator``) ships a C++ extension,
``bluesky.traffic.asas.cstatebased``, whose ``detect(ownship, intruder, rpz, hpz, dtlookahead)``
is the all-pairs state-based conflict detector BlueSky uses in simulation. This module calls that
function on a single snapshot of aircraft given as numpy arrays, without starting a simulation,
so the benchmark can time it next to SkySep's engine and compare the conflicting pair sets.

What ``detect`` expects (read from ``cstatebased.cpp`` in bluesky-simulator 1.1.1):

* ``ownship`` and ``intruder``: any objects with float64 array attributes ``lat``, ``lon``
  (degrees), ``alt`` (m), ``gs`` (m/s), ``trk`` (degrees true), ``vs`` (m/s), all of length N
  (the length of ``ownship.lat`` is used for everything). ``ownship.id`` must be a Python
  ``list`` of N objects; they are only packed into the returned pair tuples, so plain ints work.
* ``rpz``, ``hpz``, ``dtlookahead``: per-aircraft float64 arrays of length N (metres, metres,
  seconds). Each pair uses the larger of the two aircraft's values. A scalar is NOT accepted: the
  C++ loop walks a pointer N times, so anything shorter than N is read out of bounds.

It returns ``(confpairs, lospairs, inconf, tcpamax, qdr, dist, dcpa, tcpa, tinconf)`` where
``confpairs`` lists every conflict twice, as ``(id_i, id_j)`` and ``(id_j, id_i)``; ``lospairs``
is the subset of those that are a loss of separation now; the rest are per-aircraft arrays or
per-entry lists aligned with ``confpairs``. Only ``confpairs`` is used here.

Geometry: equirectangular ("kwik") distance and bearing on a sphere of radius 6,371,000 m using
the cosine of the mean latitude (longitude differences are not wrapped at the antimeridian),
then straight-line constant-velocity closest point of approach in that local flat frame. A pair
is a conflict when the horizontal and vertical intrusion intervals overlap (``tin < tout``),
the overlap has not ended (``tout > 0``) and starts within the lookahead (``tin <= lookahead``);
current losses of separation therefore count as conflicts too.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.machinery
import importlib.util
import io
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, SimpleNamespace

import numpy as np
import numpy.typing as npt

__all__ = ["PeerResult", "available", "bluesky_detect"]

_MODULE_NAME = "bluesky.traffic.asas.cstatebased"

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _load_extension_file() -> ModuleType | None:
    """Load the compiled ``cstatebased`` extension straight from its file.

    This skips ``bluesky/__init__.py`` and the ``traffic`` package, which import some 1,400
    modules, load performance models and print to stdout. ``find_spec`` on the top-level
    package only locates it; it does not execute it.
    """
    spec = importlib.util.find_spec("bluesky")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        folder = Path(location) / "traffic" / "asas"
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = folder / f"cstatebased{suffix}"
            if not path.is_file():
                continue
            loader = importlib.machinery.ExtensionFileLoader(_MODULE_NAME, str(path))
            ext_spec = importlib.util.spec_from_file_location(_MODULE_NAME, path, loader=loader)
            if ext_spec is None:
                continue
            module = importlib.util.module_from_spec(ext_spec)
            loader.exec_module(module)
            return module
    return None


@functools.cache
def _cstatebased() -> ModuleType | None:
    """Return BlueSky's compiled ``cstatebased`` module, or ``None`` if it cannot be imported.

    Tries the light direct load first and falls back to a regular package import; BlueSky's
    import-time chatter on stdout is swallowed either way. The result is cached.
    """
    module: ModuleType | None = sys.modules.get(_MODULE_NAME)
    if module is None:
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                module = _load_extension_file()
            except Exception:
                module = None
            if module is None:
                try:
                    module = importlib.import_module(_MODULE_NAME)
                except Exception:
                    module = None
    if module is None or not callable(getattr(module, "detect", None)):
        return None
    return module


def available() -> bool:
    """Return True when bluesky-simulator's compiled ``cstatebased`` module can be imported."""
    return _cstatebased() is not None


@dataclass(frozen=True)
class PeerResult:
    """Outcome of one BlueSky detection run.

    Attributes:
        seconds: Wall time (``time.perf_counter``) of the ``detect`` call alone, excluding
            imports, input conversion and post-processing of the pair list.
        pairs: ``int64`` array of shape ``(n, 2)``: unordered conflicting aircraft index pairs
            with ``i < j``, unique and sorted lexicographically.
    """

    seconds: float
    pairs: IntArray


def _as_float_array(name: str, values: npt.ArrayLike) -> FloatArray:
    """Return ``values`` as a contiguous 1-D float64 array, or raise ValueError."""
    array = np.ascontiguousarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    return array


def _fold_pairs(confpairs: list[tuple[int, int]]) -> IntArray:
    """Fold BlueSky's ordered ``(i, j)``/``(j, i)`` entries into unique sorted ``i < j`` pairs."""
    if not confpairs:
        return np.empty((0, 2), dtype=np.int64)
    ordered = np.asarray(confpairs, dtype=np.int64).reshape(-1, 2)
    folded = np.sort(ordered, axis=1)
    unique: IntArray = np.unique(folded, axis=0)
    return np.ascontiguousarray(unique, dtype=np.int64)


def bluesky_detect(
    lat_deg: npt.ArrayLike,
    lon_deg: npt.ArrayLike,
    alt_m: npt.ArrayLike,
    gs_mps: npt.ArrayLike,
    track_deg: npt.ArrayLike,
    vs_mps: npt.ArrayLike,
    *,
    horizontal_m: float,
    vertical_m: float,
    lookahead_s: float,
) -> PeerResult:
    """Run BlueSky's compiled state-based detection on one snapshot of N aircraft.

    Aircraft ``i`` is position ``i`` in every input array. BlueSky checks all N*(N-1) ordered
    pairs in a single thread (holding the GIL) and reports each conflict in both orders; the
    result folds them into unordered pairs.

    Args:
        lat_deg: Latitudes in degrees.
        lon_deg: Longitudes in degrees.
        alt_m: Altitudes in metres.
        gs_mps: Ground speeds in m/s.
        track_deg: True tracks in degrees (0 = north, 90 = east).
        vs_mps: Vertical rates in m/s (positive up).
        horizontal_m: Horizontal separation minimum (protected-zone radius) in metres.
        vertical_m: Vertical separation minimum (protected-zone half height) in metres.
        lookahead_s: Lookahead time in seconds.

    Returns:
        The wall time of the ``detect`` call and the conflicting index pairs.

    Raises:
        ImportError: bluesky-simulator or its compiled ``cstatebased`` module is missing.
        ValueError: inputs of different lengths, not 1-D, or non-positive/non-finite limits.
        RuntimeError: BlueSky's ``detect`` returned nothing (it could not read the arrays).
    """
    module = _cstatebased()
    if module is None:
        raise ImportError(
            "bluesky-simulator with the compiled bluesky.traffic.asas.cstatebased module "
            "is not available; install it with `pip install bluesky-simulator`"
        )
    for name, limit in (
        ("horizontal_m", horizontal_m),
        ("vertical_m", vertical_m),
        ("lookahead_s", lookahead_s),
    ):
        if not (math.isfinite(limit) and limit > 0.0):
            raise ValueError(f"{name} must be a positive finite number, got {limit!r}")

    arrays = {
        "lat": _as_float_array("lat_deg", lat_deg),
        "lon": _as_float_array("lon_deg", lon_deg),
        "alt": _as_float_array("alt_m", alt_m),
        "gs": _as_float_array("gs_mps", gs_mps),
        "trk": _as_float_array("track_deg", track_deg),
        "vs": _as_float_array("vs_mps", vs_mps),
    }
    n = arrays["lat"].shape[0]
    lengths = {name: array.shape[0] for name, array in arrays.items()}
    if any(length != n for length in lengths.values()):
        raise ValueError(f"input arrays must have equal lengths, got {lengths}")

    # BlueSky only reads ownship.id (to label pairs); ints avoid a string round trip.
    traffic = SimpleNamespace(id=list(range(n)), ntraf=n, **arrays)
    rpz = np.full(n, float(horizontal_m), dtype=np.float64)
    hpz = np.full(n, float(vertical_m), dtype=np.float64)
    dtlookahead = np.full(n, float(lookahead_s), dtype=np.float64)

    start = time.perf_counter()
    output = module.detect(traffic, traffic, rpz, hpz, dtlookahead)
    seconds = time.perf_counter() - start

    if output is None:
        raise RuntimeError("BlueSky cstatebased.detect returned None (could not read arrays)")
    confpairs: list[tuple[int, int]] = output[0]
    return PeerResult(seconds=seconds, pairs=_fold_pairs(confpairs))
