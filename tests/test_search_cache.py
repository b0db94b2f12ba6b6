"""The API's search cache: repeated searches skip Milvus, and any change to the index expires them."""

from __future__ import annotations

import contextlib

from samples import SAMPLE_FILES

from repo_scoping_pipelines.collectors.pipeline import take_snapshot
from repo_scoping_pipelines.collectors.registration import register_repository
from repo_scoping_pipelines.operations import telemetry
from repo_scoping_pipelines.search.pipeline import chunk_repository, embed_repository
from repo_scoping_pipelines.search.query import search
from repo_scoping_pipelines.services import Services, close_all, open_services
from repo_scoping_pipelines.storage.chunks import index_generation
from repo_scoping_pipelines.storage.db import make_engine

QUERY = "quarterly rebate ledger"
REBATES = {"payments/rebates.py": (
    "def quarterly_rebate_ledger(customers):\n"
    '    """Build the quarterly rebate ledger of every customer."""\n'
    "    return {c.id: c.rebate for c in customers}\n")}


def _index(services: Services, name: str) -> None:
    take_snapshot(services, name)
    chunk_repository(services, name)
    embed_repository(services, name)


def _cache_count(outcome: str) -> float:
    return telemetry.REGISTRY.get_sample_value("repo_scoping_search_cache_total", {"outcome": outcome}) or 0.0


def _paths(services: Services, q: str = QUERY) -> list[str]:
    outcome = search(services, q, repository="payments", limit=5)
    assert outcome.fallback is None
    return [r["path"] for r in outcome.results]


def test_repeated_search_is_answered_without_milvus(settings, make_repo):
    services = open_services(settings)
    register_repository(services, "payments", str(make_repo("payments", SAMPLE_FILES).path))
    _index(services, "payments")
    misses, hits = _cache_count("miss"), _cache_count("hit")

    first = search(services, "compute invoice total with tax")
    assert first.results[0]["symbol"] == "compute_invoice_total"
    assert (_cache_count("miss"), _cache_count("hit")) == (misses + 1, hits)

    # Milvus goes away under the running process: the cached question is still answered from
    # what Milvus said, with snippets from Postgres; a new question falls back to Postgres.
    services.settings = settings.model_copy(update={"milvus_uri": "http://127.0.0.1:9"})
    services.reset_vectors()
    again = search(services, "compute invoice total with tax")
    assert again.fallback is None and again.results == first.results
    assert _cache_count("hit") == hits + 1
    assert search(services, "find overdue invoices").fallback == "postgres_keyword"


@contextlib.contextmanager
def _api_and_worker(settings, repo, refresh_s: float):
    """An API process's Services that re-reads the generation every refresh_s seconds, and a second
    Services standing for a Dagster run worker (its own engine and cache) that indexes the repository."""
    api = open_services(settings.model_copy(update={"search_cache_refresh_s": refresh_s}))
    worker = Services(settings=settings, engine=make_engine(settings))
    try:
        register_repository(worker, "payments", str(repo.path))
        _index(worker, "payments")
        yield api, worker
    finally:
        worker.close()


def test_an_index_change_in_another_process_expires_cached_searches(settings, make_repo):
    repo = make_repo("payments", SAMPLE_FILES)
    with _api_and_worker(settings, repo, refresh_s=0.0) as (api, worker):
        before = index_generation(api.reader, worker.collection)
        assert before and "payments/rebates.py" not in _paths(api)

        repo.commit(REBATES, "add rebates")
        _index(worker, "payments")
        assert index_generation(api.reader, worker.collection) != before
        assert _paths(api)[0] == "payments/rebates.py"


def test_cached_searches_last_until_the_generation_is_read_again(settings, make_repo):
    repo = make_repo("payments", SAMPLE_FILES)
    with _api_and_worker(settings, repo, refresh_s=3600.0) as (api, worker):
        stale = _paths(api)
        repo.commit(REBATES, "add rebates")
        _index(worker, "payments")
        # Within the refresh interval the API process still answers from its cache...
        assert _paths(api) == stale
        # ...and a change made by the process itself expires its own cache at once.
        repo.commit({"payments/credits.py": "def quarterly_rebate_ledger_credits():\n    return 0\n"}, "credits")
        _index(api, "payments")
        assert {"payments/rebates.py", "payments/credits.py"} <= set(_paths(api))


def test_cache_off_asks_milvus_every_time(settings, make_repo):
    services = open_services(settings.model_copy(update={"search_cache_entries": 0}))
    register_repository(services, "payments", str(make_repo("payments", SAMPLE_FILES).path))
    _index(services, "payments")
    hits = _cache_count("hit")
    for _ in range(3):
        assert search(services, "compute invoice total with tax").results[0]["symbol"] == "compute_invoice_total"
    assert _cache_count("hit") == hits
    close_all()
