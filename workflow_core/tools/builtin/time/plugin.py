"""Built-in ``time`` plugin: current time and weekday, no network."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from workflow_core.tools.base import ToolError, ToolResult


class TimePlugin:
    def __init__(self, settings: Mapping[str, str], directory: Path) -> None:
        self.settings = settings

    def invoke(
        self, tool: str, params: Mapping[str, Any], credentials: Mapping[str, str]
    ) -> ToolResult:
        if tool == "current_time":
            name = str(params.get("timezone") or "UTC")
            try:
                zone = ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ToolError(f"time/current_time: unknown timezone {name!r}") from exc
            now = dt.datetime.now(zone)
            text = now.strftime(str(params.get("format") or "%Y-%m-%d %H:%M:%S %Z"))
            return ToolResult(text=text, json=({"iso": now.isoformat(), "timezone": name},))
        if tool == "weekday":
            try:
                day = dt.date(int(params["year"]), int(params["month"]), int(params["day"]))
            except ValueError as exc:
                raise ToolError(f"time/weekday: invalid date: {exc}") from exc
            return ToolResult(text=day.strftime("%A"), json=({"date": day.isoformat()},))
        raise ToolError(f"time: unknown tool {tool!r}")
