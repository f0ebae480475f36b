"""HMAC-SHA256 signatures: verifying webhook deliveries and signing callbacks.

Comparisons use :func:`hmac.compare_digest` (constant time). The standard scheme signs
``"<unix timestamp>.<raw body>"`` so a captured delivery cannot be replayed outside the tolerance
window; GitHub's scheme signs the raw body only.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from workflow_core.triggers.config import SignatureConfig
from workflow_core.triggers.errors import SignatureError


def sign(secret: str, message: bytes) -> str:
    """``sha256=<hex HMAC-SHA256>`` of ``message``."""
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign_timestamped(secret: str, timestamp: int, body: bytes) -> str:
    """The standard scheme's signature of ``body`` sent at ``timestamp``."""
    return sign(secret, str(timestamp).encode() + b"." + body)


def verify(
    config: SignatureConfig,
    secret: str | None,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float,
) -> None:
    """Raise :class:`SignatureError` unless ``body`` carries a valid signature of ``secret``.

    ``headers`` must be case-insensitive (Starlette's ``Headers`` are).
    """
    if config.preset == "none":
        return
    if not secret:
        raise SignatureError("no secret is configured for this trigger")
    name = config.signature_header
    given = headers.get(name)
    if not given:
        raise SignatureError(f"header {name} is missing")
    if config.preset == "github":
        expected = sign(secret, body)
    else:
        raw = headers.get(config.timestamp_header)
        if not raw:
            raise SignatureError(f"header {config.timestamp_header} is missing")
        try:
            timestamp = int(raw)
        except ValueError:
            raise SignatureError(
                f"header {config.timestamp_header} must be Unix seconds, got {raw[:32]!r}"
            ) from None
        if abs(now - timestamp) > config.tolerance_seconds:
            raise SignatureError(
                f"header {config.timestamp_header} is {int(now - timestamp)} s from now; "
                f"the tolerance is {config.tolerance_seconds} s"
            )
        expected = sign_timestamped(secret, timestamp, body)
    if not given.startswith("sha256="):
        given = "sha256=" + given
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise SignatureError(f"header {name} does not match the body signed with the secret")
