"""``flowscope dashboard``: start the Streamlit app headless on loopback, without telemetry."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

APP = Path(__file__).resolve().parent / "app.py"

# Streamlit options the product always wants: no browser, no usage statistics, no file watcher
# (an installed app does not hot-reload), and the flowscope theme.
STREAMLIT_OPTIONS = {
    "server.headless": "true",
    "browser.gatherUsageStats": "false",
    "server.fileWatcherType": "none",
    "server.runOnSave": "false",
    "client.toolbarMode": "viewer",
    "theme.base": "light",
    "theme.primaryColor": "#5b5bd6",
}


def streamlit_argv(host: str, port: int) -> list[str]:
    """The command line that runs the dashboard app under Streamlit."""
    argv = [sys.executable, "-m", "streamlit", "run", str(APP)]
    options = {**STREAMLIT_OPTIONS, "server.address": host, "server.port": str(port)}
    for name, value in options.items():
        argv.append(f"--{name}={value}")
    return argv


def _run(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    if args.collector:
        env["FLOWSCOPE_COLLECTOR_URL"] = args.collector
    # Validate the settings now so a bad value fails here, not in the browser.
    from dashboard.errors import ConfigError
    from dashboard.settings import load_settings

    try:
        settings = load_settings(env=env)
    except ConfigError as exc:
        print(f"flowscope dashboard: {exc}", file=sys.stderr)
        return 2
    print(
        f"flowscope dashboard: http://{args.host}:{args.port} (collector {settings.collector_url})",
        flush=True,
    )
    argv = streamlit_argv(args.host, args.port)
    # exec, so signals from the parent (Ctrl-C, kill) reach Streamlit itself.
    os.execve(argv[0], argv, env)
    return 0  # pragma: no cover - execve does not return


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "dashboard",
        help="start the Streamlit dashboard (reads the collector's HTTP read API)",
        description="Start the flowscope dashboard: Streamlit, headless, no usage statistics.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8501, help="port (default 8501)")
    parser.add_argument(
        "--collector",
        default=None,
        help="collector base URL (default: $FLOWSCOPE_COLLECTOR_URL or http://127.0.0.1:4318)",
    )
    parser.set_defaults(func=_run)
