"""User story: one git repository per ecosystem; the facts name the file and line that prove them.

Line numbers below are counted in the file texts of each test (1-based)."""

from __future__ import annotations

from facts_helpers import by_subject, facts, graph_of, observe, table

# --- Python: PEP 621, FastAPI, Click, pytest ----------------------------------------------------------

PEP621 = """[build-system]
requires = ["setuptools>=69"]
build-backend = "setuptools.build_meta"

[project]
name = "shop"
version = "1.2.0"
license = "MIT"
dependencies = [
    "fastapi>=0.110",
    "SQLAlchemy[asyncio]>=2.0,<2.1",
    "celery==5.3.6 ; python_version >= '3.10'",
]

[project.optional-dependencies]
dev = ["pytest>=8"]
redis = ["redis>=5"]

[project.scripts]
shop = "shop.cli:main"
"""
SHOP_API = """from fastapi import APIRouter, FastAPI

from .models import Order

app = FastAPI()
orders = APIRouter(prefix="/orders")


@app.get("/health")
def health():
    return {"ok": True}


@orders.post("/{order_id}/pay")
async def pay_order(order_id: int) -> Order:
    return Order(order_id)
"""
SHOP_MODELS = """import sqlalchemy as sa


class Order:
    def __init__(self, order_id):
        self.order_id = order_id
"""
SHOP_CLI = """import click

from shop import api


@click.command()
def main():
    click.echo(api.app.title)


if __name__ == "__main__":
    main()
"""
PYTHON_FILES = {
    "pyproject.toml": PEP621,
    "shop/__init__.py": "",
    "shop/api.py": SHOP_API,
    "shop/models.py": SHOP_MODELS,
    "shop/cli.py": SHOP_CLI,
    "shop/__main__.py": "from shop.cli import main\n\nmain()\n",
    "tests/test_api.py": "import pytest\n\nfrom shop.api import health\n\n\ndef test_health():\n"
                         "    assert health() == {'ok': True}\n",
    "requirements-dev.txt": "# tools\nruff==0.5.0\n-r requirements.txt\nmypy>=1.10 \\\n    --hash=sha256:abc\n",
    "docs/example.py": "import flask\n",  # documentation: declares nothing about the project
}


def test_python_pep621_fastapi(services, make_repo):
    _, result = observe(services, make_repo, "shop", PYTHON_FILES)
    assert result.warnings == []

    deps = {(r["subject"], r["value"]["constraint"], r["value"]["scope"], r["path"], r["line"])
            for r in facts(services, "shop", "dependency")}
    assert deps == {
        ("setuptools", ">=69", "build", "pyproject.toml", 2),
        ("fastapi", ">=0.110", "runtime", "pyproject.toml", 10),
        ("sqlalchemy", "<2.1,>=2.0", "runtime", "pyproject.toml", 11),
        ("celery", "==5.3.6", "runtime", "pyproject.toml", 12),
        ("pytest", ">=8", "dev", "pyproject.toml", 16),
        ("redis", ">=5", "optional", "pyproject.toml", 17),
        ("ruff", "==0.5.0", "dev", "requirements-dev.txt", 2),
        ("mypy", ">=1.10", "dev", "requirements-dev.txt", 4),
    }
    celery = by_subject(services, "shop", "dependency")["celery"]["value"]
    assert celery["markers"] == 'python_version >= "3.10"'
    assert by_subject(services, "shop", "dependency")["sqlalchemy"]["value"]["extras"] == ["asyncio"]

    manifests = by_subject(services, "shop", "manifest")
    assert manifests["pyproject.toml"]["line"] == 6
    assert manifests["pyproject.toml"]["value"] == {"ecosystem": "pypi", "format": "pyproject.toml", "name": "shop",
                                                    "version": "1.2.0", "dependencies": 6}

    assert table(services, "shop", "route") == {("GET /health", "shop/api.py", 9),
                                                ("POST /orders/{order_id}/pay", "shop/api.py", 14)}
    pay = by_subject(services, "shop", "route")["POST /orders/{order_id}/pay"]["value"]
    assert pay == {"method": "POST", "path": "/orders/{order_id}/pay", "handler": "pay_order", "framework": "FastAPI"}

    assert table(services, "shop", "entry_point") == {("shop", "pyproject.toml", 20),
                                                      ("python -m shop.cli", "shop/cli.py", 11),
                                                      ("python -m shop", "shop/__main__.py", 1)}
    assert by_subject(services, "shop", "entry_point")["shop"]["value"] == {"type": "console_script",
                                                                            "target": "shop.cli:main"}

    frameworks = {r["subject"]: (r["path"], r["line"], r["confidence"]) for r in facts(services, "shop", "framework")}
    assert frameworks == {
        "FastAPI": ("pyproject.toml", 10, 0.95),  # declared and imported
        "SQLAlchemy": ("pyproject.toml", 11, 0.95),
        "Celery": ("pyproject.toml", 12, 0.85),  # declared, never imported
        "Redis": ("pyproject.toml", 17, 0.85),
        "Click": ("shop/cli.py", 1, 0.75),  # imported, never declared
    }
    assert table(services, "shop", "license") == {("MIT", "pyproject.toml", 8)}
    tests = by_subject(services, "shop", "tests")
    assert (tests["pytest"]["path"], tests["pytest"]["line"], tests["pytest"]["value"]["test_files"]) == \
        ("tests/test_api.py", 1, 1)
    assert tests["test_files"]["value"]["count"] == 1
    language = by_subject(services, "shop", "language")["Python"]
    assert language["value"] == {"lines": 44, "files": 6, "share": 100.0, "largest_file": "shop/api.py"}
    assert (language["path"], language["line"]) == ("shop/api.py", 1)


