"""Knowledge retrieval: local knowledge bases in ClickHouse (chDB), searched by vector or BM25."""

from workflow_core.retrieval.base import Embedder, KnowledgeError, RetrievedChunk, Retriever

__all__ = ["Embedder", "KnowledgeError", "RetrievedChunk", "Retriever"]
