"""Chunks and vectors in ClickHouse, through clickhouse-connect's ``chdb://`` backend.

chDB embeds the ClickHouse engine in this process and allows ONE data directory per process:
opening a second, different directory raises. The knowledge store therefore owns the process's
chDB engine; the collector (which also uses chDB) runs in its own process. chDB also locks its
directory: while one process (a workflow run, ``flowscope kb``) has the store open, another
process cannot open it and gets a clear error (enforced with our own file lock).
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from workflow_core.retrieval.base import KnowledgeError

logger = logging.getLogger(__name__)

DATABASE = "flowscope_kb"
LOCK_NAME = ".flowscope-kb.lock"
_SCHEMA = (
    f"CREATE DATABASE IF NOT EXISTS {DATABASE}",
    f"""CREATE TABLE IF NOT EXISTS {DATABASE}.bases (
        name String, embedder LowCardinality(String), model String, dimensions UInt32,
        chunk_size UInt32, chunk_overlap UInt32, updated DateTime DEFAULT now()
    ) ENGINE = ReplacingMergeTree(updated) ORDER BY name""",
    f"""CREATE TABLE IF NOT EXISTS {DATABASE}.chunks (
        kb String, document_id String, document_name String, position UInt32,
        segment_id String, content String, embedding Array(Float32)
    ) ENGINE = MergeTree ORDER BY (kb, document_name, position)""",
)


@dataclass(frozen=True)
class BaseInfo:
    name: str
    embedder: str
    model: str
    dimensions: int
    chunk_size: int
    chunk_overlap: int
    documents: int = 0
    chunks: int = 0


@dataclass(frozen=True)
class StoredChunk:
    kb: str
    document_id: str
    document_name: str
    position: int
    segment_id: str
    content: str
    score: float = 0.0


_CHUNK_COLUMNS = "kb, document_id, document_name, position, segment_id, content"


def _lock_directory(path: Path) -> IO[str]:
    """Hold an exclusive lock on ``path`` for this process's lifetime.

    chDB does not reliably refuse a second process on the same directory, and two embedded
    servers writing one directory would corrupt it; so the store takes its own lock first.
    """
    handle = (path / LOCK_NAME).open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise KnowledgeError(
            f"knowledge store {path} is in use by another process (pid {holder}); chDB allows "
            "one process per directory: wait for that `flowscope kb` command or workflow run "
            "to finish"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


class KnowledgeStore:
    """One chDB data directory holding every local knowledge base."""

    def __init__(self, path: Path) -> None:
        import clickhouse_connect

        self.path = path.resolve()
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock_file = _lock_directory(self.path)
        try:
            self._client = clickhouse_connect.get_client(dsn=f"chdb://{self.path}")
        except Exception as exc:
            self._lock_file.close()
            raise KnowledgeError(
                f"cannot open knowledge store {self.path}: {exc} (chDB allows one data "
                "directory per process; is another chDB directory open in this process?)"
            ) from exc
        for statement in _SCHEMA:
            self._client.command(statement)

    def upsert_base(self, info: BaseInfo) -> None:
        existing = self.base(info.name)
        if existing is not None and (existing.embedder, existing.model) != (
            info.embedder,
            info.model,
        ):
            raise KnowledgeError(
                f"knowledge base {info.name!r} was built with embedder {existing.embedder!r}; "
                f"cannot add documents embedded with {info.embedder!r} (use a new KB name)"
            )
        row = [
            info.name,
            info.embedder,
            info.model,
            info.dimensions,
            info.chunk_size,
            info.chunk_overlap,
        ]
        self._client.insert(
            f"{DATABASE}.bases",
            [row],
            column_names=["name", "embedder", "model", "dimensions", "chunk_size", "chunk_overlap"],
        )

    def replace_document(
        self, kb: str, document_name: str, chunks: list[str], vectors: list[list[float]]
    ) -> str:
        """Store ``chunks`` of one document, replacing an earlier version of the same name."""
        digest = hashlib.sha256("\n".join(chunks).encode()).hexdigest()[:32]
        self._client.command(
            f"DELETE FROM {DATABASE}.chunks WHERE kb = %(kb)s AND document_name = %(doc)s",
            parameters={"kb": kb, "doc": document_name},
        )
        rows = [
            [kb, digest, document_name, i, f"{digest}-{i}", text, vectors[i] if vectors else []]
            for i, text in enumerate(chunks)
        ]
        if rows:
            self._client.insert(
                f"{DATABASE}.chunks",
                rows,
                column_names=[*(c.strip() for c in _CHUNK_COLUMNS.split(",")), "embedding"],
            )
        return digest

    def base(self, name: str) -> BaseInfo | None:
        bases = [b for b in self.bases() if b.name == name]
        return bases[0] if bases else None

    def bases(self) -> list[BaseInfo]:
        result = self._client.query(
            f"""SELECT b.name, b.embedder, b.model, b.dimensions, b.chunk_size, b.chunk_overlap,
                       uniqExact(c.document_name), count(c.kb)
                FROM (SELECT * FROM {DATABASE}.bases FINAL) AS b
                LEFT JOIN {DATABASE}.chunks AS c ON c.kb = b.name
                GROUP BY b.name, b.embedder, b.model, b.dimensions, b.chunk_size, b.chunk_overlap
                ORDER BY b.name"""
        )
        return [BaseInfo(*row) for row in result.result_rows]

    def chunks(self, kb: str) -> list[StoredChunk]:
        result = self._client.query(
            f"SELECT {_CHUNK_COLUMNS} FROM {DATABASE}.chunks WHERE kb = %(kb)s "
            "ORDER BY document_name, position",
            parameters={"kb": kb},
        )
        return [StoredChunk(*row) for row in result.result_rows]

    def nearest(
        self, kb: str, vector: list[float], limit: int, min_score: float | None
    ) -> list[StoredChunk]:
        """Cosine search: score = 1 - cosineDistance, best first."""
        parameters: dict[str, Any] = {"kb": kb, "q": vector, "k": limit}
        threshold = ""
        if min_score is not None:
            threshold, parameters["min"] = "AND score >= %(min)s", min_score
        result = self._client.query(
            f"""SELECT {_CHUNK_COLUMNS}, 1 - cosineDistance(embedding, %(q)s) AS score
                FROM {DATABASE}.chunks WHERE kb = %(kb)s AND length(embedding) > 0
                {threshold} ORDER BY score DESC LIMIT %(k)s""",
            parameters=parameters,
        )
        return [StoredChunk(*row) for row in result.result_rows]
