"""The `repo-scoping` command."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
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
        from repo_scoping_pipelines.safety.redaction import redact

        _fail(redact(f"cannot open storage: {type(exc).__name__}: {exc}").splitlines()[0])


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """Know your organisation's code: register repositories, refresh them, search them."""
    if ctx.invoked_subcommand != "serve":
        # stderr carries this command's own one-line messages; the JSON operations log goes to a file.
        from repo_scoping_pipelines.operations import log as ops_log

        with contextlib.suppress(ConfigError):  # the command itself reports a configuration error
            ops_log.default_to_file(load_settings().home / "logs" / "operations.jsonl")


@main.command()
@click.argument("name")
@click.argument("source")
def register(name: str, source: str) -> None:
    """Register NAME from SOURCE (git URL, local git path or .zip) and add its partition."""
    from repo_scoping_pipelines.collectors.registration import RegistrationError, register_repository
    from repo_scoping_pipelines.operations.dagster_instance import dagster_instance
    from repo_scoping_pipelines.operations.deployment import read_state
    from repo_scoping_pipelines.operations.refresh import ensure_partitions

    services = _services()
    try:
        repo = register_repository(services, name, source)
    except RegistrationError as exc:
        _fail(str(exc))
    if read_state(services.settings, "daemon"):
        # Under `repo-scoping up` the repository_registrations sensor adds the partition AND queues the
        # first refresh; adding the partition here would hide the registration from it.
        click.echo(f"registered {repo.name} ({repo.source_kind}); the running daemon adds its partition "
                   "and queues its first refresh")
        return
    with dagster_instance(services.settings) as instance:
        ensure_partitions(instance, [repo.name])
    click.echo(f"registered {repo.name} ({repo.source_kind})")


def _jsonable(value):
    """A metadata value as JSON: preview tables become lists of row dicts (Dagster's TableRecord)."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if hasattr(value, "data") and isinstance(value.data, dict):  # a TableRecord
        return _jsonable(value.data)
    return str(value)


def _refresh(names: tuple[str, ...], as_json: bool = False) -> list:
    """Refresh each repository in-process with live progress per asset (a table when stdout is not a
    terminal), then one summary line per repository; `as_json` prints each run's metadata instead."""
    from dagster._core.utils import make_new_run_id
    from rich.console import Console
    from rich.live import Live

    from repo_scoping_pipelines.operations.dagster_instance import dagster_instance
    from repo_scoping_pipelines.operations.progress import RunProgress
    from repo_scoping_pipelines.operations.refresh import publish_registry_in_process, refresh_in_process

    from .storage import abilities as ability_store
    from .storage import catalog

    services = _services()
    known = [r.name for r in catalog.list_repositories(services.engine)]
    targets = list(names) or known
    unknown = [n for n in targets if n not in known]
    if unknown:
        _fail(f"not registered: {', '.join(unknown)}")
    console = Console(highlight=False)
    outcomes, report = [], []
    with dagster_instance(services.settings) as instance:
        for i, name in enumerate(targets, 1):
            if not as_json:
                console.print(f"[{i}/{len(targets)}] {name}: refreshing ...", markup=False)
            run_id, progress = make_new_run_id(), RunProgress(name)
            # The run executes in this process: each of its events reaches the listener as it is stored.
            instance.add_event_listener(run_id, progress.apply)
            live = (Live(get_renderable=progress.table, console=console, refresh_per_second=4)
                    if console.is_terminal else None)
            started = time.perf_counter()
            with live or contextlib.nullcontext():
                outcome = refresh_in_process(instance, name, run_id=run_id)
            wall = time.perf_counter() - started
            outcomes.append(outcome)
            if as_json:
                assets = {row.asset: {"state": row.status, "elapsed_s": row.elapsed and round(row.elapsed, 3),
                                      "metadata": {k: _jsonable(v)
                                                   for k, v in outcome.assets.get(row.asset, {}).items()}}
                          for row in progress.steps.values()}
                report.append({"repository": name, "run_id": outcome.run_id, "success": outcome.success,
                               "error": outcome.error, "seconds": round(wall, 3), "assets": assets})
                continue
            if live is None:
                console.print(progress.table())
            counts = progress.counts()
            summary = ", ".join(f"{counts[s]} {s}" for s in ("done", "skipped", "failed") if counts.get(s))
            if outcome.success:
                console.print(f"    done in {wall:.1f}s ({summary}; run {outcome.run_id[:8]})", markup=False)
            else:
                click.echo(f"    FAILED: {outcome.error}", err=True)
        # Only when the registry lags the approvals (a review, or a refresh that retired one): no extra run otherwise.
        if ability_store.registry_mismatches(services.engine):
            ok = publish_registry_in_process(instance)
            if not as_json or not ok:
                click.echo("ability_registry: " + ("published" if ok else "FAILED to publish"), err=not ok)
    if as_json:
        click.echo(json.dumps({"repositories": report}, indent=2, default=str))
    return outcomes


