"""A dense (x, y, altitude) grid of boxes: which boxes can overlap which.

Boxes are rows of ``lo``/``hi`` arrays with four coordinates: x, y, z and
altitude. Each box is filed in the cell of its low corner in (x, y, altitude);
cells are at least as large as the largest box, so two overlapping boxes sit
in the same or adjacent cells, and the three altitude cells of a column are
contiguous in the sorted order. z is only compared, never gridded: callers
rotate their frame so that z varies least.
"""

from __future__ import annotations

import numba as nb
import numpy as np

INF = np.inf

#: Forward neighbour columns in (x, y): with the own column, each pair of
#: adjacent columns is scanned from one side only.
FORWARD_COLUMNS = np.array([(0, 1), (1, -1), (1, 0), (1, 1)], dtype=np.int64)
N_SCANS = FORWARD_COLUMNS.shape[0] + 1


@nb.njit(cache=True)
def grid_shape(
    lo: np.ndarray, hi: np.ndarray, max_cells: int
) -> tuple[float, float, float, float, float, int, int, int]:
    """Origin, cell sizes and cell counts of the grid of these boxes.

    Cells are at least as large as the largest box; they are grown when the
    grid would exceed ``max_cells``.
    """
    n = lo.shape[0]
    ext_h = 0.0
    ext_a = 0.0
    min_x = INF
    min_y = INF
    min_a = INF
    max_x = -INF
    max_y = -INF
    max_a = -INF
    for i in range(n):
        ext_h = max(ext_h, hi[i, 0] - lo[i, 0], hi[i, 1] - lo[i, 1])
        ext_a = max(ext_a, hi[i, 3] - lo[i, 3])
        min_x = min(min_x, lo[i, 0])
        min_y = min(min_y, lo[i, 1])
        min_a = min(min_a, lo[i, 3])
        max_x = max(max_x, lo[i, 0])
        max_y = max(max_y, lo[i, 1])
        max_a = max(max_a, lo[i, 3])
    cell_h = ext_h * (1.0 + 1e-9) + 1.0
    cell_a = ext_a * (1.0 + 1e-9) + 1.0
    while True:
        nx = int((max_x - min_x) / cell_h) + 1
        ny = int((max_y - min_y) / cell_h) + 1
        na = int((max_a - min_a) / cell_a) + 1
        if nx * ny * na <= max_cells:
            return min_x, min_y, min_a, cell_h, cell_a, nx, ny, na
        if na > 1 and na * na > nx * ny:
            cell_a *= 1.5
        else:
            cell_h *= 1.5


@nb.njit(cache=True, nogil=True)
def sort_boxes(
    lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, int, int]:
    """File the boxes in the grid.

    Returns ``(order, cell, cstart, slo, shi, nx, ny, na)``: ``order[e]`` is
    the box at sorted position e, ``cell[i]`` the cell of box i,
    ``cstart[c]:cstart[c + 1]`` the sorted positions of cell c, and
    ``slo``/``shi`` the boxes in sorted order (for sequential scans).
    """
    n = lo.shape[0]
    min_x, min_y, min_a, cell_h, cell_a, nx, ny, na = grid_shape(lo, hi, max(8 * n, 1 << 16))
    n_cells = nx * ny * na
    cstart = np.zeros(n_cells + 2, dtype=np.int64)
    cell = np.empty(n, dtype=np.int64)
    for i in range(n):
        cx = min(int((lo[i, 0] - min_x) / cell_h), nx - 1)
        cy = min(int((lo[i, 1] - min_y) / cell_h), ny - 1)
        ca = min(int((lo[i, 3] - min_a) / cell_a), na - 1)
        cell[i] = (cx * ny + cy) * na + ca
        cstart[cell[i] + 2] += 1
    for c in range(n_cells):
        cstart[c + 2] += cstart[c + 1]
    order = np.empty(n, dtype=np.int64)
    for i in range(n):
        e = cstart[cell[i] + 1]
        order[e] = i
        cstart[cell[i] + 1] = e + 1
    # now cstart[c] is the first sorted position of cell c, cstart[c + 1] its end
    slo = np.empty((n, 4))
    shi = np.empty((n, 4))
    for e in range(n):
        for d in range(4):
            slo[e, d] = lo[order[e], d]
            shi[e, d] = hi[order[e], d]
    return order, cell, cstart[: n_cells + 1], slo, shi, nx, ny, na


@nb.njit(cache=True, inline="always")
def scan_range(
    cell_i: int, e_i: int, f: int, cstart: np.ndarray, nx: int, ny: int, na: int
) -> tuple[int, int]:
    """Sorted positions to compare with box ``e_i`` in scan ``f`` (0 <= f < N_SCANS).

    Scan 0 is the rest of the own cell and the cell above it; scans 1..4 are
    the three altitude cells around the own one in a forward column. Every
    pair of boxes in the same or adjacent cells is met exactly once.
    """
    ca = cell_i % na
    cy = (cell_i // na) % ny
    cx = cell_i // (na * ny)
    if f == 0:
        return e_i + 1, cstart[min(cell_i + 2, (cx * ny + cy) * na + na)]
    ncx = cx + FORWARD_COLUMNS[f - 1, 0]
    ncy = cy + FORWARD_COLUMNS[f - 1, 1]
    if ncx >= nx or ncy < 0 or ncy >= ny:
        return 0, 0
    column = (ncx * ny + ncy) * na
    return cstart[column + max(ca - 1, 0)], cstart[column + min(ca + 2, na)]


@nb.njit(cache=True, inline="always")
def boxes_overlap(lo: np.ndarray, hi: np.ndarray, e: int, f: int) -> bool:
    """Whether boxes e and f overlap (closed boxes), without branches."""
    return bool(
        (lo[e, 0] <= hi[f, 0])
        & (lo[f, 0] <= hi[e, 0])
        & (lo[e, 1] <= hi[f, 1])
        & (lo[f, 1] <= hi[e, 1])
        & (lo[e, 2] <= hi[f, 2])
        & (lo[f, 2] <= hi[e, 2])
        & (lo[e, 3] <= hi[f, 3])
        & (lo[f, 3] <= hi[e, 3])
    )


@nb.njit(cache=True, nogil=True)
def overlapping_pairs(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Every pair (i < j) of overlapping boxes, in no particular order."""
    n = lo.shape[0]
    out = np.empty((max(16, 2 * n), 2), dtype=np.int64)
    count = 0
    if n < 2:
        return out[:0]
    order, cell, cstart, slo, shi, nx, ny, na = sort_boxes(lo, hi)
    for e_i in range(n):
        i = order[e_i]
        for f in range(N_SCANS):
            first, last = scan_range(cell[i], e_i, f, cstart, nx, ny, na)
            for e in range(first, last):
                if not boxes_overlap(slo, shi, e_i, e):
                    continue
                j = order[e]
                if count == out.shape[0]:
                    grown = np.empty((2 * count, 2), dtype=np.int64)
                    grown[:count] = out[:count]
                    out = grown
                out[count, 0] = min(i, j)
                out[count, 1] = max(i, j)
                count += 1
    return out[:count]
