"""Rule-based ability candidates from observed facts: always on, deterministic, every claim cited.

Each rule looks at facts (routes, entry points, manifests, dependencies, frameworks, CI jobs,
container and chart files) and, when they show an ability, returns one candidate whose evidence
lists those facts and the chunks that hold their lines. Tests, examples and docs do not make a
repository able to do something, so facts found only there are left out (examples lower confidence).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from pathlib import PurePosixPath

from ..storage.abilities import StoredFact
from .model import Candidate, ChunkIndex, chunk_evidence, fact_evidence

MAX_EVIDENCE = 40
_TEST_PATH = re.compile(r"(^|/)(tests?|testing|__tests__|spec|specs|testdata|fixtures?|e2e|benchmarks?)(/|$)|"
                        r"(^|/)(test_[^/]*|[^/]*_test\.[a-z]+|[^/]*\.(test|spec)\.[a-z]+|conftest\.py)$",
                        re.IGNORECASE)
_EXAMPLE_PATH = re.compile(r"(^|/)(examples?|samples?|demos?|docs?|documentation|tutorials?|site|website)(/|$)",
                           re.IGNORECASE)


def _is_test(path: str) -> bool:
    return bool(_TEST_PATH.search(path or ""))


def _is_example(path: str) -> bool:
    return bool(_EXAMPLE_PATH.search(path or ""))


def _main(facts: Iterable[StoredFact]) -> list[StoredFact]:
    return [f for f in facts if not _is_test(f.path) and not _is_example(f.path)]


def _value(fact: StoredFact, key: str, default=None):
    return fact.value.get(key, default) if isinstance(fact.value, dict) else default


def _blob(fact: StoredFact) -> str:
    """The fact as one lowercase string, for rules that look for words in values whose shape varies."""
    return (fact.subject + " " + json.dumps(fact.value, default=str, sort_keys=True)).lower()


def _runtime_dependency(fact: StoredFact) -> bool:
    return fact.kind == "dependency" and _value(fact, "scope", "runtime") not in ("dev", "build", "test")


def _dep_name(fact: StoredFact) -> str:
    return fact.subject.lower().strip()


class _Facts:
    def __init__(self, facts: list[StoredFact]) -> None:
        self.all = facts
        self.by_kind: dict[str, list[StoredFact]] = {}
        for f in facts:
            self.by_kind.setdefault(f.kind, []).append(f)

    def kind(self, kind: str) -> list[StoredFact]:
        return self.by_kind.get(kind, [])

    def deps(self, names: set[str] | Callable[[str], bool]) -> list[StoredFact]:
        match = names if callable(names) else (lambda n: n in names)
        return [f for f in _main(self.kind("dependency")) if _runtime_dependency(f) and match(_dep_name(f))]

    def frameworks(self, names: set[str], category: str | None = None) -> list[StoredFact]:
        """Frameworks used outside tests (not only as dev tools), by name or by the facts' category."""
        return [f for f in _main(self.kind("framework"))
                if _value(f, "scope") not in ("dev", "test", "build")
                and (f.subject.lower() in names or str(_value(f, "name", "")).lower() in names
                     or (category is not None and _value(f, "category") == category))]


def _evidence(facts: Iterable[StoredFact], chunks: ChunkIndex) -> list[dict]:
    out, seen_chunks = [], set()
    for fact in list(facts)[:MAX_EVIDENCE]:
        out.append(fact_evidence(fact))
        chunk = chunks.covering(fact.path, fact.line)
        if chunk is not None and chunk["chunk_id"] not in seen_chunks:
            seen_chunks.add(chunk["chunk_id"])
            out.append(chunk_evidence(chunk))
    return out


def _listing(items: list[str], limit: int = 12) -> str:
    items = list(dict.fromkeys(items))
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


# --- knowledge: which packages show which ability ---------------------------------------------------------

WEB_FRAMEWORKS = {"flask", "fastapi", "django", "starlette", "aiohttp", "tornado", "sanic", "bottle", "pyramid",
                  "falcon", "quart", "litestar", "express", "koa", "fastify", "hapi", "@hapi/hapi", "@nestjs/core",
                  "restify", "spring boot", "spring-boot", "spring web", "spring-webmvc", "gin", "echo", "chi",
                  "fiber", "gorilla/mux", "net/http", "rails", "sinatra", "actix-web", "axum", "rocket", "laravel",
                  "symfony", "asp.net core", "ktor", "micronaut", "quarkus", "phoenix"}
