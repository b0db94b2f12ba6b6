"""The `repo-scoping` command."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .config import PROJECT_ROOT, ConfigError, load_settings


def _fail(message: str, code: int = 2) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _services():
    from .services import open_services

    try:
        return open_services(load_settings())
    except ConfigError as exc:
        _fail(str(exc))
    except Exception as exc:  # database unreachable etc.: one clear line, not a traceback
        from .redaction import redact

        _fail(redact(f"cannot open storage: {type(exc).__name__}: {exc}").splitlines()[0])


@click.group()
def main() -> None:
    """Know your organisation's code: register repositories, refresh them, search them."""


@main.command()
@click.argument("name")
@click.argument("source")
def register(name: str, source: str) -> None:
    """Register NAME from SOURCE (git URL, local git path or .zip) and add its partition."""
    from .dagster_instance import dagster_instance
    from .refresh import ensure_partitions
    from .registration import RegistrationError, register_repository

    services = _services()
    try:
        repo = register_repository(services, name, source)
    except RegistrationError as exc:
        _fail(str(exc))
    with dagster_instance(services.settings) as instance:
        ensure_partitions(instance, [repo.name])
    click.echo(f"registered {repo.name} ({repo.source_kind})")


def _refresh(names: tuple[str, ...], quiet: bool = False) -> list:
    from .dagster_instance import dagster_instance
    from .refresh import refresh_in_process
    from .storage import catalog

    services = _services()
    known = [r.name for r in catalog.list_repositories(services.engine)]
    targets = list(names) or known
    unknown = [n for n in targets if n not in known]
    if unknown:
        _fail(f"not registered: {', '.join(unknown)}")
    outcomes = []
    with dagster_instance(services.settings) as instance:
        for i, name in enumerate(targets, 1):
            click.echo(f"[{i}/{len(targets)}] {name}: refreshing ...")
            outcome = refresh_in_process(instance, name)
            for asset, meta in outcome.assets.items():
                summary = ", ".join(f"{k}={v}" for k, v in meta.items()
                                    if k not in ("preview",) and not isinstance(v, (dict, list)))
                click.echo(f"    {asset}: {summary}")
            if outcome.success:
                click.echo(f"    done (run {outcome.run_id[:8]})")
            else:
                click.echo(f"    FAILED: {outcome.error}", err=True)
            outcomes.append(outcome)
    return outcomes


@main.command()
@click.argument("names", nargs=-1)
def refresh(names: tuple[str, ...]) -> None:
    """Materialize every asset for NAMEs (all repositories when none is given), in-process."""
    outcomes = _refresh(names)
    if not all(o.success for o in outcomes):
        sys.exit(1)


@main.command()
@click.argument("query")
@click.option("--repository", default=None)
@click.option("--mode", type=click.Choice(["hybrid", "keyword", "vector"]), default="hybrid")
@click.option("--limit", default=5, show_default=True)
def search(query: str, repository: str | None, mode: str, limit: int) -> None:
    """Search indexed code and docs."""
    from .search import search_code

    for hit in search_code(_services(), query, repository=repository, limit=limit, mode=mode):
        click.echo(f"{hit['score']:.4f}  {hit['repository']}:{hit['path']}:{hit['start_line']}-{hit['end_line']}"
                   f"  {hit['kind']} {hit['symbol'] or ''}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Serve the read API (OpenAPI at /docs)."""
    import uvicorn

    from .api import create_app

    try:
        settings = load_settings()
    except ConfigError as exc:
        _fail(str(exc))
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")


@main.command()
def health() -> None:
    """Print the health report as JSON; exit 1 when degraded."""
    from .health import health_report
    from .services import open_services

    try:
        settings = load_settings()
    except ConfigError as exc:
        _fail(str(exc))
    report = health_report(settings, open_services)
    click.echo(json.dumps(report, indent=2, default=str))
    sys.exit(0 if report["status"] == "ok" else 1)


@main.command()
@click.argument("source", required=False, default=str(PROJECT_ROOT))
@click.option("--name", default=None, help="Repository name (default: the source's folder name)")
@click.option("--query", default="register a repository and refresh it", show_default=True)
def demo(source: str, name: str | None, query: str) -> None:
    """Register SOURCE (default: this project's checkout), refresh it and print what was found."""
    from .registration import RegistrationError, register_repository, validate_name
    from .search import search_code
    from .storage import catalog

    services = _services()
    name = name or "".join(c if c.isalnum() or c in "._-" else "-" for c in Path(source.rstrip("/")).stem)
    try:
        validate_name(name)
        existing = {r.name: r for r in catalog.list_repositories(services.engine)}
        if name not in existing:
            register_repository(services, name, source)
            click.echo(f"registered {name} from {source}")
    except RegistrationError as exc:
        _fail(str(exc))
    outcomes = _refresh((name,))
    if not outcomes[0].success:
        sys.exit(1)
    repo = catalog.get_repository(services.engine, name)
    snapshot = catalog.latest_snapshot(services.engine, repo.id)
    from .storage import chunks as chunk_store

    click.echo(f"\n== {name} @ {snapshot['commit_sha'][:12]}: {snapshot['file_count']} files")
    click.echo("languages (lines of code):")
    for lang, lines in list(catalog.language_lines(services.engine, repo.id).items())[:10]:
        click.echo(f"  {lang:<20} {lines:>8}")
    counts = chunk_store.chunk_counts(services.engine, repo.id)
    click.echo(f"chunks: {sum(counts.values())} ({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))})")
    click.echo(f"search {query!r}:")
    for hit in search_code(services, query, repository=name, limit=5):
        click.echo(f"  {hit['score']:.4f}  {hit['path']}:{hit['start_line']}-{hit['end_line']}  "
                   f"{hit['kind']} {hit['symbol'] or ''}")


@main.command(name="list")
def list_() -> None:
    """List registered repositories."""
    from .storage import catalog

    for repo in catalog.list_repositories(_services().engine):
        click.echo(f"{repo.name}\t{repo.source_kind}\t{repo.default_branch or '-'}")


if __name__ == "__main__":
    main()
