"""DAIDALUS's alert filters, vectorised over pairs: M-of-N, persistence and hysteresis.

For every pair, once per snapshot (DAIDALUS ``HysteresisData`` and ``MofN``):

1. The pair's record is reset (queue ``[raw]*m + [-1]*(n-m)``, no alert)
   when it is new, when time went backwards, or when more than
   ``hysteresis_time_s`` passed since its last update.
2. M-of-N: the raw level enters a queue of the last ``n``; the filtered value
   is the highest level reached by at least ``m`` of them (the ``m``-th
   largest entry). Off when ``m`` is 0 or ``m > n``.
3. Persistence: an alert that began less than ``persistence_time_s`` ago
   does not drop to a lower level.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from skysep.wellclear import _kernels
from skysep.wellclear._config import WellClearConfig
from skysep.wellclear._types import F64, I8, I64, Bool


@dataclass(frozen=True)
class FilterState:
    """The filter records of a set of pairs (see :class:`~skysep.wellclear.AlertMemory`)."""

    queue: I8
    peak: I8
    init_time_s: F64
    last_time_s: F64
    last_level: I8

    @staticmethod
    def fresh(n_pairs: int, n_queue: int) -> FilterState:
        """Records of pairs never seen."""
        return FilterState(
            queue=np.full((n_pairs, n_queue), -1, dtype=np.int8),
            peak=np.full(n_pairs, -1, dtype=np.int8),
            init_time_s=np.full(n_pairs, np.nan),
            last_time_s=np.full(n_pairs, np.nan),
            last_level=np.full(n_pairs, -1, dtype=np.int8),
        )


def early_levels(state: FilterState, known: Bool, time_s: float) -> I64:
    """The level whose early alerting time applies to each pair (0: none).

    It is the pair's current alert level, if the pair was updated before now.
    """
    updated_before = known & (state.last_time_s < time_s)  # NaN compares False
    level = np.where(updated_before, state.last_level.astype(np.int64), 0)
    return np.maximum(level, 0)


def apply_filters(
    raw: I64, state: FilterState, known: Bool, time_s: float, config: WellClearConfig
) -> tuple[I64, FilterState]:
    """Filtered alert levels of every pair, and the updated records (``state`` is not changed)."""
    new_state = FilterState(
        queue=np.ascontiguousarray(state.queue, dtype=np.int8).copy(),
        peak=state.peak.astype(np.int8, copy=True),
        init_time_s=state.init_time_s.astype(np.float64, copy=True),
        last_time_s=state.last_time_s.astype(np.float64, copy=True),
        last_level=state.last_level.astype(np.int8, copy=True),
    )
    level = np.empty(raw.shape[0], dtype=np.int64)
    kernel: Any = _kernels.filter_pairs  # numba's stubs do not know its signature
    kernel(
        raw.astype(np.int8),
        np.ascontiguousarray(known, dtype=np.bool_),
        new_state.queue,
        new_state.peak,
        new_state.init_time_s,
        new_state.last_time_s,
        new_state.last_level,
        float(time_s),
        int(config.alerting_m),
        float(config.hysteresis_time_s),
        float(config.persistence_time_s),
        level,
    )
    return level, new_state
