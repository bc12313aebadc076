"""``skysep ops``: operation files checked offline (a thin layer over skysep.operations).

shapely and pyproj load inside the commands, so ``skysep --help`` stays fast.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from skysep import units
from skysep.errors import SkySepError

ops_app = typer.Typer(
    help="Operations (4D volumes): check operation files offline, find their conflicts.",
    no_args_is_help=True,
)

_out = Console(highlight=False)
_err = Console(stderr=True, highlight=False)

NowOption = Annotated[
    str | None,
    typer.Option(
        "--now",
        help="The time windows must end after (ISO-8601 with a UTC offset); default: now.",
    ),
]
MaxVerticesOption = Annotated[
    int,
    typer.Option("--max-vertices", help="Most vertices one volume may have.", min=3),
]


def _fail(message: str) -> NoReturn:
    _err.print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True)
    raise typer.Exit(code=2)


def _now(now: str | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(now)
    except ValueError:
        _fail(f"--now {now!r} is not an ISO-8601 time")
    if value.tzinfo is None:
        _fail(f"--now {now!r} has no UTC offset; end it with 'Z'")
    return value.astimezone(UTC)


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _band(lower_m: float, upper_m: float) -> str:
    return f"{units.m_to_ft(lower_m):,.0f}-{units.m_to_ft(upper_m):,.0f} ft"


@ops_app.command("check")
def check(
    plan: Annotated[
        Path, typer.Argument(help="Operation file (GeoJSON FeatureCollection).", dir_okay=False)
    ],
    now: NowOption = None,
    max_vertices: MaxVerticesOption = 1000,
) -> None:
    """Validate an operation file and list its volumes (nothing is filed)."""
    from skysep.operations import read_operation

    try:
        op = read_operation(plan, now=_now(now), max_vertices=max_vertices)
    except SkySepError as exc:
        _fail(str(exc))
    title = f"operation {op.id!r}" + (f" ({op.name})" if op.name else "")
    title += f", party {op.party!r}" if op.party else ", no party"
    table = Table(title=title)
    for column in ("volume", "area", "altitude (AMSL)", "start (UTC)", "end (UTC)"):
        table.add_column(column)
    for v in op.volumes:
        if v.kind == "circle" and v.radius_m is not None:
            area = (
                f"circle {units.m_to_nm(v.radius_m):.2f} NM around "
                f"{v.center_lat_deg:.4f}, {v.center_lon_deg:.4f}"
            )
        else:
            area = f"polygon, {sum(len(p.exterior.coords) - 1 for p in v.parts)} vertices"
            if len(v.parts) > 1:
                area += f" in {len(v.parts)} parts (antimeridian)"
        table.add_row(v.id, area, _band(v.lower_m, v.upper_m), _iso(v.start), _iso(v.end))
    _out.print(table)
    if op.aircraft:
        _out.print(f"aircraft: {', '.join(op.aircraft)}")
    _out.print(f"{plan}: valid, {len(op.volumes)} volume(s)")


@ops_app.command("conflicts")
def conflicts(
    plans: Annotated[
        list[Path],
        typer.Argument(
            help="Operation files, one operation of one party each (operation.party).",
            dir_okay=False,
        ),
    ],
    now: NowOption = None,
    max_vertices: MaxVerticesOption = 1000,
) -> None:
    """Check operation files against each other, as if each party had filed its own.

    Prints every strategic conflict once, as both parties would see it (the
    overlap only). Exit status 1 if there is any.
    """
    from skysep.operations import OperationIndex, read_operation

    when = _now(now)
    index = OperationIndex()
    found = []
    try:
        for plan in plans:
            op = read_operation(plan, now=when, max_vertices=max_vertices)
            if not op.party:
                _fail(f"{plan}: operation.party is missing; each file is one party's operation")
            if op.id in index:
                _fail(f"{plan}: operation id {op.id!r} is also another file's")
            found.extend(index.conflicts(op))
            index.add(op)
    except SkySepError as exc:
        _fail(str(exc))
    if not found:
        _out.print(f"no strategic conflicts between {len(plans)} operation(s)")
        return
    table = Table(title=f"{len(found)} strategic conflict(s)")
    for column in ("conflict", "party: operation/volume", "other", "overlap", "window (UTC)"):
        table.add_column(column)
    for c in found:
        table.add_row(
            c.conflict_id,
            f"{c.party}: {c.operation_id}/{c.volume_id}",
            f"{c.other_party}: {c.other_operation_id}/{c.other_volume_id}",
            _band(c.lower_m, c.upper_m),
            f"{_iso(c.start)} to {_iso(c.end)}",
        )
    _out.print(table)
    raise typer.Exit(code=1)
