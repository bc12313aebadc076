"""``skysep serve``, ``skysep party ...`` and ``skysep admin ...``: thin layers over the service.

Party and admin commands work on the database directly (the operator of the
machine is the admin); the same operations exist over REST for an admin token.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from skysep.agreement import LANGUAGES, PRESETS
from skysep.errors import SkySepError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from skysep.storage import Store

DbOption = Annotated[
    str,
    typer.Option(
        "--db",
        help="Database: a SQLite file path or URL (default), or postgresql://USER@HOST:PORT/DB.",
        envvar="SKYSEP_DB",
    ),
]
DEFAULT_DB = "skysep.sqlite3"

party_app = typer.Typer(
    help="Parties and their bearer tokens (on the database, as the admin).",
    no_args_is_help=True,
)
admin_app = typer.Typer(help="Admin credentials for the service's REST administration.")

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True)
    return typer.Exit(code=2)


def _store(db: str) -> Store:
    from skysep.storage import Store  # imported here: `skysep --help` stays fast

    try:
        return Store.open(db)
    except SkySepError as exc:
        raise _fail(str(exc)) from None


def default_key_path(store: Store) -> Path:
    """``skysep-key.pem`` next to a SQLite file, or in the working directory for PostgreSQL."""
    database = store.engine.url.database if store.dialect == "sqlite" else None
    folder = Path(database).expanduser().resolve().parent if database else Path.cwd()
    return folder / "skysep-key.pem"


def _signing_key(path: Path | None, store: Store) -> Ed25519PrivateKey:
    from skysep.record import key_fingerprint, load_or_create_key

    chosen = path if path is not None else default_key_path(store)
    try:
        loaded = load_or_create_key(chosen)
    except SkySepError as exc:
        raise _fail(str(exc)) from None
    err.print(
        f"signing key {chosen}: fingerprint {key_fingerprint(loaded)}", markup=False, soft_wrap=True
    )
    return loaded


def serve(
    agreement: Annotated[
        Path | None,
        typer.Option(
            "--agreement", help="Agreement file (TOML). Give this or --preset.", dir_okay=False
        ),
    ] = None,
    preset_name: Annotated[
        str | None,
        typer.Option("--preset", help=f"Built-in agreement: {', '.join(PRESETS)}."),
    ] = None,
    db: DbOption = DEFAULT_DB,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port (0: any free port).")] = 8000,
    log_level: Annotated[
        str, typer.Option("--log-level", help="debug, info, warning or error.")
    ] = "info",
    key: Annotated[
        Path | None,
        typer.Option(
            "--key",
            help="The server's Ed25519 signing key (PEM, mode 0600), created if absent. "
            "Default: skysep-key.pem next to the SQLite file, or in the working directory "
            "for PostgreSQL.",
            dir_okay=False,
        ),
    ] = None,
    worker_processes: Annotated[
        bool,
        typer.Option(
            "--worker-processes/--no-worker-processes",
            help="Check and store report batches, and do each cycle's record and hotline "
            "work, on two worker processes (other cores) rather than threads of the "
            "server's process.",
        ),
    ] = True,
) -> None:
    """Run the deconfliction service (FastAPI on uvicorn) until interrupted."""
    import uvicorn

    from skysep.agreement import load_agreement, preset
    from skysep.service import create_app
    from skysep.service._logging import configure

    if (agreement is None) == (preset_name is None):
        raise _fail("give exactly one of --agreement FILE or --preset NAME")
    if log_level not in ("debug", "info", "warning", "error"):
        raise _fail(
            f"--log-level {log_level!r} is not valid, must be one of debug, info, warning, error"
        )
    try:
        chosen = load_agreement(agreement) if agreement is not None else preset(str(preset_name))
    except SkySepError as exc:
        raise _fail(str(exc)) from None
    store = _store(db)
    configure(log_level)
    signing_key = _signing_key(key, store)
    app = create_app(
        store,
        chosen,
        key=signing_key,
        worker_processes=worker_processes,
        collect_between_cycles=True,
    )
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        log_level=log_level,
        ws="websockets-sansio",
        # Alerts are small and latency counts: no per-message compression (it cost the
        # event loop a tenth of its time at 180 alerts a second).
        ws_per_message_deflate=False,
    )
    server = uvicorn.Server(config)
    try:
        server.run()
    finally:
        store.close()


@party_app.command("add")
def party_add(
    party_id: Annotated[str, typer.Argument(metavar="ID", help="Letters, digits, '-' or '_'.")],
    name: Annotated[str, typer.Option("--name", help="Display name.")],
    language: Annotated[
        str, typer.Option("--language", help=f"Duty officers' language: {', '.join(LANGUAGES)}.")
    ] = "en",
    db: DbOption = DEFAULT_DB,
) -> None:
    """Create a party and print its bearer token (once: only its hash is stored)."""
    import re

    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", party_id):
        raise _fail(f"party id must be 1-64 letters, digits, '-' or '_', got {party_id!r}")
    if language not in LANGUAGES:
        raise _fail(f"--language {language!r} is not valid, must be one of {', '.join(LANGUAGES)}")
    store = _store(db)
    try:
        token = store.add_party(party_id, name, language, time.time())
    except SkySepError as exc:
        raise _fail(str(exc)) from None
    finally:
        store.close()
    err.print(f"party {party_id!r} created; its token (shown once):")
    out.print(token)


@party_app.command("list")
def party_list(db: DbOption = DEFAULT_DB) -> None:
    """List parties with their live and revoked tokens."""
    store = _store(db)
    try:
        table = Table("id", "name", "language", "live tokens", "revoked tokens")
        for p in store.parties():
            tokens = store.tokens(p.id)
            live = [str(t.id) for t in tokens if t.revoked_at is None]
            table.add_row(
                p.id, p.name, p.language, ", ".join(live) or "-", str(len(tokens) - len(live))
            )
        out.print(table)
    finally:
        store.close()


@party_app.command("rotate")
def party_rotate(
    party_id: Annotated[str, typer.Argument(metavar="ID")],
    db: DbOption = DEFAULT_DB,
) -> None:
    """Issue a new token for a party and revoke its others; prints the new token once."""
    store = _store(db)
    try:
        _, token = store.issue_token(party_id, time.time(), revoke_others=True)
    except SkySepError as exc:
        raise _fail(str(exc)) from None
    finally:
        store.close()
    err.print(f"party {party_id!r}: other tokens revoked; the new token (shown once):")
    out.print(token)


@party_app.command("revoke")
def party_revoke(
    party_id: Annotated[str, typer.Argument(metavar="ID")],
    token_id: Annotated[
        int | None, typer.Option("--token-id", help="Revoke only this token (see `party list`).")
    ] = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Revoke a party's tokens (all of them, or one with --token-id)."""
    store = _store(db)
    try:
        if store.party(party_id) is None:
            raise _fail(f"no party {party_id!r}")
        if token_id is None:
            count = store.revoke_party(party_id, time.time())
        else:
            owned = {t.id for t in store.tokens(party_id)}
            if token_id not in owned:
                raise _fail(f"party {party_id!r} has no token {token_id}")
            count = int(store.revoke_token(token_id, time.time()))
    finally:
        store.close()
    out.print(f"party {party_id!r}: {count} token(s) revoked")


@admin_app.command("token")
def admin_token(
    rotate: Annotated[
        bool, typer.Option("--rotate", help="Revoke the other admin tokens.")
    ] = False,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Create an admin token for the REST administration (printed once)."""
    store = _store(db)
    try:
        _, token = store.issue_token(None, time.time(), revoke_others=rotate)
    finally:
        store.close()
    err.print("admin token (shown once):")
    out.print(token)
