"""Reading graphon's synchronous calls for the generic targets (``probe.targets_graphon``)."""

from __future__ import annotations

from typing import Any

from opentelemetry.propagate import inject

from probe import semconv
from probe.extractors import arg, safe_url
from probe.redaction import Redactor
from probe.spec import Args, Attributes, Kwargs, Scope


def describe_http(
    scope: Scope, instance: Any, args: Args, kwargs: Kwargs, capture: Redactor | None
) -> tuple[str, Attributes]:
    """``HttpxHttpClient._request(method, url, *, max_retries, **kwargs)``."""
    method = str(arg(args, kwargs, 0, "method") or "GET").upper()
    url = str(arg(args, kwargs, 1, "url") or "")
    return f"HTTP {method}", {
        semconv.HTTP_REQUEST_METHOD: method,
        semconv.URL_FULL: safe_url(url),
    }


def inject_traceparent(instance: Any, args: Args, kwargs: Kwargs) -> tuple[Args, Kwargs]:
    """Add the current span's W3C ``traceparent`` to the request's headers (a copy)."""
    carrier: dict[str, str] = {}
    inject(carrier)
    if not carrier:
        return args, kwargs
    headers = dict(kwargs.get("headers") or {})
    present = {str(name).lower() for name in headers}
    headers.update({k: v for k, v in carrier.items() if k.lower() not in present})
    return args, {**kwargs, "headers": headers}
