"""``flowscope serve`` (the trigger service) and ``flowscope events`` (list / replay events).

Entry points in the ``flowscope.commands`` group; heavy imports happen inside the commands.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Mapping
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
ENV_CONFIG = "FLOWSCOPE_TRIGGERS_CONFIG"
ENV_HOST = "FLOWSCOPE_SERVE_HOST"
ENV_PORT = "FLOWSCOPE_SERVE_PORT"
ENV_WORKERS = "FLOWSCOPE_TRIGGER_WORKERS"
ENV_LEASE = "FLOWSCOPE_TRIGGER_LEASE_SECONDS"
ENV_RETRY_BASE = "FLOWSCOPE_TRIGGER_RETRY_SECONDS"
ENV_MAX_BODY = "FLOWSCOPE_WEBHOOK_MAX_BYTES"


def register_serve(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "serve", help="run the trigger service (webhooks, schedules, workers)"
    )
    parser.add_argument("config", nargs="?", help=f"triggers YAML (default: ${ENV_CONFIG})")
    parser.add_argument("--host", default=None, help=f"bind address (${ENV_HOST}, 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help=f"port (${ENV_PORT}, 8400)")
    parser.add_argument(
        "--workers", type=int, default=None, help=f"worker threads (${ENV_WORKERS}, 2)"
    )
    parser.add_argument("--database-url", default=None, help="run store (FLOWSCOPE_DATABASE_URL)")
    parser.set_defaults(func=cmd_serve)


def register_events(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser("events", help="list or replay trigger events")
    parser.add_argument("--database-url", default=None, help="run store (FLOWSCOPE_DATABASE_URL)")
    actions = parser.add_subparsers(dest="events_action", required=True)
    listing = actions.add_parser("list", help="events, newest first (failed ones stay listed)")
    listing.add_argument("--trigger", default=None)
    listing.add_argument(
        "--status", default=None, choices=("pending", "running", "succeeded", "failed")
    )
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    replay = actions.add_parser("replay", help="run a finished or failed event again")
    replay.add_argument("event_id")
    parser.set_defaults(func=cmd_events)


def _setting(value: Any, environ: Mapping[str, str], name: str, cast: type, default: Any) -> Any:
    if value is not None:
        return value
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return cast(raw)
    except ValueError:
        raise ValueError(f"{name} must be a {cast.__name__}, got {raw!r}") from None


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from workflow_core.errors import FlowscopeError
    from workflow_core.store.sql_store import SqlRunStore
    from workflow_core.triggers.config import WebhookTrigger, load_config
    from workflow_core.triggers.service import ServiceSettings, TriggerService

    env = os.environ
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        path = args.config or env.get(ENV_CONFIG)
        if not path:
            raise ValueError(f"give a triggers file (flowscope serve FILE.yml) or set {ENV_CONFIG}")
        settings = ServiceSettings(
            host=_setting(args.host, env, ENV_HOST, str, "127.0.0.1"),
            port=_setting(args.port, env, ENV_PORT, int, 8400),
            workers=_setting(args.workers, env, ENV_WORKERS, int, 2),
            lease_seconds=_setting(None, env, ENV_LEASE, float, 300.0),
            retry_base_seconds=_setting(None, env, ENV_RETRY_BASE, float, 5.0),
            max_body_bytes=_setting(None, env, ENV_MAX_BODY, int, 1024 * 1024),
        )
        if settings.workers < 0:
            raise ValueError(f"--workers must be 0 or more, got {settings.workers}")
        config = load_config(path, env)
        _check_workflows(config)
        store = SqlRunStore.open(args.database_url, environ=env)
    except (FlowscopeError, ValueError) as exc:
        print(f"flowscope serve: {exc}", file=sys.stderr)
        return EXIT_USAGE
    service = TriggerService(config, store, settings, environ=env)
    base = f"http://{settings.host}:{settings.port}"
    for trigger in config.triggers.values():
        if isinstance(trigger, WebhookTrigger):
            print(
                f"webhook {trigger.id}: POST {base}{config.webhook_path(trigger.id)}",
                file=sys.stderr,
            )
        else:
            print(f"schedule {trigger.id}: {trigger.cron} ({trigger.timezone})", file=sys.stderr)
    uvicorn.run(service.app(), host=settings.host, port=settings.port, log_level="warning")
    return EXIT_OK


def _check_workflows(config: Any) -> None:
    """Fail at start-up on a DSL file that does not load or inputs its start node lacks."""
    from workflow_core.dsl import load_app
    from workflow_core.triggers.errors import TriggerConfigError

    for trigger in config.triggers.values():
        app = load_app(trigger.workflow)
        declared = {
            str(v.get("variable"))
            for node in app.nodes
            if node.type == "start" and node.parent_id is None
            for v in node.data.get("variables", [])
        }
        unknown = sorted(set(trigger.inputs) - declared)
        if unknown:
            raise TriggerConfigError(
                f"{config.source}: trigger {trigger.id}: inputs {unknown} are not declared by "
                f"the start node of {trigger.workflow.name} (declared: {sorted(declared)})"
            )


def cmd_events(args: argparse.Namespace) -> int:
    from workflow_core.store.errors import NotFoundError, StoreError
    from workflow_core.store.sql_store import SqlRunStore
    from workflow_core.store.triggers import TriggerEventQueue
    from workflow_core.triggers.delivery import replay_event

    try:
        store = SqlRunStore.open(args.database_url)
    except StoreError as exc:
        print(f"flowscope events: {exc}", file=sys.stderr)
        return EXIT_USAGE
    queue = TriggerEventQueue(store.engine)
    if args.events_action == "replay":
        try:
            event = replay_event(queue, args.event_id)
        except NotFoundError as exc:
            print(f"flowscope events replay: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except StoreError as exc:
            print(f"flowscope events replay: {exc}", file=sys.stderr)
            return EXIT_FAILED
        print(f"event {event.id} is pending again; a running `flowscope serve` will run it")
        return EXIT_OK
    if not 1 <= args.limit <= 1000:
        print(f"flowscope events list: --limit must be 1-1000, got {args.limit}", file=sys.stderr)
        return EXIT_USAGE
    events = queue.list(trigger_id=args.trigger, status=args.status, limit=args.limit)
    for e in events:
        row = {
            "event_id": e.id,
            "trigger_id": e.trigger_id,
            "type": e.trigger_type,
            "status": e.status,
            "attempts": e.attempts,
            "max_attempts": e.max_attempts,
            "received_at": e.received_at.isoformat(),
            "run_id": e.last_run_id,
            "error": e.last_error,
        }
        if args.json:
            print(json.dumps(row, ensure_ascii=False))
        else:
            error = f"  {e.last_error[:120]}" if e.last_error else ""
            print(
                f"{e.id}  {e.trigger_id:<20} {e.status:<9} {e.attempts}/{e.max_attempts}  "
                f"{e.received_at:%Y-%m-%d %H:%M:%S}  run={e.last_run_id or '-'}{error}"
            )
    return EXIT_OK
