"""The retrieval seams: :meth:`Retriever.search` and :meth:`Embedder.embed`.

Both are concrete template methods (the probe's ``retrieval`` and ``embedding`` span targets,
docs/contracts.md); implementations override ``_search`` / ``_embed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workflow_core.errors import FlowscopeError


class KnowledgeError(FlowscopeError):
    """A knowledge base is missing, misconfigured or cannot be searched."""


@dataclass(frozen=True)
class RetrievedChunk:
    """One search hit; :meth:`as_dify` gives the knowledge-retrieval node's item shape."""

    content: str
    score: float
    dataset_id: str
    dataset_name: str
    document_id: str
    document_name: str
    segment_id: str
    position: int = 0  # 1-based rank in the result list, set by the retriever

    def as_dify(self) -> dict[str, Any]:
        return {
            "content": self.content,
            "title": self.document_name,
            "metadata": {
                "_source": "knowledge",
                "dataset_id": self.dataset_id,
                "dataset_name": self.dataset_name,
                "document_id": self.document_id,
                "document_name": self.document_name,
                "score": self.score,
                "position": self.position,
                "segment_id": self.segment_id,
            },
        }


@dataclass(frozen=True)
class ShardError:
    """One failed attempt at one shard of a sharded knowledge base."""

    index: str  # the logical (sharded) KB
    shard: str  # the shard KB that failed (a replica's own name when ``replica_of`` is set)
    attempt: int
    kind: str  # "timeout" or the exception type
    message: str
    replica_of: str | None = None

    def describe(self) -> str:
        which = f"replica {self.shard} of {self.replica_of}" if self.replica_of else self.shard
        return f"shard {which} attempt {self.attempt}: {self.message}"


class SearchResult(list[RetrievedChunk]):
    """Hits, best first, plus what went wrong underneath (empty when every shard answered).

    ``shard_errors``: every failed shard attempt, recovered or not; ``shards_lost``: shards that
    contributed nothing after retries and fallback (their loss emptied the result).
    """

    shard_errors: tuple[ShardError, ...] = ()
    shards_lost: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        hits: list[RetrievedChunk],
        shard_errors: tuple[ShardError, ...] = (),
        shards_lost: tuple[str, ...] = (),
    ) -> SearchResult:
        result = cls(hits)
        result.shard_errors, result.shards_lost = shard_errors, shards_lost
        return result


class Embedder:
    """Turns texts into vectors. Subclasses set ``model_name`` and implement ``_embed``."""

    model_name: str = "unknown"
    dimensions: int = 0

    def embed(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order."""
        if not texts:
            return []
        return self._embed(texts)

    def _embed(self, texts: list[str]) -> list[list[float]]:  # pragma: no cover - abstract
        raise NotImplementedError


class Retriever:
    """Searches knowledge bases. Subclasses implement ``_search``."""

    def search(
        self,
        query: str,
        *,
        top_k: int,
        score_threshold: float | None,
        dataset_ids: list[str],
    ) -> list[RetrievedChunk]:
        """At most ``top_k`` chunks scoring ≥ ``score_threshold``, best first, positions 1…n.

        The list is a :class:`SearchResult`: shard failures underneath ride along with it.
        """
        if top_k <= 0 or not query.strip():
            return SearchResult()
        hits = self._search(
            query, top_k=top_k, score_threshold=score_threshold, dataset_ids=dataset_ids
        )
        ranked = sorted(hits, key=lambda c: c.score, reverse=True)[:top_k]
        return SearchResult.of(
            [RetrievedChunk(**{**c.__dict__, "position": i}) for i, c in enumerate(ranked, 1)],
            getattr(hits, "shard_errors", ()),
            getattr(hits, "shards_lost", ()),
        )

    def _search(
        self,
        query: str,
        *,
        top_k: int,
        score_threshold: float | None,
        dataset_ids: list[str],
    ) -> list[RetrievedChunk]:  # pragma: no cover - abstract
        raise NotImplementedError
