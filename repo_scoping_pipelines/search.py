"""Code search over Milvus: hybrid (RRF of dense + BM25), keyword (BM25) or vector."""

from __future__ import annotations

from typing import Literal

from .search_text import query_text
from .services import Services
from .storage import chunks as chunk_store

Mode = Literal["hybrid", "keyword", "vector"]
SNIPPET_LINES = 12


def search_code(services: Services, q: str, *, repository: str | None = None, limit: int = 10,
                mode: Mode = "hybrid") -> list[dict]:
    """Results in the API's shape: repository, path, 1-based inclusive lines, kind, symbol, score, snippet."""
    keyword = query_text(q)
    dense = None if mode == "keyword" else services.embedder.embed([q])[0]
    hits = services.vectors.search(services.collection, keyword_text=keyword, dense=dense, repository=repository,
                                   limit=limit, mode=mode)
    stored = chunk_store.chunks_by_ids(services.engine, [h["chunk_id"] for h in hits])
    results = []
    for hit in hits:
        chunk = stored.get(hit["chunk_id"])
        if chunk is None:  # deleted since it was indexed; the next embedding run removes it
            continue
        results.append({
            "repository": chunk["repository"], "path": chunk["path"], "start_line": chunk["start_line"],
            "end_line": chunk["end_line"], "kind": chunk["kind"], "symbol": chunk["symbol"],
            "score": round(hit["score"], 6), "chunk_id": chunk["chunk_id"],
            "snippet": "\n".join(chunk["text"].splitlines()[:SNIPPET_LINES]),
        })
    return results
