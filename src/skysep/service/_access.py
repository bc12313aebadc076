"""Who is calling, and how every router documents its errors.

Every route but ``/health`` takes a bearer token: ``Authorization: Bearer``,
or ``?token=`` for WebSocket and SSE clients that cannot set headers. The
dependencies here turn it into the calling party (:data:`Party`) or the
admin (:data:`Admin`); the routers of the service (``_app``, ``_hotline``,
``_operations``, ``_reports``) all use them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from skysep.errors import ServiceError
from skysep.service._models import ErrorOut
from skysep.storage import Principal, Store

__all__ = ["Admin", "Party", "authenticate", "error_responses"]

_bearer = HTTPBearer(auto_error=False, description="A party's or the admin's bearer token.")


async def authenticate(store: Store, token: str | None) -> Principal:
    """The principal of a live token; 401 for no token or an unknown or revoked one."""
    if not token:
        raise ServiceError(
            "no bearer token: send 'Authorization: Bearer <token>' (or ?token= on streams)", 401
        )
    who = await run_in_threadpool(store.authenticate, token)
    if who is None:
        raise ServiceError("unknown or revoked token", 401)
    return who


async def _principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    token = credentials.credentials if credentials else request.query_params.get("token")
    who = await authenticate(request.app.state.store, token)
    request.state.principal = who  # for the request log
    return who


async def _party(who: Annotated[Principal, Depends(_principal)]) -> str:
    if who.party_id is None:
        raise ServiceError("this is an admin token; party data needs a party's token", 403)
    return who.party_id


async def _admin(who: Annotated[Principal, Depends(_principal)]) -> Principal:
    if not who.is_admin:
        raise ServiceError("this needs an admin token", 403)
    return who


#: The calling party's id (a party token is required).
Party = Annotated[str, Depends(_party)]
#: The admin principal (an admin token is required).
Admin = Annotated[Principal, Depends(_admin)]


def error_responses(
    texts: Mapping[int, str], *statuses: int, json_content: bool = False
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for ``statuses``, each an :class:`ErrorOut` described by ``texts``.

    ``json_content``: state the JSON media type explicitly (for a route whose success
    is not JSON: with ``model``, FastAPI would list the errors under that media type).
    """
    if not json_content:
        return {s: {"model": ErrorOut, "description": texts[s]} for s in statuses}
    schema = {"$ref": f"#/components/schemas/{ErrorOut.__name__}"}
    return {
        s: {"description": texts[s], "content": {"application/json": {"schema": schema}}}
        for s in statuses
    }