def test_python_import_graph(services, make_repo):
    observe(services, make_repo, "shopgraph", PYTHON_FILES)
    graph = graph_of(services, "shopgraph")
    edges = {(e["source"], e["target"], e["kind"], e["line"]) for e in graph.edges}
    assert edges == {
        ("shop/api.py", "shop/models.py", "internal", 3),
        ("shop/api.py", "python:fastapi", "external", 1),
        ("shop/models.py", "python:sqlalchemy", "external", 1),
        ("shop/cli.py", "python:click", "external", 1),
        ("shop/cli.py", "shop/api.py", "internal", 3),
        ("shop/__main__.py", "shop/cli.py", "internal", 1),
        ("tests/test_api.py", "python:pytest", "external", 1),
        ("tests/test_api.py", "shop/api.py", "internal", 3),
    }
    nodes = {n["id"]: n for n in graph.nodes}
    api = nodes["shop/api.py"]
    assert (api["name"], api["language"], api["lines"], api["in_degree"], api["out_degree"]) == \
        ("shop.api", "Python", 16, 2, 2)
    assert api["rank"] == 2 and nodes["shop/models.py"]["rank"] == 1  # everything leads to models
    assert nodes["python:fastapi"]["internal"] is False and nodes["python:fastapi"]["rank"] is None
    assert abs(sum(n["pagerank"] for n in graph.nodes if n["internal"]) - 1) < 1e-6


# --- Python: Poetry, setup.cfg, Pipfile, Django urls, Flask blueprints ------------------------------

POETRY = """[tool.poetry]
name = "blog"
version = "0.1.0"
license = "Apache-2.0"

[tool.poetry.dependencies]
python = "^3.11"
Django = "^5.0"
flask = { version = ">=3.0", optional = true }

[tool.poetry.group.test.dependencies]
pytest-django = "^4.8"

[tool.poetry.scripts]
blog-admin = "blog.manage:run"
"""
SETUP_CFG = """[metadata]
name = blog-legacy

[options]
install_requires =
    requests>=2.31
    gunicorn

[options.extras_require]
test =
    coverage>=7

[options.entry_points]
console_scripts =
    blog-legacy = blog.legacy:main
"""
PIPFILE = """[packages]
celery = "*"
redis = {version = ">=5.0"}

[dev-packages]
black = "==24.4.2"
"""
DJANGO_URLS = """from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.index, name="index"),
    path("posts/<int:pk>/", views.PostDetail.as_view(), name="post"),
    path("api/", include("blog.api_urls")),
]
"""
DJANGO_API_URLS = """from django.urls import path

from . import views

urlpatterns = [
    path("comments/", views.comments),
]
"""
FLASK_WEB = """from flask import Blueprint, Flask

app = Flask(__name__)
admin = Blueprint("admin", __name__, url_prefix="/admin")


@app.route("/")
def home():
    return "home"


@admin.route("/users", methods=["GET", "POST"])
def users():
    return "users"
"""


