"""Infrastructure links: Jaeger, a log system and an APM, from URL templates in the settings.

Templates use ``{trace_id}``, ``{span_id}``, ``{start}``, ``{end}`` and ``{service}``; ``start``
and ``end`` are epoch milliseconds with a minute of slack either side (what Grafana Explore,
Kibana and Aliyun SLS accept), every value is URL-quoted.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from dashboard.settings import PLACEHOLDER, Settings

SLACK_MS = 60_000


@dataclass(frozen=True)
class Link:
    label: str
    url: str


def _fill(template: str, values: dict[str, str]) -> str:
    """Replace the known ``{name}`` placeholders only, so JSON braces in a template survive."""
    return PLACEHOLDER.sub(
        lambda m: quote(values[m[1]], safe="") if m[1] in values else m[0], template
    )


def infrastructure_links(
    settings: Settings,
    *,
    trace_id: str,
    span_id: str = "",
    start_ns: int,
    end_ns: int,
    service: str = "",
) -> list[Link]:
    """The configured links for one trace (``span_id`` empty) or one span, in a stable order."""
    values = {
        "trace_id": trace_id,
        "span_id": span_id,
        "start": str(start_ns // 1_000_000 - SLACK_MS),
        "end": str(end_ns // 1_000_000 + SLACK_MS),
        "service": service,
    }
    links: list[Link] = []
    if settings.jaeger_url:
        url = f"{settings.jaeger_url}/trace/{quote(trace_id, safe='')}"
        if span_id:
            url += f"?uiFind={quote(span_id, safe='')}"
        links.append(Link("Jaeger", url))
    if settings.logs_url_template:
        links.append(Link("Logs", _fill(settings.logs_url_template, values)))
    if settings.apm_url_template:
        links.append(Link("APM", _fill(settings.apm_url_template, values)))
    return links