@main.command()
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="print each run's asset metadata as JSON (for scripts)")
def refresh(names: tuple[str, ...], as_json: bool) -> None:
    """Materialize every asset for NAMEs (all repositories when none is given), in-process, with live
    progress per asset; unchanged assets are skipped (the table says why)."""
    outcomes = _refresh(names, as_json=as_json)
    if not all(o.success for o in outcomes):
        sys.exit(1)


@main.command()
@click.argument("query")
@click.option("--repository", default=None)
@click.option("--mode", type=click.Choice(["hybrid", "keyword", "vector"]), default="hybrid")
@click.option("--limit", default=5, show_default=True)
@click.option("--kind", default=None, help="code, tests, docs, config, pull_request, issue (comma-separated)")
@click.option("--language", default=None, help="e.g. Python, Go (comma-separated)")
@click.option("--path", "path_filter", default=None, help="a path prefix (src/) or a glob (**/*_test.go)")
@click.option("--facets", "show_facets", is_flag=True, help="also print the counts per kind, language and repository")
def search(query: str, repository: str | None, mode: str, limit: int, kind: str | None, language: str | None,
           path_filter: str | None, show_facets: bool) -> None:
    """Search indexed code, docs, PR and issue text."""
    from repo_scoping_pipelines.search.classify import FilterError
    from repo_scoping_pipelines.search.query import search as run_search

    try:
        outcome = run_search(_services(), query, repository=repository, limit=limit, mode=mode, kind=kind,
                             language=language, path=path_filter)
    except FilterError as exc:
        raise click.BadParameter(str(exc), param_hint=f"--{exc.parameter}" if exc.parameter != "q"
                                 else "QUERY") from None
    if outcome.notice:
        click.echo(outcome.notice, err=True)
    for hit in outcome.results:
        ref = hit.get("ref")
        where = f"  {ref['url']}" if ref and ref.get("url") else ""
        click.echo(f"{hit['score']:.4f}  {hit['repository']}:{hit['path']}:{hit['start_line']}-{hit['end_line']}"
                   f"  {hit['file_class']}/{hit['kind']} {hit['symbol'] or ''}{where}")
    if show_facets:
        for facet, counts in outcome.facets.items():
            click.echo(f"{facet}: " + (", ".join(f"{k} {n}" for k, n in counts.items()) or "-"))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1),
              help="API processes; one per core (each serves its own threads and search cache)")
def serve(host: str, port: int, workers: int) -> None:
    """Serve the read API (OpenAPI at /docs)."""
    import uvicorn

    from .api import create_app
    from .api.auth import resolve_read_auth

    try:
        settings = resolve_read_auth(load_settings(), host)  # READ_AUTH unset: on beyond loopback
    except ConfigError as exc:
        _fail(str(exc))
    os.environ["REPO_SCOPING_READ_AUTH"] = str(settings.read_auth).lower()  # worker processes decide alike
    if workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
        return
    # Each worker process builds the app from the same environment; Prometheus counters of all of
    # them are summed through prometheus-client's multiprocess folder (kept if the operator set one).
    from .api.prometheus import MULTIPROC_ENV

    own_folder = None
    if not os.environ.get(MULTIPROC_ENV):
        own_folder = tempfile.mkdtemp(prefix="repo-scoping-prometheus-")
        os.environ[MULTIPROC_ENV] = own_folder
    try:
        uvicorn.run("repo_scoping_pipelines.api.app:create_app", factory=True, workers=workers, host=host,
                    port=port, log_level="warning")
    finally:
        if own_folder:
            shutil.rmtree(own_folder, ignore_errors=True)