def test_python_poetry_setup_cfg_pipfile_django_flask(services, make_repo):
    observe(services, make_repo, "blog", {
        "pyproject.toml": POETRY, "setup.cfg": SETUP_CFG, "Pipfile": PIPFILE, "blog/__init__.py": "",
        "blog/urls.py": DJANGO_URLS, "blog/api_urls.py": DJANGO_API_URLS, "blog/web.py": FLASK_WEB,
        "blog/views.py": "def index(request):\n    return None\n",
    })
    deps = {(r["subject"], r["value"]["constraint"], r["value"]["scope"], r["path"], r["line"])
            for r in facts(services, "blog", "dependency")}
    assert deps == {
        ("django", "^5.0", "runtime", "pyproject.toml", 8),
        ("flask", ">=3.0", "optional", "pyproject.toml", 9),
        ("pytest-django", "^4.8", "dev", "pyproject.toml", 12),
        ("requests", ">=2.31", "runtime", "setup.cfg", 6),
        ("gunicorn", "", "runtime", "setup.cfg", 7),
        ("coverage", ">=7", "dev", "setup.cfg", 11),
        ("celery", "", "runtime", "Pipfile", 2),
        ("redis", ">=5.0", "runtime", "Pipfile", 3),
        ("black", "==24.4.2", "dev", "Pipfile", 6),
    }
    assert table(services, "blog", "entry_point") == {("blog-admin", "pyproject.toml", 15),
                                                      ("blog-legacy", "setup.cfg", 15)}
    assert table(services, "blog", "license") == {("Apache-2.0", "pyproject.toml", 4)}
    assert table(services, "blog", "manifest") == {("pyproject.toml", "pyproject.toml", 2),
                                                   ("setup.cfg", "setup.cfg", 2), ("Pipfile", "Pipfile", 1)}
    routes = {(r["subject"], r["path"], r["line"], r["value"]["handler"], r["value"]["framework"])
              for r in facts(services, "blog", "route")}
    assert routes == {
        ("ANY /", "blog/urls.py", 6, "views.index", "Django"),
        ("ANY /posts/<int:pk>/", "blog/urls.py", 7, "views.PostDetail", "Django"),
        ("INCLUDE /api/", "blog/urls.py", 8, "include(blog.api_urls)", "Django"),
        ("ANY /api/comments/", "blog/api_urls.py", 6, "views.comments", "Django"),  # mounted by include()
        ("GET /", "blog/web.py", 7, "home", "Flask"),
        ("GET /admin/users", "blog/web.py", 12, "users", "Flask"),
        ("POST /admin/users", "blog/web.py", 12, "users", "Flask"),
    }
    frameworks = {r["subject"]: (r["path"], r["line"]) for r in facts(services, "blog", "framework")}
    assert frameworks == {"Django": ("pyproject.toml", 8), "Flask": ("pyproject.toml", 9),
                          "Requests": ("setup.cfg", 6), "Gunicorn": ("setup.cfg", 7), "Celery": ("Pipfile", 2),
                          "Redis": ("Pipfile", 3)}


# --- JavaScript: package.json, Express, React, Jest -------------------------------------------------

PACKAGE_JSON = """{
  "name": "storefront",
  "version": "2.0.0",
  "license": "MIT",
  "bin": {
    "storefront": "bin/cli.js"
  },
  "scripts": {
    "start": "node server.js",
    "test": "jest"
  },
  "dependencies": {
    "express": "^4.19.2",
    "react": "18.3.1"
  },
  "devDependencies": {
    "jest": "^29.7.0"
  }
}
"""
SERVER_JS = """const express = require('express');
const orders = require('./routes/orders');

const app = express();
app.get('/', (req, res) => res.send('ok'));
app.use('/orders', orders);
app.listen(3000);
"""
ORDERS_JS = """const { Router } = require('express');
const { findOrder } = require('../lib/db');

const router = Router();
router.get('/:id', findOrder);
router.post('/', createOrder);

function createOrder(req, res) {
  res.status(201).end();
}

module.exports = router;
"""
APP_JSX = """import React from 'react';
import { api } from '../lib/db';

export default function App() {
  return <div>{api}</div>;
}
"""