WEB_FRAMEWORK_PACKAGES = {"flask", "fastapi", "django", "starlette", "aiohttp", "tornado", "sanic", "bottle",
                          "pyramid", "falcon", "quart", "litestar", "express", "koa", "fastify", "@hapi/hapi",
                          "@nestjs/core", "restify", "github.com/gin-gonic/gin", "github.com/labstack/echo/v4",
                          "github.com/go-chi/chi/v5", "github.com/gofiber/fiber/v2", "github.com/gorilla/mux",
                          "org.springframework.boot:spring-boot-starter-web", "rails", "sinatra", "actix-web", "axum",
                          "rocket"}
UI_PACKAGES = {"react", "react-dom", "vue", "@angular/core", "svelte", "next", "nuxt", "solid-js", "preact",
               "ember-source", "@sveltejs/kit", "htmx.org", "alpinejs", "lit", "streamlit", "gradio", "dash",
               "panel", "nicegui", "flet"}
NOT_UI = {"redux", "jquery"}  # state and DOM helpers: they come with a UI, they do not show one
UI_FRAMEWORKS = {"react", "vue", "angular", "svelte", "next.js", "nextjs", "nuxt", "sveltekit", "solid", "preact",
                 "streamlit", "gradio", "dash"}

DATASTORES: dict[str, tuple[str, set[str]]] = {
    "postgresql": ("PostgreSQL", {"psycopg", "psycopg2", "psycopg2-binary", "psycopg-binary", "asyncpg", "pg8000",
                                  "pg", "pg-promise", "postgres", "@neondatabase/serverless", "github.com/lib/pq",
                                  "github.com/jackc/pgx/v5", "github.com/jackc/pgx/v4", "org.postgresql:postgresql",
                                  "tokio-postgres", "sqlx-postgres", "dagster-postgres"}),
    "mysql": ("MySQL", {"pymysql", "mysqlclient", "mysql-connector-python", "aiomysql", "mysql", "mysql2",
                        "github.com/go-sql-driver/mysql", "mysql:mysql-connector-java", "com.mysql:mysql-connector-j"}),
    "sqlite": ("SQLite", {"aiosqlite", "sqlite3", "better-sqlite3", "github.com/mattn/go-sqlite3", "rusqlite",
                          "modernc.org/sqlite", "org.xerial:sqlite-jdbc"}),
    "redis": ("Redis", {"redis", "aioredis", "ioredis", "redis-py-cluster", "github.com/redis/go-redis/v9",
                        "github.com/go-redis/redis/v8", "redis.clients:jedis", "io.lettuce:lettuce-core", "hiredis"}),
    "mongodb": ("MongoDB", {"pymongo", "motor", "mongoengine", "mongodb", "mongoose", "go.mongodb.org/mongo-driver",
                            "org.mongodb:mongodb-driver-sync"}),
    "elasticsearch": ("Elasticsearch", {"elasticsearch", "elasticsearch-dsl", "@elastic/elasticsearch", "opensearch-py",
                                        "@opensearch-project/opensearch"}),
    "cassandra": ("Cassandra", {"cassandra-driver", "scylla-driver", "github.com/gocql/gocql"}),
    "dynamodb": ("DynamoDB", {"pynamodb", "@aws-sdk/client-dynamodb", "aioboto3-dynamodb"}),
    "milvus": ("Milvus", {"pymilvus", "milvus-lite", "@zilliz/milvus2-sdk-node"}),
    "s3": ("S3 object storage", {"@aws-sdk/client-s3", "s3fs", "minio", "aiobotocore"}),
}
SQL_ORMS = {"sqlalchemy", "django", "peewee", "tortoise-orm", "sqlmodel", "prisma", "@prisma/client", "typeorm",
            "sequelize", "knex", "drizzle-orm", "gorm.io/gorm", "github.com/jmoiron/sqlx", "diesel",
            "org.hibernate:hibernate-core", "org.springframework.boot:spring-boot-starter-data-jpa", "activerecord"}
COMPOSE_IMAGES = {"postgresql": "postgres", "mysql": "mysql", "redis": "redis", "mongodb": "mongo",
                  "elasticsearch": "elasticsearch", "cassandra": "cassandra", "milvus": "milvus"}