@main.command()
def health() -> None:
    """Print the health report as JSON; exit 1 when degraded."""
    from repo_scoping_pipelines.operations.health import health_report

    from .services import open_services

    try:
        settings = load_settings()
    except ConfigError as exc:
        _fail(str(exc))
    report = health_report(settings, open_services)
    click.echo(json.dumps(report, indent=2, default=str))
    sys.exit(0 if report["status"] == "ok" else 1)


def _source_checkout() -> Path | None:
    """This project's source checkout when running from one (editable install), else None (a wheel)."""
    if (PROJECT_ROOT / "pyproject.toml").is_file() and (PROJECT_ROOT / "migrations" / "env.py").is_file():
        return PROJECT_ROOT
    return None


@main.command()
@click.argument("source", required=False, default=None)
@click.option("--name", default=None, help="Repository name (default: the source's folder name)")
@click.option("--query", default="register a repository and refresh it", show_default=True)
@click.option("--question", default="How do I register a repository and refresh it?", show_default=True,
              help="Asked of the indexed repository at the end (answered with citations)")
def demo(source: str | None, name: str | None, query: str, question: str) -> None:
    """Register SOURCE (default: this project's checkout), refresh it, print what was found and answer
    one question about it, with citations."""
    from repo_scoping_pipelines.collectors.registration import (
        RegistrationError,
        register_repository,
        validate_name,
    )
    from repo_scoping_pipelines.search.query import search_code

    from .storage import catalog

    if source is None:
        checkout = _source_checkout()
        if checkout is None:
            _fail("no SOURCE given and this is an installed package, not a checkout: pass a git path or URL")
        source = str(checkout)
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
    from .ask import pipeline as ask_pipeline

    click.echo(f"\nask {question!r}:")
    _print_answer(services, ask_pipeline.prepare(services, question, name))


@main.command()
@click.option("--output-dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Empty directory for the dump, the manifest and the uploaded archives")
def backup(output_dir: Path) -> None:
    """pg_dump of the project's schema plus a manifest (versions, row counts); Milvus is rebuilt on restore."""
    from repo_scoping_pipelines.operations.backup import BackupError
    from repo_scoping_pipelines.operations.backup import backup as run_backup

    try:
        manifest = run_backup(_services(), output_dir)
    except BackupError as exc:
        _fail(str(exc), 1)
    rows = sum(manifest["row_counts"].values())
    click.echo(f"backup written to {output_dir}: {len(manifest['row_counts'])} tables, {rows} rows, "
               f"{len(manifest['uploads'])} uploaded archives")


