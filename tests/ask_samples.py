"""A repository to ask about, refreshed through Dagster, plus helpers to read Server-Sent Events."""

from __future__ import annotations

import json

import dagster as dg
from abilities_samples import SERVICE_FILES

from repo_scoping_pipelines.collectors.registration import register_repository
from repo_scoping_pipelines.operations.refresh import refresh_in_process

BILLING = (
    '"""Billing: invoices are stored in Postgres through psycopg."""\n'
    "import psycopg\n"
    "\n"
    "\n"
    "def connect_billing_database(url):\n"
    '    """Open the billing Postgres connection used to store invoices."""\n'
    "    return psycopg.connect(url)\n"
)
FILES = {**SERVICE_FILES, "invoicer/billing.py": BILLING,
         "invoicer/jobs.py": "from invoicer.billing import connect_billing_database\n\n\ndef nightly():\n"
                             "    return connect_billing_database('postgresql://localhost/billing')\n"}


def indexed_repository(services, make_repo, files=None, name: str = "invoicer"):
    """Register and refresh a repository with the whole asset graph; a second author edits billing."""
    repo = make_repo(name, files or FILES)
    repo.commit({"invoicer/billing.py": BILLING + "\n\ndef close(conn):\n    conn.close()\n"}, "feat: close billing",
                author="Grace Hopper <grace@example.com>")
    register_repository(services, name, str(repo.path))
    with dg.instance_for_test() as instance:
        assert refresh_in_process(instance, name).success
    return repo


def sse_events(body: str) -> list[tuple[str, dict]]:
    """(event, data) pairs of a text/event-stream body."""
    out = []
    for block in body.split("\n\n"):
        if not block.strip():
            continue
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        out.append((fields["event"], json.loads(fields["data"])))
    return out
