"""User story: register a real git repository, refresh it through the Dagster job, search its code."""

from __future__ import annotations

import dagster as dg
import pytest
import sqlalchemy as sa
from samples import SAMPLE_FILES

from repo_scoping_pipelines.collectors.registration import register_repository
from repo_scoping_pipelines.operations.refresh import refresh_in_process
from repo_scoping_pipelines.search.query import search_code
from repo_scoping_pipelines.storage import catalog
from repo_scoping_pipelines.storage.tables import chunk_vectors, content_chunks, files


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst


def _refresh(instance, name):
    outcome = refresh_in_process(instance, name)
    assert outcome.success, outcome.error
    return outcome


def _rows(services, table, repository_id):
    with services.engine.connect() as conn:
        return conn.execute(sa.select(table).where(table.c.repository_id == repository_id)).mappings().all()


def test_register_refresh_search(services, make_repo, instance):
    repo = make_repo("payments", SAMPLE_FILES)
    registered = register_repository(services, "payments", str(repo.path))
    outcome = _refresh(instance, "payments")

    assert {"repository_snapshot", "content_chunks", "chunk_embeddings"} <= set(outcome.assets)
    assert outcome.assets["repository_snapshot"]["commit"] == repo.head()
    assert outcome.assets["repository_snapshot"]["dagster/row_count"] == len(SAMPLE_FILES)

    inventory = {r["path"]: r for r in _rows(services, files, registered.id)}
    assert inventory["logo.png"]["is_binary"] and inventory["logo.png"]["skip_reason"] == "binary"
    assert inventory["node_modules/left-pad/index.js"]["is_vendored"]
    assert inventory["README.md"]["is_documentation"]
    assert inventory["payments/invoices.py"]["language"] == "Python"
    assert inventory["payments/invoices.py"]["lines"] == 20
    assert inventory["cmd/main.go"]["content_hash"] == repo.git("rev-parse", "HEAD:cmd/main.go").strip()
    languages = catalog.language_lines(services.engine, registered.id)
    assert languages == {"Python": 21, "Go": 11, "JavaScript": 8}  # vendored and docs excluded

    chunks = _rows(services, content_chunks, registered.id)
    by_symbol = {c["symbol"]: c for c in chunks}
    assert {"compute_invoice_total", "InvoiceRepository.save_invoice", "renderDashboard", "parseRetryPolicy"} \
        <= set(by_symbol)
    assert not any(c["path"].startswith(("node_modules/", "logo.png")) for c in chunks)
    total = by_symbol["compute_invoice_total"]
    assert (total["start_line"], total["end_line"], total["kind"]) == (5, 7, "function")

    # Every chunk has exactly one vector in Milvus.
    assert len(_rows(services, chunk_vectors, registered.id)) == len(chunks)
    assert services.vectors.count(services.collection, "payments") == len(chunks)

    for mode in ("hybrid", "keyword", "vector"):
        results = search_code(services, "compute invoice total with tax", repository="payments", mode=mode)
        assert results, mode
        top = results[0]
        assert (top["path"], top["symbol"], top["start_line"], top["end_line"]) == \
            ("payments/invoices.py", "compute_invoice_total", 5, 7), (mode, results[:3])
        assert set(top) >= {"repository", "path", "start_line", "end_line", "kind", "symbol", "score",
                            "chunk_id", "snippet"}
        assert (top["file_class"], top["language"]) == ("code", "Python")
        assert top["snippet"].startswith("def compute_invoice_total(lines):")


def test_incremental_refresh_touches_only_changed_files(services, make_repo, instance):
    repo = make_repo("inc", SAMPLE_FILES)
    registered = register_repository(services, "inc", str(repo.path))
    first = _refresh(instance, "inc")
    total_chunks = first.assets["content_chunks"]["dagster/row_count"]
    assert first.assets["chunk_embeddings"]["embedded"] == total_chunks

    again = _refresh(instance, "inc")
    assert again.assets["repository_snapshot"]["files_unchanged"] == len(SAMPLE_FILES)
    # Same commit, same code: the content assets do no work, say why, and keep their row counts.
    # people too: the identities seen (in any repository) and the decisions are the same.
    for asset in ("content_chunks", "chunk_embeddings", "observed_facts", "dependency_graph", "author_prs_window",
                  "people"):
        meta = again.assets[asset]
        assert meta["skipped"] is True and meta["reason"].startswith("unchanged since run"), (asset, meta.get("rerun_because"), meta)
    assert again.assets["content_chunks"]["dagster/row_count"] == total_chunks
    assert services.vectors.count(services.collection, "inc") == total_chunks

    # Touch one file (adds a function) and remove another.
    repo.commit({"cmd/main.go": SAMPLE_FILES["cmd/main.go"] + "\nfunc shutdownGracefully() {}\n"},
                "touch go", remove=["web/server.js"])
    changed = _refresh(instance, "inc")
    assert changed.assets["people"]["skipped"] is False  # one more commit: the registry is rebuilt
    snap = changed.assets["repository_snapshot"]
    assert (snap["files_changed"], snap["files_removed"], snap["files_added"]) == (1, 1, 0)
    assert changed.assets["content_chunks"]["files_chunked"] == 1
    go_chunks = [c for c in _rows(services, content_chunks, registered.id) if c["path"] == "cmd/main.go"]
    assert changed.assets["chunk_embeddings"]["embedded"] == len(go_chunks)
    old_go_and_js = first.assets["content_chunks"]["dagster/row_count"] - (
        len(_rows(services, content_chunks, registered.id)) - len(go_chunks))
    assert changed.assets["chunk_embeddings"]["deleted"] == old_go_and_js

    remaining = _rows(services, content_chunks, registered.id)
    assert not any(c["path"] == "web/server.js" for c in remaining)
    assert services.vectors.count(services.collection, "inc") == len(remaining)
    hits = search_code(services, "render dashboard", repository="inc", mode="keyword")
    assert all(h["path"] != "web/server.js" for h in hits)
    hits = search_code(services, "shutdown gracefully", repository="inc", mode="keyword")
    assert hits[0]["symbol"] == "shutdownGracefully"


def test_search_filters_by_repository(services, make_repo, instance):
    a = make_repo("alpha", {"a.py": "def alpha_handler():\n    return 'parse the config'\n"})
    b = make_repo("beta", {"b.py": "def beta_handler():\n    return 'parse the config'\n"})
    register_repository(services, "alpha", str(a.path))
    register_repository(services, "beta", str(b.path))
    _refresh(instance, "alpha")
    _refresh(instance, "beta")
    both = search_code(services, "parse config", mode="keyword")
    assert {h["repository"] for h in both} == {"alpha", "beta"}
    only_b = search_code(services, "parse config", repository="beta", mode="hybrid")
    assert only_b and {h["repository"] for h in only_b} == {"beta"}


def test_failed_clone_fails_with_git_error_and_redacts_secrets(services, instance):
    register_repository(services, "gone", "http://bob:s3cr3t-token@localhost:9/gone.git")
    outcome = refresh_in_process(instance, "gone")
    assert not outcome.success
    assert "git ls-remote failed" in outcome.error
    assert "s3cr3t-token" not in outcome.error
    assert services.vectors.count(services.collection, "gone") == 0
