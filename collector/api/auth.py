"""Optional bearer tokens: one for ingest, a separate one for the read API."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request


def require_bearer(request: Request, token: str | None, what: str) -> None:
    """Raise 401 unless ``Authorization: Bearer <token>`` matches (no-op without a token)."""
    if token is None:
        return
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        value.strip().encode(), token.encode()
    ):
        raise HTTPException(
            status_code=401,
            detail=f"{what} requires 'Authorization: Bearer <token>' matching {what}_TOKEN",
            headers={"WWW-Authenticate": "Bearer"},
        )
