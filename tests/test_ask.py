"""/ask without a model (extractive mode), conversations in Postgres, the CLI and the demo's last step:
a real repository refreshed through Dagster, real Postgres and Milvus Lite."""

from __future__ import annotations

import re

import pytest
from ask_samples import indexed_repository, sse_events
from click.testing import CliRunner
from fastapi.testclient import TestClient

from repo_scoping_pipelines.api import create_app
from repo_scoping_pipelines.ask.extractive import NO_MODEL
from repo_scoping_pipelines.storage import catalog


@pytest.fixture
def client(settings, services, make_repo):
    repo = indexed_repository(services, make_repo)
    with TestClient(create_app(settings)) as test_client:
        test_client.repo = repo
        yield test_client


def test_extractive_answer_cites_retrieved_passages_and_facts(client, services):
    body = client.post("/ask", json={"question": "How are invoices stored in the billing database?",
                                     "repository": "invoicer"}).json()
    assert body["mode"] == "extractive"
    assert set(body) == {"answer", "citations", "conversation_id", "mode", "usage", "guardrails"}
    assert set(body["guardrails"]) == {"prompt_injection", "ungrounded_claim", "schema_violation", "unsafe_content"}
    assert body["answer"].startswith(NO_MODEL)
    assert body["usage"]["prompt_tokens"] == 0 and body["usage"]["llm_calls"] == 0
    head = catalog.latest_snapshot(services.engine, catalog.get_repository(services.engine, "invoicer").id)
    citations = {c["n"]: c for c in body["citations"]}
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", body["answer"])}
    assert markers and markers == set(citations)  # every item cited, every citation used
    paths = [c["path"] for c in body["citations"]]
    assert "invoicer/billing.py" in paths
    chunk = next(c for c in body["citations"] if c.get("chunk_id"))
    assert chunk["commit"] == head["commit_sha"] and 1 <= chunk["start_line"] <= chunk["end_line"]
    text = client.repo.path.joinpath(chunk["path"]).read_text().splitlines()
    assert len(text) >= chunk["end_line"]
    # A fact about psycopg (the dependency behind "database") is cited with its id and evidence line.
    facts = [c for c in body["citations"] if c["kind"] == "fact"]
    assert facts and all(c.get("ref") and c["start_line"] >= 1 for c in facts)


def test_sse_order_and_conversation_follow_up(client):
    response = client.post("/ask", json={"question": "Where is the billing database connection opened?",
                                         "repository": "invoicer", "stream": True})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    names = [e for e, _ in events]
    assert names[0] == "sources" and names[-1] == "done" and "delta" in names and "error" not in names
    sources, done = events[0][1], events[-1][1]
    assert {s["n"] for s in sources["sources"]} >= {c["n"] for c in done["citations"]}
    assert "".join(d["text"] for e, d in events if e == "delta") == done["answer"]
    conversation = done["conversation_id"]

    follow = client.post("/ask", json={"question": "and who owns it?", "conversation_id": conversation}).json()
    assert follow["conversation_id"] == conversation
    owners = [c for c in follow["citations"] if c["kind"] == "ownership"]
    assert owners and owners[0]["path"] == "invoicer/billing.py"  # "it" is what the first answer cited
    assert "Grace Hopper" in follow["answer"] or "Ada Lovelace" in follow["answer"]

    stored = client.get(f"/conversations/{conversation}").json()
    assert [t["turn"] for t in stored["turns"]] == [1, 2]
    assert stored["repository"] == "invoicer"
    assert stored["turns"][1]["question"] == "and who owns it?"
    assert stored["turns"][0]["citations"] == done["citations"]

    assert client.delete(f"/conversations/{conversation}").json() == {
        "conversation_id": conversation, "deleted": True, "turns": 2}
    missing = client.get(f"/conversations/{conversation}")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("body, status, names", [
    ({"question": ""}, 400, "question"),
    ({"question": "x", "repository": "nope"}, 404, "nope"),
    ({"question": "x", "conversation_id": "unknown1"}, 404, "unknown1"),
    ({"question": "x", "colour": "red"}, 400, "colour"),
    ({"question": 3}, 400, "question"),
])
def test_bad_requests_are_4xx_and_store_nothing(client, body, status, names):
    response = client.post("/ask", json=body)
    assert response.status_code == status
    assert names in response.json()["error"]["message"]
    assert client.delete("/conversations/unknown1").status_code == 404


def test_cli_ask_prints_citations_and_follows_up(services, make_repo, settings):
    from repo_scoping_pipelines.cli import main

    indexed_repository(services, make_repo)
    runner = CliRunner()
    first = runner.invoke(main, ["ask", "How is the billing database connected?", "--repository", "invoicer"])
    assert first.exit_code == 0, first.output
    assert NO_MODEL in first.output
    assert re.search(r"\[\d+\] invoicer invoicer/billing\.py:\d+-\d+ @ [0-9a-f]{12}", first.output)
    conversation = re.search(r"--conversation (\w+)", first.output).group(1)
    second = runner.invoke(main, ["ask", "and who owns it?", "--conversation", conversation])
    assert second.exit_code == 0, second.output
    assert "invoicer/billing.py (ownership" in second.output
    unknown = runner.invoke(main, ["ask", "x", "--repository", "nope"])
    assert unknown.exit_code == 1 and "nope" in unknown.output


def test_repository_name_in_the_question_does_not_outrank_the_kind_it_asks_for(client):
    # Every fact of invoicer has "invoicer" in its path or value: the name must not pick them.
    body = client.post("/ask", json={"question": "Which dependencies does invoicer declare?"}).json()
    kinds = re.findall(r"\b(dependency|entry_point|route|framework|language|manifest|tests|license): ", body["answer"])
    assert kinds[:3] == ["dependency"] * 3, body["answer"]
    assert len(kinds) >= 3 and set(kinds) == {"dependency"}, body["answer"]