def test_javascript_express_react(services, make_repo):
    observe(services, make_repo, "storefront", {
        "package.json": PACKAGE_JSON, "server.js": SERVER_JS, "routes/orders.js": ORDERS_JS,
        "lib/db.js": "module.exports.findOrder = function findOrder(req, res) { res.json({}); };\n",
        "web/App.jsx": APP_JSX, "__tests__/orders.test.js": "const request = require('supertest');\n\n"
                                                            "test('orders', () => {});\n",
        "node_modules/express/package.json": '{"name": "express", "dependencies": {"accepts": "1"}}\n',
    })
    deps = {(r["subject"], r["value"]["constraint"], r["value"]["scope"], r["path"], r["line"])
            for r in facts(services, "storefront", "dependency")}
    assert deps == {("express", "^4.19.2", "runtime", "package.json", 13),
                    ("react", "18.3.1", "runtime", "package.json", 14),
                    ("jest", "^29.7.0", "dev", "package.json", 17)}  # node_modules/ is vendored
    assert table(services, "storefront", "entry_point") == {("storefront", "package.json", 6),
                                                            ("npm run start", "package.json", 9)}
    routes = {(r["subject"], r["path"], r["line"], r["value"]["handler"])
              for r in facts(services, "storefront", "route")}
    assert routes == {("GET /", "server.js", 5, "<arrow function>"),
                      ("GET /:id", "routes/orders.js", 5, "findOrder"),
                      ("POST /", "routes/orders.js", 6, "createOrder")}
    frameworks = {r["subject"]: (r["path"], r["line"], r["value"]["files_importing"])
                  for r in facts(services, "storefront", "framework")}
    assert frameworks == {"Express": ("package.json", 13, 2), "React": ("package.json", 14, 1)}
    tests = by_subject(services, "storefront", "tests")
    assert (tests["Jest"]["path"], tests["Jest"]["line"], tests["Jest"]["value"]["source"]) == \
        ("package.json", 17, "dependency")
    assert table(services, "storefront", "license") == {("MIT", "package.json", 4)}

    graph = graph_of(services, "storefront")
    edges = {(e["source"], e["target"], e["kind"], e["line"]) for e in graph.edges}
    assert edges == {
        ("server.js", "npm:express", "external", 1), ("server.js", "routes/orders.js", "internal", 2),
        ("routes/orders.js", "npm:express", "external", 1), ("routes/orders.js", "lib/db.js", "internal", 2),
        ("web/App.jsx", "npm:react", "external", 1), ("web/App.jsx", "lib/db.js", "internal", 2),
        ("__tests__/orders.test.js", "npm:supertest", "external", 1),
    }


# --- Go: go.mod, Gin groups, net/http, go test ----------------------------------------------------

GO_MOD = """module example.com/shop

go 1.22

require (
\tgithub.com/gin-gonic/gin v1.10.0
\tgithub.com/stretchr/testify v1.9.0 // indirect
)

require golang.org/x/text v0.14.0
"""
GO_MAIN = """package main

import (
\t"net/http"

\t"example.com/shop/internal/handlers"
\t"github.com/gin-gonic/gin"
)

func main() {
\tr := gin.Default()
\tapi := r.Group("/api")
\tv1 := api.Group("/v1")
\tv1.GET("/orders/:id", handlers.GetOrder)
\tr.POST("/login", func(c *gin.Context) {})
\thttp.HandleFunc("GET /healthz", handlers.Health)
\tr.Run()
}
"""
GO_HANDLERS = """package handlers

import (
\t"net/http"

\t"github.com/gin-gonic/gin"
)

func GetOrder(c *gin.Context) { c.JSON(http.StatusOK, nil) }

func Health(w http.ResponseWriter, r *http.Request) {}
"""