@main.command()
@click.option("--source-dir", required=True, type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--force", is_flag=True, help="Confirm replacing everything in the database")
def restore(source_dir: Path, force: bool) -> None:
    """Replace the project's schema with a backup, then re-embed every chunk into Milvus."""
    from repo_scoping_pipelines.operations.backup import BackupError
    from repo_scoping_pipelines.operations.backup import restore as run_restore

    if not force:
        _fail("restore replaces every repository, chunk and fact in the database; pass --force to do it")
    try:
        report = run_restore(_services(), source_dir, force=force)
    except BackupError as exc:
        _fail(str(exc), 1)
    click.echo(f"restored from {source_dir}: {sum(report['row_counts'].values())} rows, "
               f"{sum(report['embedded'].values())} vectors re-embedded into {report['collection']}")


@main.command()
def maintenance() -> None:
    """VACUUM ANALYZE the project's tables, compact Milvus, remove leftovers of killed runs."""
    from repo_scoping_pipelines.operations.backup import maintenance as run_maintenance

    click.echo(json.dumps(run_maintenance(_services()), indent=2, default=str))


def _deployment_settings(**ports: int | str | None):
    try:
        settings = load_settings()
    except ConfigError as exc:
        _fail(str(exc))
    overrides = {k: v for k, v in ports.items() if v is not None}
    settings = settings.model_copy(update={"home": settings.home.resolve(), **overrides})
    return settings


def _print_status(rows: list[dict]) -> None:
    click.echo(f"{'component':<12} {'pid':>7}  {'port':<24} health")
    for row in rows:
        health = row["health"]
        text = "ok" if health.get("ok") else f"DOWN: {health.get('error', 'unhealthy')}"
        if row.get("external"):
            text = "external" + ("" if health.get("ok") else f" ({text})")
        elif health.get("ok") and "heartbeat_age_s" in health:
            text = f"ok (heartbeat {health['heartbeat_age_s']:.0f} s ago)"
        click.echo(f"{row['name']:<12} {row['pid'] or '-':>7}  {row['port'] or '-'!s:<24} {text}")


@main.command()
@click.option("--host", default=None, help="Interface to listen on (REPO_SCOPING_BIND_HOST)")
@click.option("--code-server-port", type=int, default=None, help="REPO_SCOPING_CODE_SERVER_PORT (4266)")
@click.option("--webserver-port", type=int, default=None, help="REPO_SCOPING_WEBSERVER_PORT (3000)")
@click.option("--api-port", type=int, default=None, help="REPO_SCOPING_API_PORT (8000)")
def up(host, code_server_port, webserver_port, api_port) -> None:
    """Start the local deployment as separate processes: Postgres, Milvus, code server, webserver,
    daemon and the read API (state and logs under REPO_SCOPING_HOME/run/)."""
    from repo_scoping_pipelines.operations.deployment import DeploymentError
    from repo_scoping_pipelines.operations.deployment import up as start

    settings = _deployment_settings(bind_host=host, code_server_port=code_server_port,
                                    webserver_port=webserver_port, api_port=api_port)
    try:
        rows = start(settings, echo=click.echo)
    except DeploymentError as exc:
        _fail(f"{exc}\n(what did start keeps running: see `repo-scoping status`, stop it with "
              "`repo-scoping down`)", code=1)
    click.echo("")
    _print_status(rows)
    if not all(r["health"].get("ok") for r in rows):
        sys.exit(1)


@main.command()
@click.option("--timeout", default=20.0, show_default=True, help="Seconds between SIGTERM and SIGKILL")
def down(timeout: float) -> None:
    """Stop the local deployment; runs in flight end failed and are retried on the next `up`."""
    from repo_scoping_pipelines.operations.deployment import down as stop

    stop(_deployment_settings(), echo=click.echo, timeout_s=timeout)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output")
def status(as_json: bool) -> None:
    """Each process of the local deployment with its pid, port and health; exit 1 unless all are ok."""
    from repo_scoping_pipelines.operations.deployment import status as current

    rows = current(_deployment_settings())
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
    else:
        _print_status(rows)
    sys.exit(0 if all(r["health"].get("ok") for r in rows) else 1)


@main.group()
def review() -> None:
    """Review ability candidates: list them, approve or reject one (the history keeps every decision)."""


def _review(decision: str, candidate_id: str, note: str | None, reviewer: str | None) -> None:
    import getpass

    from .abilities.pipeline import InvalidReview, review_candidate
    from .storage.catalog import NotFound

    services = _services()
    try:
        stored = review_candidate(services.engine, candidate_id, decision, note=note,
                                  reviewer=reviewer or getpass.getuser())
    except NotFound as exc:
        _fail(str(exc), 1)
    except InvalidReview as exc:
        _fail(str(exc))
    candidate = stored["candidate"]
    click.echo(f"{candidate_id} {stored['status']}: {candidate['repository']}: {candidate['name']} "
               f"(decision #{stored['id']} by {stored['reviewer']})")


@review.command()
@click.argument("candidate_id")
@click.option("--note", default=None, help="Why (kept in the review history)")
@click.option("--reviewer", default=None, help="Who decides (default: the current user)")
def approve(candidate_id: str, note: str | None, reviewer: str | None) -> None:
    """Approve CANDIDATE_ID: it joins the ability registry on the next publish."""
    _review("approve", candidate_id, note, reviewer)


@review.command()
@click.argument("candidate_id")
@click.option("--note", default=None, help="Why (kept in the review history)")
@click.option("--reviewer", default=None, help="Who decides (default: the current user)")
def reject(candidate_id: str, note: str | None, reviewer: str | None) -> None:
    """Reject CANDIDATE_ID."""
    _review("reject", candidate_id, note, reviewer)


@review.command(name="list")
@click.argument("name")
@click.option("--status", type=click.Choice(["pending", "approved", "rejected", "retired"]), default=None)
def review_list(name: str, status: str | None) -> None:
    """List the ability candidates of repository NAME with their evidence."""
    from .storage import abilities as ability_store
    from .storage import catalog

    services = _services()
    try:
        repo = catalog.get_repository(services.engine, name)
    except catalog.NotFound as exc:
        _fail(str(exc), 1)
    for c in ability_store.list_candidates(services.engine, repo.id, status):
        click.echo(f"{c['candidate_id']}  {c['status']:<8} {c['source']:<5} {c['confidence']:.2f}  "
                   f"[{c['category']}] {c['name']}")
        click.echo(f"    {c['description']}")
        cited = [f"{e['path']}:{e.get('line') or e.get('start_line')}" for e in c["evidence"]]
        click.echo(f"    evidence: {', '.join(list(dict.fromkeys(cited))[:6])}"
                   + (" ..." if len(set(cited)) > 6 else ""))


@main.command(name="list")
def list_() -> None:
    """List registered repositories."""
    from .storage import catalog

    for repo in catalog.list_repositories(_services().engine):
        click.echo(f"{repo.name}\t{repo.source_kind}\t{repo.default_branch or '-'}")


# === search (issue 13) (commands of this area go below this line) ===


# === ask (issue 14) (commands of this area go below this line) ===


def _print_answer(services, prepared) -> dict:
    """Stream an answer to the terminal as it is written, then its citations as path:start-end."""
    from .ask import pipeline

    streamed: list[str] = []
    for name, payload in pipeline.events(services, prepared):
        if name == "delta":
            streamed.append(payload["text"])
            click.echo(payload["text"], nl=False)
            sys.stdout.flush()
        elif name == "error":
            click.echo("")
            _fail(payload["message"], 1)
        elif name == "done":
            if "".join(streamed).strip() != payload["answer"].strip():
                # Citation checks changed the streamed text (a quote not in its source, no valid citation).
                click.echo("\n\nchecked answer:\n" + payload["answer"], nl=False)
            click.echo("\n")
            if payload["citations"]:
                click.echo("citations:")
            for c in payload["citations"]:
                where = c["path"] or c["kind"]
                if c["start_line"] is not None:
                    where += f":{c['start_line']}-{c['end_line']}"
                extra = f" ({c['kind']} {c['ref']})" if c.get("ref") and c["kind"] != "fact" else ""
                click.echo(f"  [{c['n']}] {c['repository']} {where}{extra}"
                           + (f" @ {c['commit'][:12]}" if c.get("commit") else ""))
            guarded = {k: v for k, v in payload["guardrails"].items() if v}
            if guarded:
                click.echo("guardrails: " + ", ".join(f"{k}={v}" for k, v in guarded.items()))
            click.echo(f"conversation: {payload['conversation_id']} (follow up with --conversation "
                       f"{payload['conversation_id']})")
            return payload
    _fail("no answer was produced", 1)
    return {}


@main.command()
@click.argument("question")
@click.option("--repository", default=None, help="Limit retrieval to one repository")
@click.option("--conversation", default=None, help="Continue a conversation (its earlier turns are used)")
def ask(question: str, repository: str | None, conversation: str | None) -> None:
    """Ask QUESTION about the indexed repositories: the answer streams, its citations follow."""
    from .ask import pipeline
    from .storage.catalog import NotFound

    services = _services()
    try:
        prepared = pipeline.prepare(services, question, repository, conversation)
    except NotFound as exc:
        _fail(str(exc), 1)
    except pipeline.AskError as exc:
        _fail(exc.message)
    _print_answer(services, prepared)



# === runs and tokens (issue 15) (commands of this area go below this line) ===

@main.group()
def token() -> None:
    """API bearer tokens: scopes read < review < admin (stored hashed; shown once at creation)."""


@token.command(name="create")
@click.option("--name", required=True, help="Who or what uses it (unique)")
@click.option("--scope", required=True, type=click.Choice(["read", "review", "admin"]))
def token_create(name: str, scope: str) -> None:
    """Create a token; it is printed once, alone on the last line."""
    from .storage import tokens as token_store

    try:
        value = token_store.create_token(_services().engine, name, scope)
    except token_store.TokenError as exc:
        _fail(str(exc))
    click.echo(f"created token {name!r} (scope {scope}); it is shown only now:", err=True)
    click.echo(value)


@token.command(name="list")
def token_list() -> None:
    """Names, scopes, when created and last used; never the tokens."""
    from .storage import tokens as token_store

    rows = token_store.list_tokens(_services().engine)
    click.echo(f"{'NAME':<30} {'SCOPE':<7} {'CREATED':<26} LAST USED")
    for row in rows:
        used = row["last_used_at"].isoformat(timespec="seconds") if row["last_used_at"] else "never"
        click.echo(f"{row['name']:<30} {row['scope']:<7} {row['created_at'].isoformat(timespec='seconds'):<26} {used}")


@token.command(name="revoke")
@click.argument("name")
def token_revoke(name: str) -> None:
    """Revoke token NAME (requests with it get 401 from now on)."""
    from .storage import tokens as token_store

    try:
        token_store.revoke_token(_services().engine, name)
    except token_store.TokenError as exc:
        _fail(str(exc), 1)
    click.echo(f"revoked token {name!r}")


@main.command()
@click.option("--status", default=None, help="queued, started, success, failure (or failed), canceled; "
                                             "comma-separated for several")
@click.option("--repository", default=None, help="Only runs of this repository")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output")
def runs(status: str | None, repository: str | None, limit: int, as_json: bool) -> None:
    """Recent runs, newest first (failed ones first with --status failed): status, repository, duration."""
    from repo_scoping_pipelines.operations import runs as run_ops
    from repo_scoping_pipelines.operations.dagster_instance import dagster_instance

    try:
        statuses = run_ops.parse_statuses(status)
    except run_ops.UnknownStatus as exc:
        _fail(str(exc))
    services = _services()
    with dagster_instance(services.settings) as instance:
        rows = run_ops.list_runs(instance, statuses, repository, limit, failed_first=True)
        errors = {r["run_id"]: run_ops.run_error(instance, r["run_id"])
                  for r in rows if r["status"] == "failure"}
    if as_json:
        click.echo(json.dumps([{**r, "error": errors.get(r["run_id"])} for r in rows], indent=2))
        return
    for r in rows:
        took = f"{r['duration_s']:.1f}s" if r["duration_s"] is not None else "-"
        click.echo(f"{r['run_id'][:8]}  {r['status']:<8} {r['repository'] or '-':<24} {r['job']:<26} "
                   f"{took:>8}  {r['trigger']}  {r['created_at'] or ''}")
        if errors.get(r["run_id"]):
            click.echo(f"          {errors[r['run_id']]['step_key'] or 'run'}: {errors[r['run_id']]['message']}")



# === people (issue 16) (commands of this area go below this line) ===

@main.group()
def people() -> None:
    """The people registry: identities (git e-mails, GitHub logins, Redmine users) merged into people."""


@people.command("list")
@click.option("--q", "query", default=None, help="Part of a name, e-mail or login")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10000))
@click.option("--suggestions", is_flag=True, help="Also the suggested links waiting for a decision")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output")
def people_list(query: str | None, limit: int, suggestions: bool, as_json: bool) -> None:
    """People with their identities (and why each belongs), optionally the pending suggestions."""
    from .metrics.pipeline import person_detail
    from .storage import people as people_store

    services = _services()
    rows = [person_detail(services.engine, p["person_id"]) for p in
            people_store.list_people(services.engine, query, limit)]
    pending = people_store.suggestions_of(services.engine) if suggestions else []
    if as_json:
        click.echo(json.dumps({"people": rows, "suggestions": pending}, indent=2, default=str))
        return
    for p in rows:
        click.echo(f"{p['person_id']}  {p['display_name']}  <{p['primary_email'] or '-'}>  "
                   f"github:{p['github_login'] or '-'}")
        for i in p["identity_list"]:
            click.echo(f"    {i['identity']:<50} {i['reason']} ({i['confidence']:.2f})")
    for s in pending:
        click.echo(f"suggestion: {s['identity_a']} ~ {s['identity_b']}: {s['reason']} ({s['confidence']:.2f})")


