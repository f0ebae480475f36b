"""Knowledge-base settings: the ``FLOWSCOPE_KB_CONFIG`` YAML file, env vars and defaults.

```yaml
path: .flowscope/kb          # chDB data directory (relative paths: relative to this file)
embedder: bm25               # minilm | bm25 (used by `flowscope kb add`)
chunk_size: 400
chunk_overlap: 50
datasets:                    # DSL dataset id -> local knowledge base name
  8c4620fa-15d7-464f-9cb9-561f1a59eb3f: dify-docs
safety: {enabled: true, block_patterns: []}
sharded: {}                  # logical KB -> shards, timeout, retry, fallback (retrieval.sharding)
```
Precedence: explicit argument > ``FLOWSCOPE_KB_DIR`` / ``FLOWSCOPE_EMBEDDER`` > file > default.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from workflow_core.retrieval.base import KnowledgeError
from workflow_core.retrieval.chunking import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE
from workflow_core.retrieval.embedders import EMBEDDER_NAMES, EmbedderName
from workflow_core.retrieval.safety import SafetyFilter
from workflow_core.retrieval.sharding import ShardedIndexConfig

DEFAULT_KB_DIR = Path(".flowscope/kb")


class SafetyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    block_patterns: list[str] = Field(default_factory=list)

    def build(self) -> SafetyFilter:
        return SafetyFilter(enabled=self.enabled, block_patterns=tuple(self.block_patterns))


class KnowledgeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: Path = DEFAULT_KB_DIR
    embedder: EmbedderName = "bm25"
    chunk_size: int = Field(default=DEFAULT_CHUNK_SIZE, gt=0)
    chunk_overlap: int = Field(default=DEFAULT_CHUNK_OVERLAP, ge=0)
    datasets: dict[str, str] = Field(default_factory=dict)
    safety: SafetyConfig = Field(default_factory=SafetyConfig)
    sharded: dict[str, ShardedIndexConfig] = Field(default_factory=dict)

    @field_validator("datasets", mode="before")
    @classmethod
    def _string_keys(cls, value: object) -> object:
        # YAML reads an unquoted numeric id as an int; dataset ids are strings.
        if isinstance(value, dict):
            return {str(k): v for k, v in value.items()}
        return value

    def kb_for(self, dataset_id: str) -> str:
        """The local KB serving ``dataset_id``: the mapping, else a KB named like the id."""
        return self.datasets.get(dataset_id, dataset_id)


def load_config(
    path: Path | None = None, *, kb_dir: Path | None = None, embedder: str | None = None
) -> KnowledgeConfig:
    """Settings from arguments, env (``FLOWSCOPE_KB_CONFIG``/``_KB_DIR``/``_EMBEDDER``), file."""
    env_path = os.environ.get("FLOWSCOPE_KB_CONFIG")
    file_path = path or (Path(env_path) if env_path else None)
    raw: dict[str, object] = {}
    path_in_file = False
    if file_path is not None:
        try:
            loaded = yaml.safe_load(file_path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise KnowledgeError(f"{file_path}: cannot read knowledge config: {exc}") from exc
        if not isinstance(loaded, dict):
            raise KnowledgeError(f"{file_path}: knowledge config must be a mapping")
        raw = loaded
        path_in_file = "path" in raw
    overrides = {
        "path": kb_dir or os.environ.get("FLOWSCOPE_KB_DIR"),
        "embedder": embedder or os.environ.get("FLOWSCOPE_EMBEDDER"),
    }
    raw.update({k: v for k, v in overrides.items() if v})
    if raw.get("embedder") not in (None, *EMBEDDER_NAMES):
        source = "FLOWSCOPE_EMBEDDER" if overrides["embedder"] else f"{file_path}: embedder"
        raise KnowledgeError(
            f"{source} must be one of {list(EMBEDDER_NAMES)}, got {raw['embedder']!r}"
        )
    try:
        config = KnowledgeConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise KnowledgeError(f"{file_path or 'knowledge config'}: {problems}") from exc
    relative = not config.path.is_absolute()
    if file_path is not None and path_in_file and relative and not overrides["path"]:
        config.path = file_path.parent / config.path
    return config