def test_go_gin_net_http(services, make_repo):
    observe(services, make_repo, "goshop", {
        "go.mod": GO_MOD, "cmd/server/main.go": GO_MAIN, "internal/handlers/handlers.go": GO_HANDLERS,
        "internal/handlers/handlers_test.go": 'package handlers\n\nimport "testing"\n\n'
                                              "func TestGetOrder(t *testing.T) {}\n",
    })
    deps = {(r["subject"], r["value"]["constraint"], r["line"], r["value"].get("indirect", False))
            for r in facts(services, "goshop", "dependency")}
    assert deps == {("github.com/gin-gonic/gin", "v1.10.0", 6, False),
                    ("github.com/stretchr/testify", "v1.9.0", 7, True), ("golang.org/x/text", "v0.14.0", 10, False)}
    assert by_subject(services, "goshop", "manifest")["go.mod"]["value"]["name"] == "example.com/shop"
    routes = {(r["subject"], r["line"], r["value"]["handler"], r["value"]["framework"])
              for r in facts(services, "goshop", "route")}
    assert routes == {("GET /api/v1/orders/:id", 14, "handlers.GetOrder", "Gin"),
                      ("POST /login", 15, "<func literal>", "Gin"),
                      ("GET /healthz", 16, "handlers.Health", "net/http")}
    assert {r["path"] for r in facts(services, "goshop", "route")} == {"cmd/server/main.go"}
    assert table(services, "goshop", "entry_point") == {("server", "cmd/server/main.go", 10)}
    assert table(services, "goshop", "framework") == {("Gin", "go.mod", 6)}
    tests = by_subject(services, "goshop", "tests")
    assert (tests["go test"]["path"], tests["go test"]["line"]) == ("internal/handlers/handlers_test.go", 3)

    graph = graph_of(services, "goshop")
    edges = {(e["source"], e["target"], e["kind"]) for e in graph.edges}
    assert edges == {
        ("cmd/server/", "internal/handlers/", "internal"), ("cmd/server/", "go:net/http", "stdlib"),
        ("cmd/server/", "go:github.com/gin-gonic/gin", "external"),
        ("internal/handlers/", "go:net/http", "stdlib"), ("internal/handlers/", "go:github.com/gin-gonic/gin", "external"),
        ("internal/handlers/", "go:testing", "stdlib"),
    }
    nodes = {n["id"]: n for n in graph.nodes}
    assert nodes["internal/handlers/"]["name"] == "example.com/shop/internal/handlers"
    assert (nodes["internal/handlers/"]["files"], nodes["internal/handlers/"]["lines"]) == (2, 16)
    assert nodes["internal/handlers/"]["rank"] == 1


# --- Java: pom.xml, build.gradle, Spring annotations, JUnit ---------------------------------------

POM = """<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>com.example</groupId>
  <artifactId>clinic</artifactId>
  <version>1.0.0</version>
  <properties>
    <junit.version>5.10.2</junit.version>
  </properties>
  <dependencies>
    <dependency>
      <groupId>org.springframework.boot</groupId>
      <artifactId>spring-boot-starter-web</artifactId>
      <version>3.2.5</version>
    </dependency>
    <dependency>
      <groupId>org.junit.jupiter</groupId>
      <artifactId>junit-jupiter</artifactId>
      <version>${junit.version}</version>
      <scope>test</scope>
    </dependency>
  </dependencies>
</project>
"""
GRADLE = """plugins {
    id 'org.springframework.boot' version '3.2.5'
}

dependencies {
    implementation 'org.springframework.boot:spring-boot-starter-data-jpa'
    runtimeOnly "org.postgresql:postgresql:42.7.3"
    testImplementation 'org.junit.jupiter:junit-jupiter:5.10.2'
}
"""
CLINIC_APP = """package com.example.clinic;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;

@SpringBootApplication
public class ClinicApplication {
    public static void main(String[] args) {
        SpringApplication.run(ClinicApplication.class, args);
    }
}
"""
OWNER_CONTROLLER = """package com.example.clinic.web;

import com.example.clinic.model.Owner;
import org.springframework.web.bind.annotation.*;

@RestController
@RequestMapping("/owners")
class OwnerController {

    @GetMapping("/{id}")
    Owner show(@PathVariable long id) { return new Owner(); }

    @PostMapping
    Owner create(@RequestBody Owner owner) { return owner; }

    @RequestMapping(value = "/search", method = {RequestMethod.GET, RequestMethod.HEAD})
    Owner search() { return null; }
}
"""
JAVA = "src/main/java/com/example/clinic/"


