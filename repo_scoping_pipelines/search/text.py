"""Text normalisation for BM25, shared by indexing and querying.

Milvus Lite ignores analyzer filters (no stemming, no stop words), so both the
indexed text and the query go through ``normalize_text`` here and reach Milvus
as plain space-separated tokens that its standard tokenizer leaves intact.
"""

from __future__ import annotations

import re
from functools import lru_cache

import snowballstemmer

__all__ = ["MAX_INDEX_CHARS", "base_symbol", "index_text", "normalize_text", "query_text", "split_identifier"]

# Milvus VARCHAR max_length is 65,535; stay well below it. The cap is applied
# to UTF-8 bytes, which also bounds the character count.
MAX_INDEX_CHARS = 60_000

# Lucene's classic English stop set plus common pronouns/auxiliaries. Words
# that mean something in code ("all", "any", "none", "up", "out") are kept.
STOP_WORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with", "i", "me", "my", "we", "our", "ours", "you",
    "your", "yours", "he", "him", "his", "she", "her", "hers", "its", "itself", "them", "what",
    "which", "who", "whom", "am", "were", "been", "being", "have", "has", "had", "having", "do",
    "does", "did", "doing", "would", "should", "could", "from", "than", "so", "because", "until",
    "while", "about", "how", "why",
})

# Runs of word characters: identifiers, words and numbers ("_" kept so that
# snake_case stays one identifier until split_identifier takes it apart).
_WORD_RE = re.compile(r"\w+")
_PIECE_RE = re.compile(r"[^\W_]+")
# Camel-case pieces: "HTTPResponse" -> HTTP|Response, "HTTP2Server" -> HTTP2|Server,
# "parseV2" -> parse|V2; digits stay on the word they follow ("v2", "utf8").
_CAMEL_RE = re.compile(r"[A-Z]+\d*(?=[A-Z][a-z])|[A-Z]?[a-z]+\d*|[A-Z]+\d*|\d+")
_PART_SUFFIX_RE = re.compile(r" \(part \d+\)$")


def base_symbol(symbol: str) -> str:
    """The symbol without the " (part n)" the chunker adds to the pieces of a long definition."""
    return _PART_SUFFIX_RE.sub("", symbol)

_STEMMER = snowballstemmer.stemmer("english")
_LATIN_RE = re.compile(r"[a-z]")


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    # The Snowball stemmer is pure Python; code repeats identifiers a lot, so
    # caching makes stemming nearly free.
    if not word.isascii() and not _LATIN_RE.search(word):
        # The English stemmer only rewrites a-z suffixes: words without them (CJK, Cyrillic, ...,
        # common in translated docs) come back unchanged, yet cost ~75 us each to find that out.
        return word
    return _STEMMER.stemWord(word)


def split_identifier(token: str) -> list[str]:
    """Split an identifier into lowercase words.

    Handles snake_case, kebab-case, camelCase, PascalCase, acronyms and digits:
    ``"parseHTTPResponse_v2" -> ["parse", "http", "response", "v2"]``.
    """
    words: list[str] = []
    for piece in _PIECE_RE.findall(token):
        if piece.isascii():
            words.extend(w.lower() for w in _CAMEL_RE.findall(piece))
        else:
            # No case rules for non-ASCII scripts here; keep the piece whole.
            words.append(piece.lower())
    return words


def _keep(word: str) -> bool:
    return len(word) > 1 and word not in STOP_WORDS


def normalize_text(text: str) -> list[str]:
    """Tokenise, split identifiers, lowercase, drop stop words and 1-char tokens, stem.

    A split identifier also contributes its whole lowercased form (underscores
    removed), so "getUser" yields tokens for "getuser", "get" and "user".
    """
    out: list[str] = []
    for word in _WORD_RE.findall(text):
        out.extend(_word_tokens(word))
    return out


@lru_cache(maxsize=300_000)
def _word_tokens(word: str) -> tuple[str, ...]:
    # Code repeats the same identifiers endlessly; normalising each distinct word once
    # makes indexing and hashing embeddings several times faster.
    out: list[str] = []
    parts = split_identifier(word)
    if len(parts) > 1:
        whole = "".join(parts)
        if _keep(whole):
            out.append(_stem(whole))
    for part in parts:
        if _keep(part):
            stem = _stem(part)
            if len(stem) > 1:
                out.append(stem)
    return tuple(out)


def _capped_join(tokens: list[str], limit: int = MAX_INDEX_CHARS) -> str:
    """Join tokens with spaces, dropping whole tokens past ``limit`` UTF-8 bytes."""
    joined = " ".join(tokens)
    if len(joined) <= limit and joined.isascii():
        return joined
    kept: list[str] = []
    size = -1  # the first token has no leading space
    for token in tokens:
        size += len(token.encode("utf-8")) + 1
        if size > limit:
            break
        kept.append(token)
    return " ".join(kept)


def index_text(text: str, *, symbol: str | None, path: str) -> str:
    """Build the BM25 document for a chunk: path words, symbol twice (weight), then text.

    Capped at ``MAX_INDEX_CHARS`` so it fits a Milvus VARCHAR; path and symbol
    come first so the cap only ever cuts chunk text.
    """
    tokens = normalize_text(path)
    if symbol:
        symbol_tokens = normalize_text(base_symbol(symbol))
        tokens += symbol_tokens + symbol_tokens
    tokens += normalize_text(text)
    return _capped_join(tokens)


def query_text(query: str) -> str:
    """Normalise a search query exactly like indexed text, space-joined."""
    return " ".join(normalize_text(query))