QUEUES: dict[str, tuple[str, set[str]]] = {
    "kafka": ("Kafka", {"kafka-python", "confluent-kafka", "aiokafka", "kafkajs", "node-rdkafka",
                        "github.com/segmentio/kafka-go", "github.com/ibm/sarama", "github.com/shopify/sarama",
                        "org.apache.kafka:kafka-clients", "org.springframework.kafka:spring-kafka", "rdkafka"}),
    "rabbitmq": ("RabbitMQ", {"pika", "aio-pika", "amqp", "amqplib", "amqp-connection-manager", "rabbitmq-client",
                              "github.com/streadway/amqp", "github.com/rabbitmq/amqp091-go", "lapin",
                              "org.springframework.boot:spring-boot-starter-amqp", "bunny"}),
    "nats": ("NATS", {"nats-py", "nats", "github.com/nats-io/nats.go", "async-nats"}),
    "sqs": ("Amazon SQS", {"@aws-sdk/client-sqs", "aiobotocore-sqs", "aws-sdk-sqs"}),
    "pubsub": ("Google Pub/Sub", {"google-cloud-pubsub", "@google-cloud/pubsub", "cloud.google.com/go/pubsub"}),
    "task_queue": ("a task queue (Celery/RQ/BullMQ/...)", {"celery", "kombu", "rq", "dramatiq", "huey", "arq",
                                                            "bull", "bullmq", "bee-queue", "sidekiq", "resque",
                                                            "github.com/hibiken/asynq", "taskiq"}),
}
QUEUE_IMAGES = {"kafka": ("kafka", "redpanda"), "rabbitmq": ("rabbitmq",), "nats": ("nats",)}

SCHEDULERS = {"apscheduler", "schedule", "croniter", "celery-beat", "django-celery-beat", "rq-scheduler",
              "node-cron", "cron", "node-schedule", "agenda", "bree", "github.com/robfig/cron/v3",
              "github.com/go-co-op/gocron", "org.quartz-scheduler:quartz", "rufus-scheduler", "whenever",
              "sidekiq-cron", "dagster", "apache-airflow", "prefect", "luigi", "tokio-cron-scheduler"}

_CLI_TYPES = {"console_script", "gui_script", "bin", "npm_bin", "cargo_bin", "go_main", "python_main",
              "java_main", "gem_executable", "composer_bin"}
_PUBLISH = re.compile(r"twine upload|pypa/gh-action-pypi-publish|uv publish|poetry publish|flit publish|"
                      r"hatch publish|npm publish|yarn (npm )?publish|pnpm publish|changesets/action|"
                      r"cargo publish|goreleaser|mvn (\S+ )*deploy|gradle\S* publish|gem push|"
                      r"semantic-release|release-please", re.IGNORECASE)
_RELEASE_JOB = re.compile(r"publish|release|deploy|upload", re.IGNORECASE)
_REGISTRY = {"pypi": "PyPI", "npm": "npm", "cargo": "crates.io", "crates": "crates.io", "maven": "Maven",
             "gem": "RubyGems", "rubygems": "RubyGems", "composer": "Packagist", "go": "the Go module proxy"}


# --- rules ------------------------------------------------------------------------------------------------

def _http_api(facts: _Facts, chunks: ChunkIndex) -> list[Candidate]:
    routes = [f for f in facts.kind("route") if not _is_test(f.path)]
    main = [f for f in routes if not _is_example(f.path) and _value(f, "method", "") != "WEBSOCKET"]
    listed = [f"{_value(f, 'method', '')} {_value(f, 'path', f.subject)}".strip() for f in main]
    frameworks = sorted({str(_value(f, "framework") or "") for f in main} - {""})
    if main:
        return [Candidate(
            key="http_api", name="Serves an HTTP API", category="api",
            description=(f"Declares {len(set(listed))} HTTP route(s)"
                         + (f" with {', '.join(frameworks)}" if frameworks else "") + f": {_listing(listed)}."),
            evidence=_evidence(main, chunks), confidence=0.95 if len(set(listed)) >= 3 else 0.85)]
    web = facts.frameworks(WEB_FRAMEWORKS, "web") or facts.deps(WEB_FRAMEWORK_PACKAGES)
    if web:
        names = sorted({f.subject for f in web})
        return [Candidate(
            key="http_api", name="Serves HTTP", category="api",
            description=f"Uses the web framework(s) {', '.join(names)} at run time; no HTTP routes are declared "
                        "outside tests and examples.",
            evidence=_evidence(web, chunks), confidence=0.5)]
    examples = [f for f in routes if _is_example(f.path)]
    if examples:
        listed = [f"{_value(f, 'method', '')} {_value(f, 'path', f.subject)}".strip() for f in examples]
        return [Candidate(
            key="http_api_examples", name="Ships example HTTP applications", category="api",
            description=f"Examples or docs declare {len(set(listed))} HTTP route(s): {_listing(listed, 8)}.",
            evidence=_evidence(examples, chunks), confidence=0.4)]
    return []