def test_java_maven_gradle_spring(services, make_repo):
    observe(services, make_repo, "clinic", {
        "pom.xml": POM, "reports/build.gradle": GRADLE, f"{JAVA}ClinicApplication.java": CLINIC_APP,
        f"{JAVA}web/OwnerController.java": OWNER_CONTROLLER,
        f"{JAVA}model/Owner.java": "package com.example.clinic.model;\n\npublic class Owner {}\n",
        "src/test/java/com/example/clinic/OwnerControllerTests.java":
            "package com.example.clinic;\n\nimport org.junit.jupiter.api.Test;\n\nclass OwnerControllerTests {\n"
            "    @Test\n    void shows() {}\n}\n",
    })
    deps = {(r["subject"], r["value"]["constraint"], r["value"]["scope"], r["path"], r["line"])
            for r in facts(services, "clinic", "dependency")}
    assert deps == {
        ("org.springframework.boot:spring-boot-starter-web", "3.2.5", "runtime", "pom.xml", 13),
        ("org.junit.jupiter:junit-jupiter", "5.10.2", "dev", "pom.xml", 18),  # ${junit.version} resolved
        ("org.springframework.boot", "3.2.5", "build", "reports/build.gradle", 2),
        ("org.springframework.boot:spring-boot-starter-data-jpa", "", "runtime", "reports/build.gradle", 6),
        ("org.postgresql:postgresql", "42.7.3", "runtime", "reports/build.gradle", 7),
        ("org.junit.jupiter:junit-jupiter", "5.10.2", "dev", "reports/build.gradle", 8),
    }
    pom = by_subject(services, "clinic", "manifest")["pom.xml"]
    assert (pom["line"], pom["value"]["name"], pom["value"]["version"]) == (5, "com.example:clinic", "1.0.0")
    routes = {(r["subject"], r["line"], r["value"]["handler"]) for r in facts(services, "clinic", "route")}
    assert routes == {("GET /owners/{id}", 10, "OwnerController.show"), ("POST /owners", 13, "OwnerController.create"),
                      ("GET /owners/search", 16, "OwnerController.search"),
                      ("HEAD /owners/search", 16, "OwnerController.search")}
    main = by_subject(services, "clinic", "entry_point")["ClinicApplication"]
    assert (main["path"], main["line"], main["value"]["spring_boot"]) == (f"{JAVA}ClinicApplication.java", 8, True)
    boot = by_subject(services, "clinic", "framework")["Spring Boot"]
    assert (boot["path"], boot["line"], boot["confidence"]) == ("pom.xml", 13, 0.95)
    junit = by_subject(services, "clinic", "tests")["JUnit"]
    assert (junit["path"], junit["line"], junit["value"]["declared"]) == \
        ("src/test/java/com/example/clinic/OwnerControllerTests.java", 3, True)

    graph = graph_of(services, "clinic")
    edges = {(e["source"].rsplit("/", 1)[-1], e["target"].rsplit("/", 1)[-1], e["kind"]) for e in graph.edges}
    assert ("OwnerController.java", "Owner.java", "internal") in edges
    assert ("OwnerController.java", "java:org.springframework", "external") in edges
    assert ("OwnerControllerTests.java", "java:org.junit", "external") in edges
    owner = next(n for n in graph.nodes if n["id"].endswith("Owner.java"))
    assert owner["name"] == "com.example.clinic.model.Owner" and owner["in_degree"] == 1


# --- Rust, Ruby, PHP manifests ---------------------------------------------------------------------

