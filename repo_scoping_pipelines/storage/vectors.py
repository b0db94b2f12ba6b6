"""Milvus: one collection per embedding model, dense vectors + BM25 sparse vectors, hybrid search."""

from __future__ import annotations

import json
import threading

from repo_scoping_pipelines.operations.embedded import ensure_milvus_server

from ..config import Settings

# pymilvus (with numpy and pandas) is imported where a Milvus call is made, not at module import: a
# no-change refresh never talks to Milvus, and its import was ~0.6 s of every CLI process start.

MAX_TEXT = 60000
_FIELDS = ["chunk_id", "repository", "path", "start_line", "end_line", "kind", "symbol", "file_class", "language"]


class VectorStoreError(RuntimeError):
    """Milvus is unreachable or refused an operation."""


def milvus_uri(settings: Settings) -> str:
    """The configured Milvus URI, or the managed embedded Milvus Lite server's."""
    return settings.milvus_uri or ensure_milvus_server(settings)


def _literal(value: str) -> str:
    # A double-quoted Milvus string literal: quotes and backslashes escaped, other characters as they
    # are (Milvus reads UTF-8 but knows no \\u escape: "FastAPI用" would fail the whole search).
    return json.dumps(value, ensure_ascii=False)


def filter_expr(*, repository: str | None = None, kinds: tuple[str, ...] = (), languages: tuple[str, ...] = (),
                path_like: str | None = None) -> str:
    """A Milvus boolean expression for the search filters ("" for none): they run inside Milvus, so a
    filtered search ranks only matching rows instead of post-filtering a long list."""
    parts = []
    if repository:
        parts.append(f"repository == {_literal(repository)}")
    if kinds:
        parts.append(f"file_class in [{', '.join(map(_literal, kinds))}]")
    if languages:
        parts.append(f"language in [{', '.join(map(_literal, languages))}]")
    if path_like:
        parts.append(f"path like {_literal(path_like)}")
    return " and ".join(parts)


