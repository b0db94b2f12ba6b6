"""OpenAI-compatible embeddings endpoint (OpenAI, Ollama, vLLM, ...) through the official client."""

from __future__ import annotations

import time

from repo_scoping_pipelines.operations import log as ops_log
from repo_scoping_pipelines.safety.egress import EgressError, check_url, egress_http_client, host_allowed
from repo_scoping_pipelines.safety.redaction import redact

from ..config import Settings
from . import EmbeddingError


class OpenAIEmbedder:
    provider = "openai"

    def __init__(self, settings: Settings) -> None:
        from openai import OpenAI

        if settings.llm_base_url:  # the default api.openai.com must be allowed like any other host
            check_url(settings.llm_base_url, settings, "REPO_SCOPING_LLM_BASE_URL")
        elif not host_allowed("api.openai.com", settings):
            raise EgressError("host 'api.openai.com' is not in REPO_SCOPING_ALLOWED_HOSTS")
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "unused"
        self._secret = key
        # The SDK's own retries (429, 5xx, timeouts, lost connections); every request and redirect hop
        # is checked against REPO_SCOPING_ALLOWED_HOSTS before it connects.
        http = egress_http_client(settings, "REPO_SCOPING_LLM_BASE_URL", timeout=settings.llm_timeout_s)
        self._client = OpenAI(api_key=key, base_url=settings.llm_base_url, timeout=settings.llm_timeout_s,
                              max_retries=settings.llm_retries, http_client=http)
        self.model = settings.embedding_model or "text-embedding-3-small"
        self.dim = settings.embedding_dim

    def embed(self, texts: list[str]) -> list[list[float]]:
        started = time.perf_counter()
        try:
            response = self._client.embeddings.create(model=self.model, input=texts, dimensions=self.dim)
        except Exception as exc:  # the client raises many types; all end the same way for us
            raise EmbeddingError(redact(f"embedding request failed: {exc}", [self._secret])) from None
        usage = getattr(response, "usage", None)
        ops_log.llm_usage(provider="openai", model=self.model, purpose="embedding", inputs=len(texts),
                          prompt_tokens=getattr(usage, "prompt_tokens", None),
                          duration_ms=round((time.perf_counter() - started) * 1000, 1))
        vectors = [item.embedding for item in sorted(response.data, key=lambda d: d.index)]
        if len(vectors) != len(texts) or any(len(v) != self.dim for v in vectors):
            raise EmbeddingError(f"embedding answer has the wrong shape (expected {len(texts)} x {self.dim})")
        return vectors
