"""Deterministic feature-hashing embeddings: no model, no network, stable across processes."""

from __future__ import annotations

import hashlib
import itertools
import math

from ..search_text import normalize_text


def _bucket(feature: str, dim: int) -> tuple[int, float]:
    digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
    value = int.from_bytes(digest, "little")
    return value % dim, (1.0 if (value >> 63) & 1 else -1.0)


class HashingEmbedder:
    """Hashes stemmed words, word bigrams and character trigrams into a signed, L2-normalised vector.

    Character trigrams give partial credit to related word forms and identifiers that BM25's
    exact-token match misses, which is what makes the hybrid better than BM25 alone.
    """

    provider = "hashing"

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim
        self.model = "v1"

    def _features(self, text: str) -> dict[str, float]:
        tokens = normalize_text(text)
        weights: dict[str, float] = {}
        for token in tokens:
            weights["w:" + token] = weights.get("w:" + token, 0.0) + 1.0
            padded = f"#{token}#"
            for i in range(len(padded) - 2):
                key = "c:" + padded[i:i + 3]
                weights[key] = weights.get(key, 0.0) + 0.25
        for a, b in itertools.pairwise(tokens):
            weights[f"b:{a} {b}"] = weights.get(f"b:{a} {b}", 0.0) + 0.5
        return weights

    def embed_one(self, text: str) -> list[float]:
        vector = [0.0] * self.dim
        for feature, weight in self._features(text).items():
            index, sign = _bucket(feature, self.dim)
            vector[index] += sign * (1.0 + math.log(weight)) if weight >= 1 else sign * weight
        norm = math.sqrt(sum(v * v for v in vector))
        if norm == 0:
            vector[0] = 1.0  # Milvus rejects all-zero vectors under COSINE
            return vector
        return [v / norm for v in vector]

    def embed(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_one(t) for t in texts]
