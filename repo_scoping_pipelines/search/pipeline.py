"""content_chunks and chunk_embeddings work: chunk changed files, embed new chunks, drop stale ones."""

from __future__ import annotations

import hashlib
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from repo_scoping_pipelines.chunking import chunk_file
from repo_scoping_pipelines.collectors.inventory import decode_text
from repo_scoping_pipelines.safety.injection import scan_chunks
from repo_scoping_pipelines.search.classify import chunk_class, file_class
from repo_scoping_pipelines.search.text import index_text
from repo_scoping_pipelines.services import Services
from repo_scoping_pipelines.storage import catalog
from repo_scoping_pipelines.storage import chunks as chunk_store

FILE_BATCH = 200
EMBED_BATCH = 256


def chunk_id(repository: str, path: str, file_hash: str, kind: str, symbol: str | None, start: int,
             end: int) -> str:
    """Stable id from (repository, path, content hash, span): reruns upsert, never duplicate."""
    key = "\0".join([repository, path, file_hash, kind, symbol or "", str(start), str(end)])
    return hashlib.sha256(key.encode("utf-8", errors="surrogateescape")).hexdigest()[:32]


@dataclass
class ChunkResult:
    files_chunked: int = 0
    chunks_added: int = 0
    chunks_removed: int = 0
    warnings: list[str] = field(default_factory=list)
    by_kind: dict[str, int] = field(default_factory=dict)
    guardrail_events: int = 0
    seconds: float = 0.0


def chunk_repository(services: Services, name: str) -> ChunkResult:
    started = time.perf_counter()
    repo = catalog.get_repository(services.engine, name)
    checkout = services.settings.checkouts / name
    result = ChunkResult()
    result.chunks_removed = chunk_store.delete_orphan_chunks(services.engine, repo.id)
    # Chunks stored before search classes existed (0012_search) get theirs, without re-chunking.
    unclassified = chunk_store.chunks_without_class(services.engine, repo.id)
    chunk_store.set_file_classes(services.engine, repo.id, {
        f["path"]: file_class(f["path"], f["language"], is_documentation=f["is_documentation"])
        for f in unclassified})
    pending = chunk_store.files_to_chunk(services.engine, repo.id)
    batch: list[tuple[dict, list[dict]]] = []
    for file in pending:
        rows: list[dict] = []
        try:
            text = decode_text((checkout / file["path"]).read_bytes())
        except OSError as exc:
            result.warnings.append(f"{file['path']}: unreadable ({exc.strerror})")
            text = None
        if text is not None:
            cls = file_class(file["path"], file["language"], is_documentation=file["is_documentation"])
            for c in chunk_file(file["path"], text, file["language"]):
                rows.append({
                    "chunk_id": chunk_id(name, file["path"], file["content_hash"], c.kind, c.symbol, c.start_line,
                                         c.end_line),
                    "path": file["path"], "file_hash": file["content_hash"], "source": "file", "kind": c.kind,
                    "symbol": c.symbol, "language": file["language"], "start_line": c.start_line,
                    "end_line": c.end_line, "text": c.text,
                    "index_text": index_text(c.text, symbol=c.symbol, path=file["path"]), "file_class": cls,
                })
        if rows:  # untrusted text: counted under the prompt_injection guardrail, indexed as data
            result.guardrail_events += scan_chunks(services.engine, repo.id, name, rows)
        batch.append((file, rows))
        if len(batch) >= FILE_BATCH:
            result.chunks_added += chunk_store.store_file_chunks(services.engine, repo.id, batch)
            batch = []
        result.files_chunked += 1
    if batch:
        result.chunks_added += chunk_store.store_file_chunks(services.engine, repo.id, batch)
    result.by_kind = chunk_store.chunk_counts(services.engine, repo.id)
    result.seconds = time.perf_counter() - started
    return result


@dataclass
class EmbedResult:
    collection: str
    embedded: int = 0
    deleted: int = 0
    total: int = 0
    seconds: float = 0.0


def embed_repository(services: Services, name: str) -> EmbedResult:
    """Bring the model's Milvus collection in line with the stored chunks of one repository."""
    started = time.perf_counter()
    repo = catalog.get_repository(services.engine, name)
    embedder, vectors, collection = services.embedder, services.vectors, services.collection
    vectors.ensure_collection(collection, embedder.dim)
    result = EmbedResult(collection=collection)
    stale = chunk_store.vectors_without_chunks(services.engine, repo.id, collection)
    if stale:
        # Milvus first, then the bookkeeping: a crash in between only repeats an idempotent delete.
        vectors.delete(collection, stale)
        chunk_store.unmark_vectors(services.engine, collection, stale)
        result.deleted = len(stale)
    pending_ids = chunk_store.chunk_ids_without_vectors(services.engine, repo.id, collection)

    def store(rows: list[dict]) -> None:
        # Milvus first, then the bookkeeping: a crash in between only repeats an idempotent upsert.
        vectors.upsert(collection, rows)
        chunk_store.mark_vectors(services.engine, repo.id, collection, [r["chunk_id"] for r in rows])

    # Embedding (CPU here) overlaps with the previous batch's Milvus upsert and Postgres write (mostly
    # waiting on the Milvus server, another process): one writer thread, at most one batch in flight.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed-store") as writer:
        in_flight: Future | None = None
        for start in range(0, len(pending_ids), EMBED_BATCH):
            pending = chunk_store.chunks_for_embedding(services.engine, pending_ids[start:start + EMBED_BATCH])
            if not pending:
                continue
            dense = embedder.embed([_embedding_input(c) for c in pending])
            rows = [{**c, "repository": name, "dense": d, "file_class": chunk_class(c)}
                    for c, d in zip(pending, dense, strict=True)]
            if in_flight is not None:
                in_flight.result()  # re-raises a failed write before more work is queued
            in_flight = writer.submit(store, rows)
            result.embedded += len(pending)
        if in_flight is not None:
            in_flight.result()
    if result.embedded or result.deleted:
        vectors.flush(collection)
        # After the flush, so a search cached under the old token never outlives the change.
        services.index_changed(collection)
    result.total = chunk_store.vector_count(services.engine, repo.id, collection)
    result.seconds = time.perf_counter() - started
    return result


def _embedding_input(chunk: dict) -> str:
    header = f"{chunk['path']} {chunk.get('symbol') or ''}".strip()
    return f"{header}\n{chunk['text']}"[:8000]