class VectorStore:
    def __init__(self, uri: str, token: str | None = None) -> None:
        from pymilvus import MilvusClient

        self.uri = uri
        self._client = MilvusClient(uri=uri, token=token or "")
        self._ready: set[str] = set()
        self._lock = threading.Lock()

    def close(self) -> None:
        self._client.close()

    def ping(self) -> list[str]:
        return self._client.list_collections()

    def ensure_collection(self, name: str, dim: int) -> None:
        with self._lock:
            if name in self._ready:
                return
            if not self._client.has_collection(name):
                from pymilvus import DataType, Function, FunctionType

                schema = self._client.create_schema(auto_id=False, enable_dynamic_field=False)
                schema.add_field("chunk_id", DataType.VARCHAR, max_length=64, is_primary=True)
                # Partition key: searches filtered to one repository touch only its partition.
                schema.add_field("repository", DataType.VARCHAR, max_length=128, is_partition_key=True)
                schema.add_field("path", DataType.VARCHAR, max_length=2048)
                schema.add_field("start_line", DataType.INT64)
                schema.add_field("end_line", DataType.INT64)
                schema.add_field("kind", DataType.VARCHAR, max_length=64)
                schema.add_field("symbol", DataType.VARCHAR, max_length=1024)
                schema.add_field("file_class", DataType.VARCHAR, max_length=32)  # search.classify.KINDS
                schema.add_field("language", DataType.VARCHAR, max_length=64)
                schema.add_field("index_text", DataType.VARCHAR, max_length=65535, enable_analyzer=True)
                schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
                schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
                schema.add_function(Function(name="index_text_bm25", function_type=FunctionType.BM25,
                                             input_field_names=["index_text"], output_field_names=["sparse"]))
                index = self._client.prepare_index_params()
                index.add_index("dense", index_type="AUTOINDEX", metric_type="COSINE")
                index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
                self._client.create_collection(name, schema=schema, index_params=index)
            self._client.load_collection(name)  # collections come back released after a reopen
            self._ready.add(name)

    def upsert(self, name: str, rows: list[dict]) -> None:
        if not rows:
            return
        data = [{
            "chunk_id": r["chunk_id"], "repository": r["repository"], "path": r["path"][:2048],
            "start_line": int(r["start_line"]), "end_line": int(r["end_line"]), "kind": r["kind"],
            "symbol": (r.get("symbol") or "")[:1024], "index_text": (r["index_text"] or " ")[:MAX_TEXT],
            "file_class": (r.get("file_class") or "code")[:32], "language": (r.get("language") or "")[:64],
            "dense": r["dense"],
        } for r in rows]
        self._client.upsert(name, data)

    def delete(self, name: str, chunk_ids: list[str]) -> None:
        for start in range(0, len(chunk_ids), 500):
            self._client.delete(name, ids=chunk_ids[start:start + 500])

    def delete_repository(self, name: str, repository: str) -> None:
        if self._client.has_collection(name):
            self._client.delete(name, filter=f"repository == {_literal(repository)}")

    def drop_collection(self, name: str) -> None:
        """Drop the whole collection (restore rebuilds it from Postgres)."""
        with self._lock:
            if self._client.has_collection(name):
                self._client.drop_collection(name)
            self._ready.discard(name)

    def compact(self, name: str):
        """Merge small segments and purge deleted rows (maintenance)."""
        return self._client.compact(name)

    def flush(self, name: str) -> None:
        # Unflushed rows are searched by brute force in Milvus Lite: flush after each batch.
        self._client.flush(name)

    def count(self, name: str, repository: str | None = None) -> int:
        if not self._client.has_collection(name):
            return 0
        flt = f"repository == {_literal(repository)}" if repository else ""
        res = self._client.query(name, filter=flt, output_fields=["count(*)"])
        return int(res[0]["count(*)"]) if res else 0

    def _loaded(self, name: str, dim: int) -> bool:
        # A collection already loaded by this process needs no has_collection round trip (a third of
        # the Milvus time per query through the milvus-lite server).
        if name not in self._ready and not self._client.has_collection(name):
            return False
        self.ensure_collection(name, dim)
        return True

    def retrieve(self, name: str, *, keyword_text: str | None, dense: list[float] | None, expr: str,
                 limit: int) -> dict[str, list[dict]]:
        """The ranked candidates of each retriever asked for ("sparse": BM25 over the index text, "dense":
        cosine), filtered by expr inside Milvus; each hit has the stored fields and `score`."""
        out: dict[str, list[dict]] = {}
        if not self._loaded(name, len(dense) if dense else 0):
            return out
        if keyword_text is not None and keyword_text.strip():
            hits = self._client.search(name, data=[keyword_text], anns_field="sparse", limit=limit, filter=expr,
                                       output_fields=_FIELDS, search_params={"metric_type": "BM25"})
            out["sparse"] = _entities(hits, absolute=True)
        if dense is not None:
            hits = self._client.search(name, data=[dense], anns_field="dense", limit=limit, filter=expr,
                                       output_fields=_FIELDS, search_params={"metric_type": "COSINE"})
            out["dense"] = _entities(hits)
        return out

    def search(self, name: str, *, keyword_text: str, dense: list[float] | None, repository: str | None,
               limit: int, mode: str) -> list[dict]:
        """Top chunks as dicts with the stored fields and `score` (higher is better)."""
        if not self._loaded(name, len(dense) if dense else 0):
            return []
        flt = f"repository == {_literal(repository)}" if repository else ""
        if mode == "keyword":
            if not keyword_text.strip():
                return []
            hits = self._client.search(name, data=[keyword_text], anns_field="sparse", limit=limit, filter=flt,
                                       output_fields=_FIELDS, search_params={"metric_type": "BM25"})
        elif mode == "vector":
            hits = self._client.search(name, data=[dense], anns_field="dense", limit=limit, filter=flt,
                                       output_fields=_FIELDS, search_params={"metric_type": "COSINE"})
        else:
            from pymilvus import AnnSearchRequest, RRFRanker

            requests = [AnnSearchRequest(data=[dense], anns_field="dense", param={"metric_type": "COSINE"},
                                         limit=limit * 3, expr=flt or None)]
            if keyword_text.strip():
                requests.append(AnnSearchRequest(data=[keyword_text], anns_field="sparse",
                                                 param={"metric_type": "BM25"}, limit=limit * 3, expr=flt or None))
            hits = self._client.hybrid_search(name, requests, ranker=RRFRanker(60), limit=limit,
                                              output_fields=_FIELDS)
        results = []
        for hit in hits[0] if hits else []:
            entity = hit.get("entity", {})
            score = float(hit["distance"])
            if mode == "keyword":
                score = abs(score)  # Milvus Lite returns BM25 negated (best first)
            results.append({**entity, "chunk_id": hit.get("chunk_id", entity.get("chunk_id")), "score": score})
        return results


def _entities(hits, absolute: bool = False) -> list[dict]:
    out = []
    for hit in hits[0] if hits else []:
        entity = hit.get("entity", {})
        score = float(hit["distance"])
        out.append({**entity, "chunk_id": hit.get("chunk_id", entity.get("chunk_id")),
                    "score": abs(score) if absolute else score})  # Lite returns BM25 negated (best first)
    return out
