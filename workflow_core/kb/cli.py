"""``flowscope kb``: build and inspect local knowledge bases.

``flowscope kb add NAME PATH...`` chunks, cleans, embeds and stores documents;
``flowscope kb list`` shows the knowledge bases; ``flowscope kb search NAME QUERY`` runs the
same search a knowledge-retrieval node does (``--json`` for scripts).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from workflow_core.errors import FlowscopeError

logger = logging.getLogger(__name__)

EXIT_ERROR = 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("kb", help="manage local knowledge bases", description=__doc__)
    parser.add_argument(
        "--config", type=Path, help="knowledge config YAML (default: $FLOWSCOPE_KB_CONFIG)"
    )
    parser.add_argument(
        "--kb-dir", type=Path, help="chDB data dir (default: $FLOWSCOPE_KB_DIR, .flowscope/kb)"
    )
    sub = parser.add_subparsers(dest="kb_command", required=True)

    add = sub.add_parser("add", help="add documents (files or directories) to a knowledge base")
    add.add_argument("name", help="knowledge base name (map DSL dataset ids to it in the config)")
    add.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    add.add_argument("--embedder", choices=["minilm", "bm25"], help="default: $FLOWSCOPE_EMBEDDER")
    add.add_argument("--chunk-size", type=int, help="characters per chunk (default 400)")
    add.add_argument("--chunk-overlap", type=int, help="characters shared (default 50)")
    add.set_defaults(func=_add)

    listing = sub.add_parser("list", help="list knowledge bases")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=_list)

    search = sub.add_parser("search", help="search knowledge bases like a knowledge-retrieval node")
    search.add_argument("name", help="knowledge base name or DSL dataset id")
    search.add_argument("query")
    search.add_argument("--top-k", type=int, default=4)
    search.add_argument("--score-threshold", type=float)
    search.add_argument("--json", action="store_true", help="print the node's result JSON")
    search.set_defaults(func=_search)


def _guarded(args: argparse.Namespace, action: str) -> int:
    try:
        return int(_ACTIONS[action](args))
    except FlowscopeError as exc:
        print(f"flowscope kb {action}: {exc}", file=sys.stderr)
        return EXIT_ERROR


def _add(args: argparse.Namespace) -> int:
    return _guarded(args, "add")


def _list(args: argparse.Namespace) -> int:
    return _guarded(args, "list")


def _search(args: argparse.Namespace) -> int:
    return _guarded(args, "search")


def _do_add(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from workflow_core.retrieval.config import load_config
    from workflow_core.retrieval.embedders import MiniLMEmbedder
    from workflow_core.retrieval.ingest import add_documents, collect_files
    from workflow_core.retrieval.store import KnowledgeStore

    config = load_config(args.config, kb_dir=args.kb_dir, embedder=args.embedder)
    size = args.chunk_size or config.chunk_size
    overlap = config.chunk_overlap if args.chunk_overlap is None else args.chunk_overlap
    files = collect_files(args.paths)
    store = KnowledgeStore(config.path)
    embedder = MiniLMEmbedder() if config.embedder == "minilm" else None
    # A progress bar on a terminal; quiet in CI and pipes.
    with tqdm(total=len(files), unit="doc", disable=not sys.stderr.isatty()) as bar:
        added = add_documents(
            store,
            args.name,
            files,
            embedder_name=config.embedder,
            embedder=embedder,
            chunk_size=size,
            chunk_overlap=overlap,
            on_document=lambda _doc: bar.update(),
        )
    chunks = sum(d.chunks for d in added)
    print(
        f"{args.name}: added {len(added)} document(s), {chunks} chunk(s) "
        f"(embedder {config.embedder}, chunk size {size}, overlap {overlap}) in {config.path}"
    )
    return 0


def _do_list(args: argparse.Namespace) -> int:
    from workflow_core.retrieval.config import load_config
    from workflow_core.retrieval.store import KnowledgeStore

    config = load_config(args.config, kb_dir=args.kb_dir)
    bases = KnowledgeStore(config.path).bases()
    if args.json:
        print(json.dumps([b.__dict__ for b in bases], ensure_ascii=False))
        return 0
    for b in bases:
        print(f"{b.name}\t{b.embedder}\t{b.documents} document(s)\t{b.chunks} chunk(s)")
    if not bases:
        print(f"no knowledge bases in {config.path}")
    return 0


def _do_search(args: argparse.Namespace) -> int:
    from workflow_core.retrieval.config import load_config
    from workflow_core.retrieval.local import LocalKnowledgeRetriever

    retriever = LocalKnowledgeRetriever(load_config(args.config, kb_dir=args.kb_dir))
    hits = retriever.search(
        args.query, top_k=args.top_k, score_threshold=args.score_threshold, dataset_ids=[args.name]
    )
    if args.json:
        print(json.dumps([h.as_dify() for h in hits], ensure_ascii=False))
        return 0
    for h in hits:
        snippet = " ".join(h.content.split())[:160]
        print(f"{h.position}. [{h.score:.3f}] {h.document_name}: {snippet}")
    return 0


_ACTIONS = {"add": _do_add, "list": _do_list, "search": _do_search}