CARGO = """[package]
name = "ledger"
version = "0.3.0"
license = "MIT OR Apache-2.0"

[dependencies]
actix-web = "4"
serde = { version = "1.0", features = ["derive"] }

[dev-dependencies]
criterion = "0.5"

[[bin]]
name = "ledger-cli"
path = "src/bin/cli.rs"
"""
GEMFILE = """source "https://rubygems.org"

gem "rails", "~> 7.1.3"
gem "pg", ">= 1.1", "< 2.0"

group :development, :test do
  gem "rspec-rails"
end

gem "rubocop", require: false, group: :development
"""
COMPOSER = """{
    "name": "acme/shop",
    "require": {
        "php": ">=8.2",
        "laravel/framework": "^11.0"
    },
    "require-dev": {
        "phpunit/phpunit": "^10.5"
    },
    "bin": ["bin/shop"]
}
"""


def test_cargo_gemfile_composer(services, make_repo):
    observe(services, make_repo, "polyglot", {"Cargo.toml": CARGO, "Gemfile": GEMFILE, "composer.json": COMPOSER})
    deps = {(r["value"]["ecosystem"], r["subject"], r["value"]["constraint"], r["value"]["scope"], r["line"])
            for r in facts(services, "polyglot", "dependency")}
    assert deps == {
        ("cargo", "actix-web", "4", "runtime", 7), ("cargo", "serde", "1.0", "runtime", 8),
        ("cargo", "criterion", "0.5", "dev", 11),
        ("rubygems", "rails", "~> 7.1.3", "runtime", 3), ("rubygems", "pg", ">= 1.1, < 2.0", "runtime", 4),
        ("rubygems", "rspec-rails", "", "dev", 7), ("rubygems", "rubocop", "", "dev", 10),
        ("packagist", "laravel/framework", "^11.0", "runtime", 5), ("packagist", "phpunit/phpunit", "^10.5", "dev", 8),
    }
    assert table(services, "polyglot", "entry_point") == {("ledger-cli", "Cargo.toml", 14),
                                                          ("shop", "composer.json", 10)}
    assert table(services, "polyglot", "license") == {("MIT OR Apache-2.0", "Cargo.toml", 4)}
    assert table(services, "polyglot", "framework") == {
        ("Actix Web", "Cargo.toml", 7), ("Serde", "Cargo.toml", 8), ("Ruby on Rails", "Gemfile", 3),
        ("Laravel", "composer.json", 5)}


# --- CI and delivery: GitHub Actions, GitLab CI, Dockerfile, compose, Helm, Procfile, Makefile --------

WORKFLOW = """name: CI
on:
  push:
    branches: [main]
  pull_request:
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: make test
  publish:
    needs: test
    runs-on: ubuntu-latest
    steps:
      - run: twine upload dist/*
"""
GITLAB = """stages: [build, deploy]

.defaults:
  image: python:3.12

build-image:
  stage: build
  script:
    - docker build .

deploy:
  stage: deploy
  script: ./deploy.sh
"""
DOCKERFILE = """# syntax=docker/dockerfile:1
FROM python:3.12-slim AS build
RUN pip install build

FROM gcr.io/distroless/python3
COPY --from=build /app /app
EXPOSE 8000
ENTRYPOINT ["python", \\
            "-m", "shop"]
CMD ["--port", "8000"]
"""
COMPOSE = """services:
  web:
    build: .
    ports:
      - "8000:8000"
    depends_on: [db]
  db:
    image: postgres:16
"""
CHART = """apiVersion: v2
name: shop
version: 0.4.0
appVersion: "1.2.0"
dependencies:
  - name: postgresql
    version: 15.x.x
    repository: oci://registry-1.docker.io/bitnamicharts
"""
MAKEFILE = """.PHONY: test lint
VERSION := 1.0

test:
\tpytest -q

lint: test
\truff check .

%.o: %.c
\tcc -c $<

build/app: main.c
\tcc -o $@ $<
"""


