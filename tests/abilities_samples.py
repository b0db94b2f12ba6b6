"""A small service repository whose abilities the rules can see: an HTTP API, a CLI, a package,
Postgres and Redis, a task queue, scheduled jobs and a container image."""

README = (
    "# Invoicer\n\n"
    "Invoicer renders PDF invoices for customers and emails them every night.\n\n"
    "## Usage\n\n"
    "Run `invoicer send` to email the pending invoices.\n"
)

SERVICE_FILES = {
    "README.md": README,
    "pyproject.toml": (
        "[project]\n"
        'name = "invoicer"\n'
        'version = "1.2.0"\n'
        "dependencies = [\n"
        '    "flask>=3.0",\n'
        '    "psycopg[binary]>=3.1",\n'
        '    "redis>=5",\n'
        '    "celery>=5.3",\n'
        '    "apscheduler>=3.10",\n'
        "]\n\n"
        "[project.optional-dependencies]\n"
        'test = ["pytest>=8", "pymongo>=4"]\n\n'
        "[project.scripts]\n"
        'invoicer = "invoicer.cli:main"\n'
    ),
    "invoicer/__init__.py": '"""Invoicer."""\n',
    "invoicer/app.py": (
        "from flask import Flask\n"
        "\n"
        "app = Flask(__name__)\n"
        "\n"
        "\n"
        '@app.get("/invoices")\n'
        "def list_invoices():\n"
        '    return {"invoices": []}\n'
        "\n"
        "\n"
        '@app.post("/invoices")\n'
        "def create_invoice():\n"
        '    return {"ok": True}, 201\n'
        "\n"
        "\n"
        '@app.route("/invoices/<int:invoice_id>/pdf")\n'
        "def invoice_pdf(invoice_id):\n"
        '    return b"%PDF"\n'
    ),
    "invoicer/cli.py": (
        "import click\n"
        "\n"
        "\n"
        "@click.command()\n"
        "def main():\n"
        '    """Email the pending invoices."""\n'
        '    click.echo("sent")\n'
    ),
    "tests/test_app.py": (
        "from flask import Flask\n"
        "\n"
        "app = Flask(__name__)\n"
        "\n"
        "\n"
        '@app.get("/only-in-tests")\n'
        "def helper():\n"
        "    return {}\n"
    ),
    "Dockerfile": 'FROM python:3.12-slim\nCOPY . /app\nRUN pip install /app\nCMD ["invoicer"]\n',
}


def materialize_abilities(instance, name: str, *, candidates: bool = True):
    """Snapshot, chunks and facts of one repository (and its ability candidates) through Dagster:
    only the assets this stage needs, so the test does not wait on metrics collectors."""
    import dagster as dg

    from repo_scoping_pipelines.assets.abilities import ability_candidates
    from repo_scoping_pipelines.assets.collection import repository_snapshot
    from repo_scoping_pipelines.assets.content import content_chunks
    from repo_scoping_pipelines.assets.facts import observed_facts
    from repo_scoping_pipelines.resources import RepoScopingResource

    if name not in instance.get_dynamic_partitions("repositories"):
        instance.add_dynamic_partitions("repositories", [name])
    assets = [repository_snapshot, content_chunks, observed_facts] + ([ability_candidates] if candidates else [])
    return dg.materialize(assets, partition_key=name, instance=instance,
                          resources={"repo_scoping": RepoScopingResource()})
