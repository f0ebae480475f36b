"""One trigger-service process: the HTTP app, worker threads and the scheduler thread.

Process model (decision): the service is its own process (``flowscope serve``), separate from
the collector. Webhook receipt is async (uvicorn's event loop); store writes and workflow runs
happen on threads. Any number of instances may share one database: events are leased, schedule
slots are unique rows.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from fastapi import FastAPI

from workflow_core.store.sql_store import SqlRunStore
from workflow_core.store.triggers import TriggerEventQueue
from workflow_core.triggers.app import create_app
from workflow_core.triggers.config import TriggersConfig
from workflow_core.triggers.delivery import TriggerDelivery
from workflow_core.triggers.schedule import Scheduler
from workflow_core.triggers.worker import Worker, worker_name

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceSettings:
    """Built by the ``serve`` entry point: argument > ``FLOWSCOPE_*`` env > default."""

    host: str = "127.0.0.1"
    port: int = 8400
    workers: int = 2
    poll_seconds: float = 0.5
    schedule_seconds: float = 1.0
    lease_seconds: float = 300.0
    retry_base_seconds: float = 5.0
    max_body_bytes: int = 1024 * 1024


class TriggerService:
    """Owns the queue, the workers and the scheduler of one process."""

    def __init__(
        self,
        config: TriggersConfig,
        store: SqlRunStore,
        settings: ServiceSettings,
        *,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.settings = settings
        self.queue = TriggerEventQueue(store.engine)
        env = os.environ if environ is None else environ
        self.delivery = TriggerDelivery(config, store, environ=env)
        self.scheduler = Scheduler(config.schedules(), self.queue)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        lease = timedelta(seconds=self.settings.lease_seconds)
        for index in range(self.settings.workers):
            worker = Worker(
                self.queue,
                self.delivery,
                name=worker_name(index),
                lease=lease,
                retry_base_seconds=self.settings.retry_base_seconds,
            )
            self._spawn(f"trigger-worker-{index}", worker.loop, self.settings.poll_seconds)
        if self.scheduler.triggers:
            self._spawn("trigger-scheduler", self._schedule_loop)

    def _spawn(self, name: str, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=(self._stop, *args), name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _schedule_loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.scheduler.tick()
            except Exception:
                logger.exception("scheduler: tick failed")
            stop.wait(self.settings.schedule_seconds)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop taking work; running deliveries finish (or are re-delivered after their lease)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def app(self) -> FastAPI:
        return create_app(self.config, self.queue, on_startup=self.start, on_shutdown=self.stop)
