"""The collector's running parts, shared by the routes through ``app.state.runtime``."""

from __future__ import annotations

from dataclasses import dataclass

from collector.errors import StoreUnavailable
from collector.forward import Forwarder
from collector.settings import Settings
from collector.spool.wal import Spool
from collector.spool.writer import SpoolWriter
from collector.storage.store import SpanStore


@dataclass
class Runtime:
    settings: Settings
    spool: Spool
    writer: SpoolWriter
    forwarders: tuple[Forwarder, ...] = ()

    def store(self) -> SpanStore:
        store = self.writer.store
        if store is None:
            raise StoreUnavailable(self.writer.stats.last_error or "store is not open yet")
        return store

    def forward(self, payload: bytes) -> None:
        for forwarder in self.forwarders:
            forwarder.submit(payload)
