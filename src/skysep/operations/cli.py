"""``skysep ops``: operation files checked offline (a thin layer over skysep.operations), and
filed with the service over REST (``file``, ``state``, ``list``).

shapely and pyproj load inside the commands, so ``skysep --help`` stays fast.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from skysep import units
from skysep.errors import SkySepError

ops_app = typer.Typer(
    help="Operations (4D volumes): check operation files offline, find their conflicts; "
    "file them with the service and change their state.",
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


# -- the service: file, change and list operations over REST ----------------------------------

UrlOption = Annotated[
    str,
    typer.Option("--url", envvar="SKYSEP_URL", help="The service's base URL (or SKYSEP_URL)."),
]
TokenOption = Annotated[
    str,
    typer.Option(
        "--token",
        envvar="SKYSEP_TOKEN",
        help="The party's bearer token (or SKYSEP_TOKEN).",
        show_default=False,
    ),
]
DEFAULT_URL = "http://127.0.0.1:8000"


def _request(method: str, url: str, path: str, token: str, body: Any = None) -> Any:
    """One request to the service; its JSON, or the service's problems printed and exit 1."""
    import httpx

    try:
        response = httpx.request(
            method,
            url.rstrip("/") + path,
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=60.0,
        )
    except httpx.HTTPError as exc:
        _fail(f"{url}: {exc}")
    try:
        data = response.json()
    except ValueError:
        data = None
    if response.is_success:
        return data
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        _fail(f"{method} {path}: HTTP {response.status_code}: {response.text[:500]}")
    _err.print(
        f"[bold red]error:[/] HTTP {response.status_code}: {error.get('message')}",
        markup=True,
        soft_wrap=True,
    )
    for p in error.get("problems") or []:
        where = f"features[{p['index']}]" if p.get("index") is not None else "operation"
        field = f" {p['field']}" if p.get("field") else ""
        _err.print(
            f"  {where}{field}: {p.get('message')} (value: {json.dumps(p.get('value'))})",
            markup=False,
            soft_wrap=True,
        )
    raise typer.Exit(code=1)


def _print_notices(notices: list[dict[str, Any]], title: str) -> None:
    if not notices:
        _out.print(f"{title}: none")
        return
    table = Table(title=title)
    for column in ("conflict", "event", "own volume", "other party", "overlap", "window (UTC)"):
        table.add_column(column)
    for n in notices:
        table.add_row(
            n["conflict_id"],
            n["event"],
            f"{n['operation_id']}/{n['volume_id']}",
            n["other_party"],
            _band(n["lower_m"], n["upper_m"]),
            f"{n['start']} to {n['end']}",
        )
    _out.print(table)


def _print_filed(reply: dict[str, Any], verb: str) -> None:
    op = reply["operation"]
    _out.print(
        f"{verb} operation {op['id']!r} ({op['state']}), {len(op['volumes'])} volume(s); "
        f"next states: {', '.join(op['next_states']) or 'none'}"
    )
    _print_notices(reply["notices"], "strategic-conflict notices")


@ops_app.command("file")
def file_operation(
    plan: Annotated[
        Path, typer.Argument(help="Operation file (GeoJSON FeatureCollection).", dir_okay=False)
    ],
    token: TokenOption,
    url: UrlOption = DEFAULT_URL,
    replace: Annotated[
        bool,
        typer.Option("--replace", help="Change the filed operation of the same id (PUT)."),
    ] = False,
) -> None:
    """File an operation with the service (or --replace its volumes) and print the
    strategic-conflict notices it caused: only the overlaps with other parties' operations.

    The operation's id is operation.id in the file, else the file's stem.
    """
    try:
        document = json.loads(plan.read_text(encoding="utf-8"))
    except OSError as exc:
        _fail(f"{plan}: cannot read: {exc}")
    except json.JSONDecodeError as exc:
        _fail(f"{plan}: line {exc.lineno}, column {exc.colno}: not JSON: {exc.msg}")
    if not isinstance(document, dict):
        _fail(f"{plan}: not a GeoJSON FeatureCollection object")
    member = document.get("operation")
    member = dict(member) if isinstance(member, dict) else {}
    operation_id = member.get("id") if isinstance(member.get("id"), str) else plan.stem
    document["operation"] = {**member, "id": operation_id}
    if replace:
        reply = _request("PUT", url, f"/v1/operations/{operation_id}", token, document)
        _print_filed(reply, "changed")
    else:
        reply = _request("POST", url, "/v1/operations", token, document)
        _print_filed(reply, "filed")


@ops_app.command("state")
def set_state(
    operation_id: Annotated[str, typer.Argument(help="The operation's id.")],
    state: Annotated[str, typer.Argument(help="active, ended or cancelled.")],
    token: TokenOption,
    url: UrlOption = DEFAULT_URL,
) -> None:
    """Change an operation's state: planned → active → ended, or → cancelled."""
    reply = _request("POST", url, f"/v1/operations/{operation_id}/state", token, {"state": state})
    _print_filed(reply, "changed")


@ops_app.command("list")
def list_operations(
    token: TokenOption,
    url: UrlOption = DEFAULT_URL,
    notices: Annotated[
        bool, typer.Option("--notices", help="Also list the notices sent to the party.")
    ] = False,
) -> None:
    """The party's operations (and, with --notices, its strategic-conflict notices)."""
    ops = _request("GET", url, "/v1/operations", token)
    if not ops:
        _out.print("no operations")
    else:
        table = Table(title=f"{len(ops)} operation(s)")
        for column in ("operation", "state", "volumes", "window (UTC)", "updated"):
            table.add_column(column)
        for op in ops:
            starts = [v["start"] for v in op["volumes"]]
            ends = [v["end"] for v in op["volumes"]]
            table.add_row(
                op["id"] + (f" ({op['name']})" if op["name"] else ""),
                op["state"],
                str(len(op["volumes"])),
                f"{min(starts)} to {max(ends)}" if starts else "",
                op["updated_at"] or "",
            )
        _out.print(table)
    if notices:
        _print_notices(
            _request("GET", url, "/v1/notices?limit=10000", token), "strategic-conflict notices"
        )
