"""Embedding providers behind one interface: hashing (default), local (sentence-transformers), openai."""

from __future__ import annotations

import re
from typing import Protocol

from ..config import Settings


class Embedder(Protocol):
    provider: str
    model: str
    dim: int

    def embed(self, texts: list[str]) -> list[list[float]]: ...


class EmbeddingError(RuntimeError):
    """The embedding provider failed or answered something unusable."""


# The collection's field layout: bumped when fields are added (v2: file_class and language, for search
# filters), so an upgraded deployment fills a fresh collection at its next refresh instead of writing
# rows the old schema cannot hold. The old collection is left alone (drop it with the Milvus client).
SCHEMA_VERSION = "v2"


def collection_name(embedder: Embedder) -> str:
    """Milvus collection for a model: the name carries the schema version, provider, model and dimension."""
    slug = re.sub(r"[^A-Za-z0-9]+", "_", f"{embedder.provider}_{embedder.model}").strip("_").lower()
    return f"chunks_{SCHEMA_VERSION}_{slug}_{embedder.dim}"[:250]


def get_embedder(settings: Settings) -> Embedder:
    if settings.embedding_provider == "hashing":
        from .hashing import HashingEmbedder

        return HashingEmbedder(dim=settings.embedding_dim)
    if settings.embedding_provider == "local":
        from .local import LocalEmbedder

        return LocalEmbedder(settings.embedding_model)
    from .openai_provider import OpenAIEmbedder

    return OpenAIEmbedder(settings)