def _decide(action: str, identities: tuple[str, ...], note: str | None) -> None:
    import getpass

    from .metrics.people import PeopleError
    from .metrics.pipeline import decide_people

    services = _services()
    try:
        done = decide_people(services.engine, action, list(identities), decided_by=getpass.getuser(), note=note)
    except PeopleError as exc:
        _fail(str(exc), 1)
    for p in done["people"]:
        click.echo(f"{p['person_id']}  {p['display_name']}: "
                   f"{', '.join(i['identity'] for i in p['identity_list'])}")


@people.command("merge")
@click.argument("identities", nargs=-1, required=True)
@click.option("--note", default=None)
def people_merge(identities: tuple[str, ...], note: str | None) -> None:
    """Make two or more identities (e-mail, github:LOGIN, redmine:NAME, or a person id) one person."""
    _decide("merge", identities, note)


@people.command("split")
@click.argument("identities", nargs=-1, required=True)
@click.option("--note", default=None)
def people_split(identities: tuple[str, ...], note: str | None) -> None:
    """Detach identities from every link made before: each stands alone until merged again."""
    _decide("split", identities, note)



# === exports (issue 17) (commands of this area go below this line) ===

@main.group()
def export() -> None:
    """Export what is known about a repository in formats other tools read."""


def _write_export(kind: str, name: str, output: str | None) -> None:
    from .exports import pipeline
    from .storage.catalog import NotFound

    try:
        document = pipeline.document(_services().reader, name, kind)
    except NotFound as exc:
        _fail(str(exc), 1)
    if output is None:
        click.echo(document.content, nl=False)
        return
    Path(output).write_text(document.content)
    click.echo(f"wrote {kind} of {name} to {output} ({len(document.content.encode())} bytes)", err=True)


