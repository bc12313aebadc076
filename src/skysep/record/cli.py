"""``skysep evidence``: evidence bundles of the verifiable record (verify offline)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

evidence_app = typer.Typer(
    help="Evidence bundles of the verifiable record: export, verify offline, report.",
    no_args_is_help=True,
)

_out = Console(highlight=False)
_err = Console(stderr=True, highlight=False)


@evidence_app.command("verify")
def verify(
    bundle: Annotated[
        Path, typer.Argument(help="Evidence bundle (.zip) written by the service.", dir_okay=False)
    ],
    fingerprint: Annotated[
        str | None,
        typer.Option(
            "--fingerprint",
            help="The server key's fingerprint (SHA-256 of the raw public key, hex) to trust; "
            "without it the bundle is checked against the key it carries.",
        ),
    ] = None,
) -> None:
    """Check every hash, link and signature of a bundle, without the server.

    Prints OK and what was checked, or the first failure (exit code 1).
    """
    from skysep.record import verify_bundle

    result = verify_bundle(bundle, fingerprint=fingerprint)
    if result.failure is not None:
        _err.print(f"{bundle}: {result.summary()}", markup=False, soft_wrap=True)
        raise typer.Exit(code=1)
    _out.print(f"{bundle}: {result.summary()}", markup=False, soft_wrap=True)
    if fingerprint is None:
        _out.print(
            "(checked against the key in the bundle; compare its fingerprint with the "
            "server's published one, or pass --fingerprint)",
            markup=False,
            soft_wrap=True,
        )


@evidence_app.command("export")
def export(
    incident_id: Annotated[int, typer.Argument(metavar="INCIDENT_ID", help="The incident's id.")],
    out: Annotated[Path, typer.Option("--out", help="The bundle to write (.zip).", dir_okay=False)],
    db: Annotated[
        str,
        typer.Option(
            "--db",
            help="The service's database: a SQLite file path or URL, or "
            "postgresql://USER@HOST:PORT/DB.",
            envvar="SKYSEP_DB",
        ),
    ] = "skysep.sqlite3",
    key: Annotated[
        Path | None,
        typer.Option(
            "--key",
            help="The server's signing key (as given to skysep serve; default: "
            "skysep-key.pem next to the SQLite file, or in the working directory).",
            dir_okay=False,
        ),
    ] = None,
    html: Annotated[
        Path | None,
        typer.Option("--html", help="Also write the printable incident report.", dir_okay=False),
    ] = None,
    language: Annotated[
        str, typer.Option("--language", help="Language of the messages in the report.")
    ] = "en",
) -> None:
    """Write an incident's evidence bundle: the incident, both tracks, the alerts and
    messages around it, the chain entries, signed heads, receipts and the public key.

    The bundle is verified before it is written.
    """
    from skysep.errors import SkySepError
    from skysep.record import key_fingerprint, load_or_create_key
    from skysep.record.export import export_incident
    from skysep.record.report import write_incident_report
    from skysep.service.cli import default_key_path
    from skysep.storage import Store

    try:
        store = Store.open(db, migrate=False)
    except SkySepError as exc:
        _err.print(f"error: {exc}", markup=False, soft_wrap=True)
        raise typer.Exit(code=2) from None
    try:
        path = key if key is not None else default_key_path(store)
        if not path.is_file():
            _err.print(f"error: no signing key {path} (give --key)", markup=False, soft_wrap=True)
            raise typer.Exit(code=2)
        signing_key = load_or_create_key(path)
        result = export_incident(store, incident_id, out, signing_key)
        _out.print(f"{out}: {result.summary()}", markup=False, soft_wrap=True)
        _out.print(f"key fingerprint {key_fingerprint(signing_key)}", markup=False)
        if html is not None:
            write_incident_report(out, html, language=language)
            _out.print(f"{html}: incident report", markup=False)
    except SkySepError as exc:
        _err.print(f"error: {exc}", markup=False, soft_wrap=True)
        raise typer.Exit(code=2) from None
    finally:
        store.close()


@evidence_app.command("report")
def report(
    bundle: Annotated[
        Path, typer.Argument(help="Evidence bundle (.zip) to report on.", dir_okay=False)
    ],
    out: Annotated[Path, typer.Option("--out", help="The HTML page to write.", dir_okay=False)],
    language: Annotated[
        str, typer.Option("--language", help="Language of the messages: en, fr or ru.")
    ] = "en",
    fingerprint: Annotated[
        str | None,
        typer.Option("--fingerprint", help="The server key's fingerprint to trust."),
    ] = None,
) -> None:
    """A printable HTML incident report of a bundle (offline, self-contained): the incident,
    plots of both tracks and their separation, alerts, messages, and the verification result.

    Exit code 1 when the bundle does not verify (the report is written and says so).
    """
    from skysep.errors import SkySepError
    from skysep.record.report import write_incident_report

    try:
        result = write_incident_report(bundle, out, language=language, fingerprint=fingerprint)
    except SkySepError as exc:
        _err.print(f"error: {exc}", markup=False, soft_wrap=True)
        raise typer.Exit(code=2) from None
    _out.print(f"{out}: {bundle}: {result.summary()}", markup=False, soft_wrap=True)
    if not result.ok:
        raise typer.Exit(code=1)
