"""Adding documents to a local knowledge base: extract → clean + chunk → embed → store."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from workflow_core.documents import SUPPORTED_EXTENSIONS, extract_file
from workflow_core.retrieval.base import Embedder, KnowledgeError
from workflow_core.retrieval.chunking import split_text
from workflow_core.retrieval.store import BaseInfo, KnowledgeStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AddedDocument:
    name: str
    document_id: str
    chunks: int


def collect_files(paths: Iterable[Path]) -> list[Path]:
    """Files named, plus supported files found under named directories (sorted)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                sorted(p for p in path.rglob("*") if p.suffix.lower() in SUPPORTED_EXTENSIONS)
            )
        elif path.is_file():
            files.append(path)
        else:
            raise KnowledgeError(f"{path}: no such file or directory")
    if not files:
        raise KnowledgeError(
            f"no documents found in {[str(p) for p in paths]} "
            f"(supported: {', '.join(sorted(SUPPORTED_EXTENSIONS))})"
        )
    return files


def add_documents(
    store: KnowledgeStore,
    name: str,
    files: list[Path],
    *,
    embedder_name: str,
    embedder: Embedder | None,
    chunk_size: int,
    chunk_overlap: int,
    on_document: Callable[[AddedDocument], None] = lambda _doc: None,
) -> list[AddedDocument]:
    """Chunk, embed (unless BM25) and store every file under knowledge base ``name``."""
    store.upsert_base(
        BaseInfo(
            name=name,
            embedder=embedder_name,
            model=embedder.model_name if embedder else "bm25s",
            dimensions=embedder.dimensions if embedder else 0,
            chunk_size=chunk_size,
            chunk_overlap=chunk_overlap,
        )
    )
    added: list[AddedDocument] = []
    for path in files:
        chunks = split_text(extract_file(path), chunk_size, chunk_overlap)
        if not chunks:
            logger.warning("%s: no text to index, skipped", path)
            continue
        vectors = embedder.embed(chunks) if embedder else []
        document_id = store.replace_document(name, path.name, chunks, vectors)
        doc = AddedDocument(name=path.name, document_id=document_id, chunks=len(chunks))
        added.append(doc)
        on_document(doc)
    return added
