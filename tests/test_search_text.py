"""Tests for repo_scoping_pipelines.search.text (BM25 normalisation)."""

from __future__ import annotations

import pytest

from repo_scoping_pipelines.search.text import (
    MAX_INDEX_CHARS,
    index_text,
    normalize_text,
    query_text,
    split_identifier,
)


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("parseHTTPResponse_v2", ["parse", "http", "response", "v2"]),
        ("XMLHttpRequest", ["xml", "http", "request"]),
        ("load_config", ["load", "config"]),
        ("SOME_CONSTANT", ["some", "constant"]),
        ("user-service", ["user", "service"]),
        ("HTTP2Server", ["http2", "server"]),
        ("utf8Decode", ["utf8", "decode"]),
        ("IOError", ["io", "error"]),
        ("__init__", ["init"]),
        ("x86_64", ["x86", "64"]),
        ("getX", ["get", "x"]),
        ("plain", ["plain"]),
        ("", []),
    ],
)
def test_split_identifier(token: str, expected: list[str]) -> None:
    assert split_identifier(token) == expected


def test_normalize_keeps_whole_identifier_and_parts() -> None:
    # Whole identifier (stemmed) first, then its parts.
    assert normalize_text("getUser") == ["getus", "get", "user"]
    assert normalize_text("load_config") == ["loadconfig", "load", "config"]
    # An identifier that is not split is emitted once.
    assert normalize_text("user") == ["user"]


def test_normalize_stems_drops_stop_words_and_short_tokens() -> None:
    assert normalize_text("The parser is running: getUser(x, 2) returns users") == [
        "parser",
        "run",
        "getus",
        "get",
        "user",
        "return",
        "user",
    ]
    assert normalize_text("a an the of to x 1 9") == []
    assert normalize_text("") == []
    assert normalize_text("!!! --- ;;;") == []


def test_normalize_non_ascii_does_not_crash() -> None:
    assert normalize_text("größe 数据库 naïve") == ["größe", "数据库", "naïv"]


def test_query_matches_indexed_identifiers() -> None:
    indexed = set(index_text("def getUserById(user_id):", symbol="getUserById", path="a.py").split())
    for query in ["get user by id", "getUserById", "get_user_by_id", "users", "getuserbyid"]:
        tokens = query_text(query).split()
        assert tokens, query
        assert set(tokens) <= indexed, query


def test_query_text_is_space_joined_normalize() -> None:
    query = "How is the invoice total computed?"
    assert query_text(query) == " ".join(normalize_text(query))
    assert query_text(query) == "invoic total comput"


def test_index_text_orders_path_symbol_twice_then_text() -> None:
    got = index_text(
        "def compute_invoice_total(lines): ...",
        symbol="InvoiceRepository.save_invoice (part 2)",
        path="payments/invoices.py",
    )
    path_tokens = "payment invoic py"
    symbol_tokens = "invoicerepositori invoic repositori saveinvoic save invoic"
    text_tokens = "def computeinvoicetot comput invoic total line"
    assert got == f"{path_tokens} {symbol_tokens} {symbol_tokens} {text_tokens}"
    assert "part" not in got.split()


def test_index_text_without_symbol_and_path_separators() -> None:
    assert index_text("", symbol=None, path="src/user-service/api_v2.py") == "src user servic apiv2 api v2 py"
    assert index_text("Install > Linux", symbol="Install > Linux", path="README.md") == (
        "readm md instal linux instal linux instal linux"
    )


@pytest.mark.parametrize("word", ["abcdefgh", "größe", "数据库数据库"])
def test_index_text_is_capped_for_milvus_varchar(word: str) -> None:
    text = (word + " ") * 30_000
    got = index_text(text, symbol="SymbolName", path="big/file.txt")
    assert len(got.encode("utf-8")) <= MAX_INDEX_CHARS <= 65_535
    assert got.startswith("big file txt symbolnam symbol name symbolnam symbol name ")
    # Cut on a token boundary, and the cap leaves little room unused.
    assert got.split()[-1] == normalize_text(word)[0]
    assert len(got.encode("utf-8")) > MAX_INDEX_CHARS - 50