def _cli(facts: _Facts, chunks: ChunkIndex) -> list[Candidate]:
    entries = []
    for f in _main(facts.kind("entry_point")):
        kind = str(_value(f, "type", ""))
        if kind not in _CLI_TYPES:
            continue
        # `if __name__ == "__main__"` in any module is a script, not a tool: only packages run with -m count.
        if kind == "python_main" and PurePosixPath(f.path).name != "__main__.py":
            continue
        entries.append(f)
    if not entries:
        return []
    names = [f.subject for f in entries]
    declared = [f for f in entries if _value(f, "type") in ("console_script", "bin", "npm_bin", "cargo_bin",
                                                            "gem_executable", "composer_bin", "gui_script")]
    commands = _listing([f"`{n}`" for n in names], 8)
    return [Candidate(
        key="cli", name="Is a command-line tool", category="cli",
        description=f"Provides the command(s) {commands}.",
        evidence=_evidence(entries, chunks), confidence=0.9 if declared else 0.7)]


def _packages(facts: _Facts, chunks: ChunkIndex) -> list[Candidate]:
    publishing = [f for f in facts.kind("ci_job") if _PUBLISH.search(_blob(f))
                  or _RELEASE_JOB.search(f"{f.subject} {_value(f, 'workflow', '')} {_value(f, 'name', '')}")]
    out = []
    for f in _main(facts.kind("manifest")):
        name = _value(f, "name")
        ecosystem = str(_value(f, "ecosystem", "") or "").lower()
        if not name or _value(f, "private") is True or ecosystem not in _REGISTRY:
            continue
        if ecosystem == "go" and "/" not in str(name):
            continue  # a local module name, not a fetchable path
        jobs = [j for j in publishing if ecosystem in _blob(j) or _REGISTRY[ecosystem].lower() in _blob(j)
                or len({str(_value(m, "ecosystem", "")).lower() for m in facts.kind("manifest")}) == 1]
        registry = _REGISTRY[ecosystem]
        version = _value(f, "version")
        out.append(Candidate(
            key=f"package:{ecosystem}:{str(name).lower()}", name=f"Publishes the {registry} package {name}",
            category="distribution",
            description=(f"{f.path} declares the package `{name}`" + (f" version {version}" if version else "")
                         + (f"; CI job(s) {_listing([j.subject for j in jobs], 4)} publish it." if jobs
                            else ".")),
            evidence=_evidence([f, *jobs], chunks), confidence=0.9 if jobs else 0.7))
    return out


def _compose_with(facts: _Facts, images: tuple[str, ...]) -> list[StoredFact]:
    hits = []
    for f in facts.kind("compose_service"):
        image = str(_value(f, "image", "") or "").lower()
        if any(re.search(rf"(^|/){re.escape(i)}([:@]|$|-)", image) for i in images):
            hits.append(f)
    return hits


def _datastores(facts: _Facts, chunks: ChunkIndex) -> list[Candidate]:
    out = []
    for key, (label, packages) in DATASTORES.items():
        deps = facts.deps(packages)
        if not deps:
            continue
        services = _compose_with(facts, (COMPOSE_IMAGES[key],)) if key in COMPOSE_IMAGES else []
        clients = sorted({f.subject for f in deps})
        out.append(Candidate(
            key=f"datastore:{key}", name=f"Stores data in {label}", category="data_storage",
            description=f"Depends on the {label} client(s) {', '.join(clients)}"
                        + (f"; compose runs {label} as service(s) {_listing([s.subject for s in services], 4)}."
                           if services else "."),
            evidence=_evidence([*deps, *services], chunks), confidence=0.85 if services else 0.75))
    if not any(c.key in ("datastore:postgresql", "datastore:mysql", "datastore:sqlite") for c in out):
        orms = facts.deps(SQL_ORMS)
        if orms:
            out.append(Candidate(
                key="datastore:sql", name="Stores data in a SQL database", category="data_storage",
                description=f"Uses the ORM / SQL toolkit(s) {', '.join(sorted({f.subject for f in orms}))}.",
                evidence=_evidence(orms, chunks), confidence=0.55))
    return out