@export.command(name="sbom")
@click.argument("name")
@click.option("--output", default=None, help="Write to FILE instead of stdout")
def export_sbom(name: str, output: str | None) -> None:
    """CycloneDX 1.6 JSON SBOM of NAME's observed manifests (dependencies, package URLs, evidence)."""
    _write_export("sbom", name, output)


@export.command(name="openapi")
@click.argument("name")
@click.option("--output", default=None, help="Write to FILE instead of stdout")
def export_openapi(name: str, output: str | None) -> None:
    """OpenAPI 3.1 document of the HTTP routes discovered in NAME's code."""
    _write_export("openapi", name, output)


@export.command(name="backstage")
@click.argument("names", nargs=-1)
@click.option("--output-dir", default=None, help="Write NAME/catalog-info.yaml under DIR instead of stdout")
def export_backstage(names: tuple[str, ...], output_dir: str | None) -> None:
    """Backstage catalog-info.yaml (Component, API) of each NAME (default: every registered repository)."""
    from .exports import pipeline
    from .exports.backstage import RouteIndex, build_catalog_info
    from .storage import exports as export_store
    from .storage.catalog import NotFound, list_repositories

    reader = _services().reader
    names = names or tuple(r.name for r in list_repositories(reader))
    packages = export_store.package_names(reader)  # every repository's package names, read once
    routes = RouteIndex(export_store.route_facts(reader))  # and every repository's routes, indexed once
    documents = []
    for name in names:
        try:
            outside = pipeline.backstage_outside(reader, name, packages, routes)
            documents.append((name, build_catalog_info(pipeline.backstage_inputs(reader, name, outside))))
        except NotFound as exc:
            _fail(str(exc), 1)
    for name, document in documents:
        if output_dir is None:
            click.echo(("---\n" if document is not documents[0][1] else "") + document.content, nl=False)
            continue
        target = Path(output_dir) / name / "catalog-info.yaml"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(document.content)
        click.echo(f"wrote backstage entities of {name} to {target}", err=True)


if __name__ == "__main__":
    main()
