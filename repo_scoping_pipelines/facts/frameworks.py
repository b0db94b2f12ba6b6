"""Frameworks and major libraries in use, from declared dependencies and from imports."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from ..collectors import languages
from .model import Fact


@dataclass(frozen=True)
class Framework:
    name: str
    category: str
    ecosystem: str  # pypi | npm | go | maven | rubygems | packagist | cargo
    packages: tuple[str, ...]  # dependency names (maven: "group:artifact"; a trailing ":" = any artifact)
    imports: tuple[str, ...] = ()  # import prefixes (Python module, npm package, Go import path, Java package)


def _py(name: str, category: str, package: str, *imports: str) -> Framework:
    return Framework(name, category, "pypi", (package,), imports or (package,))


def _npm(name: str, category: str, *packages: str) -> Framework:
    return Framework(name, category, "npm", packages, packages)


def _go(name: str, category: str, module: str) -> Framework:
    return Framework(name, category, "go", (module,), (module,))


CATALOG: list[Framework] = [
    _py("FastAPI", "web", "fastapi"), _py("Flask", "web", "flask"), _py("Django", "web", "django"),
    _py("Django REST framework", "web", "djangorestframework", "rest_framework"), _py("Starlette", "web", "starlette"),
    _py("aiohttp", "web", "aiohttp"), _py("Tornado", "web", "tornado"), _py("Pyramid", "web", "pyramid"),
    _py("Sanic", "web", "sanic"), _py("Quart", "web", "quart"), _py("Falcon", "web", "falcon"),
    _py("Werkzeug", "web", "werkzeug"), _py("Jinja", "templating", "jinja2"),
    _py("Uvicorn", "server", "uvicorn"), _py("Gunicorn", "server", "gunicorn"),
    _py("Click", "cli", "click"), _py("Typer", "cli", "typer"),
    _py("SQLAlchemy", "database", "sqlalchemy"), _py("Alembic", "database", "alembic"),
    _py("Peewee", "database", "peewee"), _py("psycopg", "database", "psycopg", "psycopg", "psycopg2"),
    _py("Redis", "database", "redis"), _py("PyMongo", "database", "pymongo"),
    _py("Celery", "tasks", "celery"), _py("RQ", "tasks", "rq"), _py("Dagster", "orchestration", "dagster"),
    _py("Airflow", "orchestration", "apache-airflow", "airflow"), _py("Pydantic", "validation", "pydantic"),
    _py("Marshmallow", "validation", "marshmallow"), _py("Requests", "http-client", "requests"),
    _py("HTTPX", "http-client", "httpx"), _py("pandas", "data", "pandas"), _py("NumPy", "data", "numpy"),
    _py("PyTorch", "ml", "torch"), _py("TensorFlow", "ml", "tensorflow"),
    _py("scikit-learn", "ml", "scikit-learn", "sklearn"), _py("Scrapy", "scraping", "scrapy"),
    _py("boto3", "cloud", "boto3"),
    _npm("Express", "web", "express"), _npm("Koa", "web", "koa"), _npm("Fastify", "web", "fastify"),
    _npm("Hapi", "web", "@hapi/hapi"), _npm("NestJS", "web", "@nestjs/core", "@nestjs/common"),
    _npm("Next.js", "web", "next"), _npm("Nuxt", "web", "nuxt"), _npm("React", "ui", "react"),
    _npm("Vue", "ui", "vue"), _npm("Angular", "ui", "@angular/core"), _npm("Svelte", "ui", "svelte"),
    _npm("Redux", "ui", "redux", "@reduxjs/toolkit"), _npm("jQuery", "ui", "jquery"),
    _npm("Socket.IO", "realtime", "socket.io"), _npm("Mongoose", "database", "mongoose"),
    _npm("Sequelize", "database", "sequelize"), _npm("Prisma", "database", "@prisma/client", "prisma"),
    _npm("TypeORM", "database", "typeorm"), _npm("GraphQL", "api", "graphql"),
    _npm("Apollo", "api", "@apollo/server", "apollo-server"), _npm("Webpack", "build", "webpack"),
    _npm("Vite", "build", "vite"), _npm("TypeScript", "build", "typescript"),
    _npm("Commander", "cli", "commander"), _npm("Yargs", "cli", "yargs"),
    _go("Gin", "web", "github.com/gin-gonic/gin"), _go("Echo", "web", "github.com/labstack/echo"),
    _go("Fiber", "web", "github.com/gofiber/fiber"), _go("chi", "web", "github.com/go-chi/chi"),
    _go("gorilla/mux", "web", "github.com/gorilla/mux"), _go("gRPC", "api", "google.golang.org/grpc"),
    _go("GORM", "database", "gorm.io/gorm"), _go("Cobra", "cli", "github.com/spf13/cobra"),
    _go("Viper", "config", "github.com/spf13/viper"), _go("Zap", "logging", "go.uber.org/zap"),
    Framework("Spring Boot", "web", "maven", ("org.springframework.boot:",), ("org.springframework.boot",)),
    Framework("Spring", "web", "maven", ("org.springframework:",), ("org.springframework",)),
    Framework("Hibernate", "database", "maven", ("org.hibernate:", "org.hibernate.orm:"), ("org.hibernate",)),
    Framework("Micronaut", "web", "maven", ("io.micronaut:",), ("io.micronaut",)),
    Framework("Quarkus", "web", "maven", ("io.quarkus:",), ("io.quarkus",)),
    Framework("Jakarta EE", "web", "maven", ("jakarta.platform:",), ("jakarta.ws", "jakarta.servlet")),
    Framework("Lombok", "codegen", "maven", ("org.projectlombok:",), ("lombok",)),
    Framework("Ruby on Rails", "web", "rubygems", ("rails",)), Framework("Sinatra", "web", "rubygems", ("sinatra",)),
    Framework("Sidekiq", "tasks", "rubygems", ("sidekiq",)),
    Framework("Laravel", "web", "packagist", ("laravel/framework",)),
    Framework("Symfony", "web", "packagist", ("symfony/framework-bundle", "symfony/symfony")),
    Framework("Actix Web", "web", "cargo", ("actix-web",)), Framework("Axum", "web", "cargo", ("axum",)),
    Framework("Rocket", "web", "cargo", ("rocket",)), Framework("Tokio", "async", "cargo", ("tokio",)),
    Framework("Serde", "serialization", "cargo", ("serde",)), Framework("Clap", "cli", "cargo", ("clap",)),
    Framework("Diesel", "database", "cargo", ("diesel",)),
]
_DECLARED_RANK = {"runtime": 0, "parent": 0, "peer": 1, "optional": 2, "build": 3, "dev": 4}


def _declares(framework: Framework, dependency: Fact) -> bool:
    if dependency.value.get("ecosystem") not in (framework.ecosystem, "gradle-plugin"):
        return False
    name = dependency.subject
    for package in framework.packages:
        if package.endswith(":") and name.startswith(package):
            return True
        if name == package or (framework.ecosystem == "go" and name.startswith(package + "/")):
            return True
        if dependency.value.get("ecosystem") == "gradle-plugin" and package.endswith(":") \
                and name.startswith(package[:-1]):
            return True
    return False


def _imported(framework: Framework, module: str) -> bool:
    module = module.split("/", 1)[0] if framework.ecosystem == "npm" and not module.startswith("@") else module
    if framework.ecosystem == "npm" and module.startswith("@"):
        module = "/".join(module.split("/", 2)[:2])
    for prefix in framework.imports:
        if module == prefix or module.startswith(prefix + ".") or module.startswith(prefix + "/"):
            return True
    return False


def framework_facts(dependencies: list[Fact], external_imports: list[tuple[str, str, int, str]]) -> list[Fact]:
    """One fact per framework that is declared or imported; evidence is the declaration (runtime scope
    first) or else the first file that imports it. `external_imports` holds (family, path, line, module)
    of imports that leave the repository, so a framework's own code does not count as using it."""
    imports_by_ecosystem: dict[str, list[tuple[str, int, str]]] = defaultdict(list)
    for family, path, line, module in sorted(external_imports, key=lambda i: (i[1], i[2])):
        imports_by_ecosystem[languages.FAMILY_ECOSYSTEMS[family]].append((path, line, module))
    facts = []
    for framework in CATALOG:
        declared = sorted((d for d in dependencies if _declares(framework, d)),
                          key=lambda d: (_DECLARED_RANK.get(d.value.get("scope"), 5), d.path, d.line))
        importing: dict[str, int] = {}
        for path, line, module in imports_by_ecosystem.get(framework.ecosystem, []):
            if path not in importing and _imported(framework, module):
                importing[path] = line
        if not declared and not importing:
            continue
        if declared:
            evidence = (declared[0].path, declared[0].line)
            source = "dependency"
        else:
            evidence = next(iter(importing.items()))
            source = "import"
        scope = declared[0].value.get("scope") if declared else None
        confidence = 0.95 if declared and importing else 0.85 if declared and scope != "dev" else \
            0.6 if declared else 0.75
        value = {"name": framework.name, "category": framework.category, "ecosystem": framework.ecosystem,
                 "declared": bool(declared), "scope": scope,
                 "constraint": declared[0].value.get("constraint") if declared else None,
                 "files_importing": len(importing), "source": source}
        facts.append(Fact("framework", framework.name, value, evidence[0], evidence[1], confidence))
    return facts
