"""The local knowledge retriever: DSL dataset ids → local KBs in the chDB knowledge store.

A KB remembers the embedder it was built with. ``minilm`` KBs are searched by cosine distance
in ClickHouse; ``bm25`` KBs are ranked with bm25s over their stored chunks (index built once per
process and KB, rebuilt when the KB changes). Scores: cosine similarity for minilm; for BM25 the
raw score ``s`` mapped to ``s / (s + 1)`` so thresholds stay in [0, 1).
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from typing import Any

from workflow_core.retrieval.base import (
    Embedder,
    KnowledgeError,
    RetrievedChunk,
    Retriever,
    SearchResult,
    ShardError,
)
from workflow_core.retrieval.config import KnowledgeConfig
from workflow_core.retrieval.embedders import MiniLMEmbedder
from workflow_core.retrieval.safety import SafetyFilter
from workflow_core.retrieval.sharding import ShardedSearcher
from workflow_core.retrieval.store import BaseInfo, KnowledgeStore, StoredChunk

logger = logging.getLogger(__name__)

_TOKEN = re.compile(r"[a-z0-9]+|[\u4e00-\u9fff]", re.IGNORECASE)


def tokenize(text: str) -> list[str]:
    """Lower-case words; CJK ideographs one token each (no segmenter needed)."""
    return [t.lower() for t in _TOKEN.findall(text)]


class _Bm25Index:
    def __init__(self, chunks: list[StoredChunk]) -> None:
        import bm25s

        # bm25s forces its logger to DEBUG at import; give the level back to the application.
        logging.getLogger("bm25s").setLevel(logging.NOTSET)
        self.chunks = chunks
        self.retriever: Any = bm25s.BM25()
        self.retriever.index(
            [tokenize(c.content) or ["\u2205"] for c in chunks], show_progress=False
        )

    def search(self, query: str, limit: int) -> list[tuple[StoredChunk, float]]:
        tokens = tokenize(query)
        if not tokens or not self.chunks:
            return []
        k = min(limit, len(self.chunks))
        ids, scores = self.retriever.retrieve([tokens], k=k, show_progress=False)
        return [
            (self.chunks[int(i)], float(s) / (float(s) + 1.0))
            for i, s in zip(ids[0], scores[0], strict=True)
            if float(s) > 0
        ]


class LocalKnowledgeRetriever(Retriever):
    def __init__(
        self,
        config: KnowledgeConfig,
        store: KnowledgeStore | None = None,
        embedders: dict[str, Embedder] | None = None,
    ) -> None:
        self.config = config
        self._store = store
        self._embedders = embedders or {}
        self.safety: SafetyFilter = config.safety.build()
        self._bm25: dict[str, tuple[int, _Bm25Index]] = {}
        self._sharded = {
            name: ShardedSearcher(name, index) for name, index in config.sharded.items()
        }
        self._lock = threading.RLock()

    @property
    def store(self) -> KnowledgeStore:
        with self._lock:
            if self._store is None:
                self._store = KnowledgeStore(self.config.path)
            return self._store

    def embedder(self, name: str) -> Embedder:
        if name not in self._embedders:
            if name != "minilm":
                raise KnowledgeError(f"no embedder named {name!r}")
            self._embedders[name] = MiniLMEmbedder()
        return self._embedders[name]

    def base_for(self, dataset_id: str) -> BaseInfo:
        name = self.config.kb_for(dataset_id)
        info = self.store.base(name)
        if info is None:
            raise KnowledgeError(
                f"dataset {dataset_id!r} maps to knowledge base {name!r}, which does not exist in "
                f"{self.config.path}; create it with `flowscope kb add {name} PATH...` or map the "
                "id under `datasets:` in FLOWSCOPE_KB_CONFIG"
            )
        return info

    def _search(
        self,
        query: str,
        *,
        top_k: int,
        score_threshold: float | None,
        dataset_ids: list[str],
    ) -> list[RetrievedChunk]:
        hits: list[RetrievedChunk] = []
        errors: list[ShardError] = []
        lost: list[str] = []
        # Ask for more than top_k: the safety filter may drop some.
        limit = top_k * 2 + 4
        for dataset_id in dataset_ids:
            name = self.config.kb_for(dataset_id)
            sharded = self._sharded.get(name)
            if sharded is None:
                hits += self._hits(
                    dataset_id, self.base_for(dataset_id), query, limit, score_threshold
                )
                continue
            bases = self._prepare_shards(dataset_id, name)
            outcome = sharded.search(
                functools.partial(
                    self._shard_hits, dataset_id, name, bases, query, limit, score_threshold
                )
            )
            hits += outcome.hits
            errors += outcome.errors
            lost += outcome.lost
        return SearchResult.of(self.safety.apply(hits), tuple(errors), tuple(lost))

    def _hits(
        self,
        dataset_id: str,
        info: BaseInfo,
        query: str,
        limit: int,
        threshold: float | None,
        dataset_name: str | None = None,
    ) -> list[RetrievedChunk]:
        return [
            RetrievedChunk(
                content=chunk.content,
                score=round(score, 6),
                dataset_id=dataset_id,
                dataset_name=dataset_name or info.name,
                document_id=chunk.document_id,
                document_name=chunk.document_name,
                segment_id=chunk.segment_id,
            )
            for chunk, score in self._rank(info, query, limit, threshold)
        ]

    def _shard_hits(
        self,
        dataset_id: str,
        index: str,
        bases: dict[str, BaseInfo],
        query: str,
        limit: int,
        threshold: float | None,
        kb: str,
    ) -> list[RetrievedChunk]:
        """Hits of shard ``kb`` of the sharded KB ``index`` (runs on a shard worker thread)."""
        return self._hits(dataset_id, bases[kb], query, limit, threshold, index)

    def _prepare_shards(self, dataset_id: str, name: str) -> dict[str, BaseInfo]:
        """Check that every shard KB exists (a missing one is a configuration error, not a shard
        failure) and load their BM25 indexes here, so shard timeouts measure searches only."""
        with self._lock:
            existing = {b.name: b for b in self.store.bases()}
        index = self.config.sharded[name]
        wanted = [s.kb for s in index.shards] + [s.replica for s in index.shards if s.replica]
        missing = [kb for kb in wanted if kb not in existing]
        if missing:
            raise KnowledgeError(
                f"dataset {dataset_id!r} maps to sharded knowledge base {name!r}, whose shard "
                f"KB(s) {missing} do not exist in {self.config.path}; create each with "
                "`flowscope kb add NAME PATH...` or fix `sharded:` in FLOWSCOPE_KB_CONFIG"
            )
        for kb in wanted:
            if existing[kb].embedder == "bm25":
                self._bm25_index(existing[kb])
            else:
                self.embedder(existing[kb].embedder)
        return {kb: existing[kb] for kb in wanted}

    def _rank(
        self, info: BaseInfo, query: str, limit: int, threshold: float | None
    ) -> list[tuple[StoredChunk, float]]:
        if info.embedder == "minilm":
            vector = self.embedder("minilm").embed([query])[0]
            with self._lock:  # shards search on worker threads; one chDB client
                rows = self.store.nearest(info.name, vector, limit, threshold)
            return [(c, c.score) for c in rows]
        ranked = self._bm25_index(info).search(query, limit)
        return [(c, s) for c, s in ranked if threshold is None or s >= threshold]

    def _bm25_index(self, info: BaseInfo) -> _Bm25Index:
        with self._lock:
            cached = self._bm25.get(info.name)
            if cached is None or cached[0] != info.chunks:
                cached = (info.chunks, _Bm25Index(self.store.chunks(info.name)))
                self._bm25[info.name] = cached
            return cached[1]


_default_lock = threading.Lock()
_default: LocalKnowledgeRetriever | None = None


def default_retriever() -> LocalKnowledgeRetriever:
    """The process's retriever when the run was given none (``FLOWSCOPE_KB_CONFIG`` etc. read on
    first use; the chDB store opens on the first search)."""
    global _default
    with _default_lock:
        if _default is None:
            from workflow_core.retrieval.config import load_config

            _default = LocalKnowledgeRetriever(load_config())
        return _default
