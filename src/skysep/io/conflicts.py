"""Conflicts to tables and to ``conflicts.csv``."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Final

from skysep.engine import Conflicts
from skysep.errors import SkySepError

if TYPE_CHECKING:
    import pandas as pd

#: The columns of conflicts.csv, in order (a contract other tools rely on).
CONFLICT_COLUMNS: Final[tuple[str, ...]] = (
    "aircraft_a",
    "aircraft_b",
    "party_a",
    "party_b",
    "level",
    "t_in_s",
    "t_out_s",
    "t_cpa_s",
    "h_cpa_m",
    "v_cpa_m",
    "h_now_m",
    "v_now_m",
)


def conflicts_frame(conflicts: Conflicts) -> pd.DataFrame:
    """One row per conflicting pair, the columns of :data:`CONFLICT_COLUMNS`."""
    import pandas as pd  # imported when used: see skysep.io.states

    return pd.DataFrame(
        {
            "aircraft_a": conflicts.aircraft_a,
            "aircraft_b": conflicts.aircraft_b,
            "party_a": conflicts.party_a,
            "party_b": conflicts.party_b,
            "level": conflicts.level,
            "t_in_s": conflicts.t_in_s,
            "t_out_s": conflicts.t_out_s,
            "t_cpa_s": conflicts.t_cpa_s,
            "h_cpa_m": conflicts.h_cpa_m,
            "v_cpa_m": conflicts.v_cpa_m,
            "h_now_m": conflicts.h_now_m,
            "v_now_m": conflicts.v_now_m,
        },
        columns=list(CONFLICT_COLUMNS),
    )


def write_conflicts(conflicts: Conflicts, path: str | Path) -> None:
    """Write conflicts.csv atomically: a reader never sees a half-written file."""
    path = Path(path)
    frame = conflicts_frame(conflicts)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise SkySepError(f"{path}: the folder {str(directory)!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
            frame.to_csv(handle, index=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