def test_ci_and_delivery(services, make_repo):
    observe(services, make_repo, "ops", {
        ".github/workflows/ci.yml": WORKFLOW, ".gitlab-ci.yml": GITLAB, "Dockerfile": DOCKERFILE,
        "docker-compose.yml": COMPOSE, "charts/shop/Chart.yaml": CHART, "Makefile": MAKEFILE,
        "Procfile": "web: gunicorn shop.wsgi --bind 0.0.0.0:$PORT\nworker: celery -A shop worker\n",
    })
    jobs = {(r["subject"], r["path"], r["line"]) for r in facts(services, "ops", "ci_job")}
    assert jobs == {("test", ".github/workflows/ci.yml", 7), ("publish", ".github/workflows/ci.yml", 12),
                    ("build-image", ".gitlab-ci.yml", 6), ("deploy", ".gitlab-ci.yml", 11)}
    test_job = by_subject(services, "ops", "ci_job")["test"]["value"]
    assert (test_job["workflow"], test_job["triggers"], test_job["runs_on"], test_job["steps"], test_job["uses"]) == \
        ("CI", ["push", "pull_request"], ["ubuntu-latest"], 2, ["actions/checkout"])
    assert by_subject(services, "ops", "ci_job")["build-image"]["value"]["stage"] == "build"

    docker = by_subject(services, "ops", "dockerfile")["Dockerfile"]
    assert docker["line"] == 5
    assert docker["value"] == {"base_image": "gcr.io/distroless/python3", "stages": ["build", "gcr.io/distroless/python3"],
                               "external_images": ["gcr.io/distroless/python3", "python:3.12-slim"],
                               "expose": ["8000"], "user": None}
    entries = {(r["subject"], r["value"]["type"], r["value"]["target"], r["line"])
               for r in facts(services, "ops", "entry_point")}
    assert entries == {
        ("Dockerfile", "docker_entrypoint", "python -m shop", 8), ("Dockerfile", "docker_cmd", "--port 8000", 10),
        ("web", "procfile", "gunicorn shop.wsgi --bind 0.0.0.0:$PORT", 1),
        ("worker", "procfile", "celery -A shop worker", 2),
        ("test", "make_target", "make test", 4), ("lint", "make_target", "make lint", 7),
        ("build/app", "make_target", "make build/app", 13),
    }
    services_ = {(r["subject"], r["line"], r["value"]["image"], r["value"]["build"])
                 for r in facts(services, "ops", "compose_service")}
    assert services_ == {("web", 2, None, "."), ("db", 7, "postgres:16", None)}
    assert by_subject(services, "ops", "compose_service")["web"]["value"]["depends_on"] == ["db"]
    chart = by_subject(services, "ops", "helm_chart")["shop"]
    assert (chart["path"], chart["line"]) == ("charts/shop/Chart.yaml", 2)
    assert (chart["value"]["version"], chart["value"]["app_version"], chart["value"]["dependencies"]) == \
        ("0.4.0", "1.2.0", ["postgresql"])


# --- License, README, docs folder --------------------------------------------------------------------

MIT = """MIT License

Copyright (c) 2024 Example

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction.

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.
"""
README = """# Shop

Sells things.

## Installation

```bash
# not a heading
pip install shop
```

## Usage

#### Deep detail
"""


def test_license_readme_docs(services, make_repo):
    observe(services, make_repo, "documented", {
        "LICENSE": MIT, "README.md": README, "docs/index.md": "# Docs\n", "docs/guide.md": "# Guide\n",
        "mkdocs.yml": "site_name: Shop\n", "app.py": "print('hi')\n",
    })
    assert table(services, "documented", "license") == {("MIT", "LICENSE", 5)}
    assert by_subject(services, "documented", "license")["MIT"]["value"]["source"] == "license_file"
    docs = {(r["subject"], r["path"], r["line"], r["value"]["type"]) for r in facts(services, "documented",
                                                                                  "documentation")}
    assert docs == {
        ("Shop", "README.md", 1, "readme_section"), ("Installation", "README.md", 5, "readme_section"),
        ("Usage", "README.md", 12, "readme_section"), ("README.md", "README.md", 1, "readme"),
        ("docs/", "docs/index.md", 1, "docs_folder"), ("MkDocs", "mkdocs.yml", 1, "docs_generator"),
    }
    folder = by_subject(services, "documented", "documentation")["docs/"]["value"]
    assert (folder["files"], folder["generator"]) == (2, "MkDocs")
    assert table(services, "documented", "language") == {("Python", "app.py", 1)}  # docs and README not counted
