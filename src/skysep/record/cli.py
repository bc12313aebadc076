"""``skysep evidence``: evidence bundles of the verifiable record (verify offline)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

evidence_app = typer.Typer(
    help="Evidence bundles of the verifiable record: verify one offline.",
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