def _queues(facts: _Facts, chunks: ChunkIndex) -> list[Candidate]:
    out = []
    for key, (label, packages) in QUEUES.items():
        deps = facts.deps(packages)
        services = _compose_with(facts, QUEUE_IMAGES.get(key, ()))
        if not deps:
            continue
        name = ("Processes background jobs from a task queue" if key == "task_queue"
                else f"Consumes or publishes messages on {label}")
        out.append(Candidate(
            key=f"queue:{key}", name=name, category="messaging",
            description=f"Depends on {', '.join(sorted({f.subject for f in deps}))}"
                        + (f"; compose runs {_listing([s.subject for s in services], 4)}." if services else "."),
            evidence=_evidence([*deps, *services], chunks), confidence=0.75))
    return out


def _scheduled(facts: _Facts, chunks: ChunkIndex) -> list[Candidate]:
    deps = facts.deps(SCHEDULERS)
    cronjobs = [f for f in facts.kind("helm_chart") + facts.kind("compose_service") if "cronjob" in _blob(f)]
    if not deps and not cronjobs:
        return []
    what = sorted({f.subject for f in deps}) + (["Kubernetes CronJob"] if cronjobs else [])
    return [Candidate(
        key="scheduled_jobs", name="Runs scheduled jobs", category="scheduling",
        description=f"Schedules work with {', '.join(what)}.",
        evidence=_evidence([*deps, *cronjobs], chunks), confidence=0.7 if deps else 0.8)]


def _web_ui(facts: _Facts, chunks: ChunkIndex) -> list[Candidate]:
    ui = [f for f in facts.frameworks(UI_FRAMEWORKS, "ui") if f.subject.lower() not in NOT_UI] \
        or facts.deps(UI_PACKAGES)
    templates = [p for p in chunks.paths()
                 if re.search(r"(^|/)(templates|views|static|public)/.+\.(html?|jinja2?|j2|hbs|ejs|pug|erb)$",
                              p, re.IGNORECASE) and not _is_test(p) and not _is_example(p)]
    has_server = bool(_main(facts.kind("route"))) or bool(facts.frameworks(WEB_FRAMEWORKS, "web"))
    if ui:
        return [Candidate(
            key="web_ui", name="Exposes a web UI", category="ui",
            description=f"Builds a browser interface with {', '.join(sorted({f.subject for f in ui}))}.",
            evidence=_evidence(ui, chunks), confidence=0.8)]
    if templates and has_server:
        evidence = [chunk_evidence(chunks.covering(p, 1)) for p in templates[:MAX_EVIDENCE]
                    if chunks.covering(p, 1) is not None]
        return [Candidate(
            key="web_ui", name="Exposes a web UI", category="ui",
            description=f"Serves HTML pages rendered from {len(templates)} template(s): {_listing(templates, 6)}.",
            evidence=evidence, confidence=0.65)]
    return []


def _containers(facts: _Facts, chunks: ChunkIndex) -> list[Candidate]:
    out = []
    dockerfiles = [f for f in facts.kind("dockerfile") if not _is_test(f.path)]
    if dockerfiles:
        out.append(Candidate(
            key="container_image", name="Builds a container image", category="deployment",
            description=f"Container build file(s): {_listing(sorted({f.path for f in dockerfiles}), 6)}.",
            evidence=_evidence(dockerfiles, chunks), confidence=0.8))
    charts = [f for f in facts.kind("helm_chart") if not _is_test(f.path)]
    if charts:
        out.append(Candidate(
            key="kubernetes_deploy", name="Deploys to Kubernetes with Helm", category="deployment",
            description=f"Helm chart(s): {_listing(sorted({f.subject for f in charts}), 6)}.",
            evidence=_evidence(charts, chunks), confidence=0.85))
    return out


RULES = [_http_api, _cli, _packages, _datastores, _queues, _scheduled, _web_ui, _containers]


def rule_candidates(facts: list[StoredFact], chunks: list[dict]) -> list[Candidate]:
    """Every rule's candidates for one repository, in a stable order."""
    index = ChunkIndex(chunks)
    grouped = _Facts(facts)
    out: list[Candidate] = []
    for rule in RULES:
        out.extend(rule(grouped, index))
    seen, unique = set(), []
    for c in out:
        if c.key not in seen:
            seen.add(c.key)
            unique.append(c)
    return unique
