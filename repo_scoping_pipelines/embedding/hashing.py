"""Deterministic feature-hashing embeddings: no model, no network, stable across processes."""

from __future__ import annotations

import hashlib
import itertools
from collections import Counter
from functools import lru_cache

import numpy as np

from repo_scoping_pipelines.search.text import normalize_text


def _bucket(feature: str, dim: int) -> tuple[int, float]:
    digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
    value = int.from_bytes(digest, "little")
    return value % dim, (1.0 if (value >> 63) & 1 else -1.0)


@lru_cache(maxsize=200_000)
def _trigrams(token: str) -> tuple[str, ...]:
    padded = f"#{token}#"
    return tuple("c:" + padded[i:i + 3] for i in range(len(padded) - 2))


class _Codes(dict):
    """feature -> signed bucket code (sign * (index + 1)), hashed once per distinct feature.

    Code repeats identifiers and trigrams endlessly, so after a few files nearly every lookup is a
    hit. Bounded: cleared when it grows past ``limit`` entries.
    """

    def __init__(self, dim: int, feature: callable, limit: int = 1_000_000) -> None:
        super().__init__()
        self.dim, self.feature, self.limit = dim, feature, limit

    def __missing__(self, key) -> int:
        if len(self) >= self.limit:
            self.clear()
        index, sign = _bucket(self.feature(key), self.dim)
        code = self[key] = int(sign) * (index + 1)
        return code


class HashingEmbedder:
    """Hashes stemmed words, word bigrams and character trigrams into a signed, L2-normalised vector.

    Character trigrams give partial credit to related word forms and identifiers that BM25's
    exact-token match misses, which is what makes the hybrid better than BM25 alone.

    Features and weights: each word occurrence adds 1.0 to ``w:<word>``, each of its character
    trigrams 0.25 to ``c:<tri>``, each adjacent word pair 0.5 to ``b:<a> <b>``; a feature adds
    ``sign * (1 + ln w)`` (``sign * w`` below 1) to its hashed bucket.
    """

    provider = "hashing"

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim
        self.model = "v1"
        self._word_codes = _Codes(dim, lambda token: "w:" + token)
        self._trigram_codes = _Codes(dim, lambda key: key)
        self._bigram_codes = _Codes(dim, lambda pair: f"b:{pair[0]} {pair[1]}")

    def _features(self, text: str) -> dict[str, float]:
        """Feature -> weight (the readable form of what ``embed`` hashes; used by tests and debugging)."""
        tokens = normalize_text(text)
        weights: dict[str, float] = {f"w:{t}": float(n) for t, n in Counter(tokens).items()}
        for key, n in Counter(itertools.chain.from_iterable(map(_trigrams, tokens))).items():
            weights[key] = 0.25 * n
        for (a, b), n in Counter(itertools.pairwise(tokens)).items():
            weights[f"b:{a} {b}"] = 0.5 * n
        return weights

    def _embed_array(self, text: str) -> np.ndarray:
        tokens = normalize_text(text)
        words = Counter(tokens)
        trigrams = Counter(itertools.chain.from_iterable(map(_trigrams, tokens)))
        bigrams = Counter(itertools.pairwise(tokens))
        codes = np.fromiter(itertools.chain(map(self._word_codes.__getitem__, words),
                                            map(self._trigram_codes.__getitem__, trigrams),
                                            map(self._bigram_codes.__getitem__, bigrams)),
                            dtype=np.int64, count=len(words) + len(trigrams) + len(bigrams))
        weights = np.concatenate([np.fromiter(words.values(), dtype=np.float64, count=len(words)),
                                  np.fromiter(trigrams.values(), dtype=np.float64, count=len(trigrams)) * 0.25,
                                  np.fromiter(bigrams.values(), dtype=np.float64, count=len(bigrams)) * 0.5])
        scaled = np.where(weights >= 1, 1.0 + np.log(np.maximum(weights, 1.0)), weights)
        vector = np.bincount(np.abs(codes) - 1, weights=np.sign(codes) * scaled, minlength=self.dim)
        norm = float(np.sqrt(vector @ vector))
        if norm == 0:
            vector = np.zeros(self.dim)
            vector[0] = 1.0  # Milvus rejects all-zero vectors under COSINE
            return vector
        return vector / norm

    def embed_one(self, text: str) -> list[float]:
        return self._embed_array(text).tolist()

    def embed(self, texts: list[str]) -> list[list[float]]:
        return [self._embed_array(t).tolist() for t in texts]
