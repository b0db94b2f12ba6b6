"""One schema: storage/tables.py defines every table, and it matches what the migrations create.

A migrated database compared with tables.metadata by alembic's autogenerate (what `alembic check`
runs through migrations/env.py) must show no difference; and no other module may define or reflect a
table, so the schema cannot scatter again.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import repo_scoping_pipelines.storage as storage_package
from repo_scoping_pipelines.config import Settings
from repo_scoping_pipelines.storage import tables
from repo_scoping_pipelines.storage.db import make_engine, migrate

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_MODULE = ROOT / "repo_scoping_pipelines" / "storage" / "tables.py"
# The project's source: the package and the top-level folders installed inside it.
SOURCE_DIRS = ("repo_scoping_pipelines", "assets", "sensors", "schedules", "migrations")


def _migrated_engine(database_url: str) -> sa.Engine:
    engine = make_engine(Settings(database_url=database_url, home=Path("/nonexistent")))
    migrate(engine)  # the clone of the migrated template: a no-op that proves the heads are applied
    return engine


def _describe(diff) -> str:
    if isinstance(diff, list):  # modify_* entries: (op, schema, table, column, info, old, new)
        return "; ".join(f"{op} {schema}.{table}.{column}: {old!r} -> {new!r}"
                         for op, schema, table, column, _info, old, new in diff)
    op, obj = diff[0], diff[1]
    table = getattr(obj, "table", None)
    where = f" on {table.fullname}" if isinstance(table, sa.Table) else ""
    name = getattr(obj, "fullname", None) or getattr(obj, "name", None) or repr(obj)
    return f"{op} {name}{where}"


def test_migrated_database_matches_the_schema_module(database_url):
    engine = _migrated_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts=dict(tables.AUTOGENERATE_OPTIONS))
            diffs = compare_metadata(context, tables.metadata)
    finally:
        engine.dispose()
    assert diffs == [], "storage/tables.py and migrations/versions disagree:\n" + "\n".join(
        _describe(d) for d in diffs)


def test_index_options_match_the_migrations(database_url):
    """What autogenerate does not compare: an index's method (gin) and operator classes (text_pattern_ops)."""
    engine = _migrated_engine(database_url)
    try:
        inspector = sa.inspect(engine)
        problems = []
        for table in tables.metadata.sorted_tables:
            reflected = {ix["name"]: ix for ix in inspector.get_indexes(table.name, schema=tables.SCHEMA)}
            for index in table.indexes:
                db = reflected.get(index.name)
                if db is None:
                    problems.append(f"{index.name}: not in the database")
                    continue
                options = index.dialect_options["postgresql"]
                wanted = (options["using"] or "btree", dict(options["ops"] or {}))
                found = (db["dialect_options"].get("postgresql_using", "btree"),
                         dict(db["dialect_options"].get("postgresql_ops", {})))
                if wanted != found:
                    problems.append(f"{index.name}: tables.py has {wanted}, the database {found}")
    finally:
        engine.dispose()
    assert problems == [], "\n".join(problems)


def _source_files() -> list[Path]:
    return sorted(p for d in SOURCE_DIRS for p in (ROOT / d).rglob("*.py")
                  if ".venv" not in p.parts and "__pycache__" not in p.parts)


def _called_name(node: ast.Call) -> str | None:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def test_no_table_is_defined_or_reflected_outside_the_schema_module():
    offenders = []
    for path in _source_files():
        if path == SCHEMA_MODULE:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        # A terminal table (rich.table.Table) is not a database table.
        rich_names = {alias.asname or alias.name for node in ast.walk(tree)
                      if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rich")
                      for alias in node.names}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = _called_name(node)
            if isinstance(node.func, ast.Name) and name in rich_names:
                continue
            keywords = {k.arg for k in node.keywords}
            if name in ("Table", "MetaData", "reflect") or keywords & {"autoload_with", "extend_existing"}:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)[:80]}")
    assert offenders == [], "tables belong in storage/tables.py only:\n" + "\n".join(offenders)


def test_storage_modules_use_the_schema_modules_tables():
    """Every Table a storage module exposes is the very object in tables.metadata."""
    strays = []
    for info in pkgutil.iter_modules(storage_package.__path__):
        module = importlib.import_module(f"{storage_package.__name__}.{info.name}")
        for attr, value in vars(module).items():
            if isinstance(value, sa.Table) and tables.metadata.tables.get(value.fullname) is not value:
                strays.append(f"{module.__name__}.{attr}")
    assert strays == [], f"tables outside tables.metadata: {strays}"
    assert len(tables.metadata.tables) >= 26  # core, facts, metrics, abilities and operations tables


def test_schema_heads_are_the_migrations_heads_and_a_migrated_database_needs_no_alembic(database_url):
    """storage.db.SCHEMA_HEADS is what alembic finds in migrations/versions (a new migration must update
    it); a process opening a database already at those heads migrates without importing alembic, and one
    opening an empty database still gets every migration."""
    import subprocess
    import sys

    from alembic.script import ScriptDirectory

    from repo_scoping_pipelines.storage import db

    assert db.SCHEMA_HEADS == set(ScriptDirectory(str(db.MIGRATIONS_DIR)).get_heads())
    probe = ("import sys; from pathlib import Path; from repo_scoping_pipelines.config import Settings; "
             "from repo_scoping_pipelines.storage.db import make_engine, migrate, schema_revisions; "
             f"engine = make_engine(Settings(database_url={database_url!r}, home=Path('/nonexistent'))); "
             "migrate(engine); conn = engine.connect(); "
             "print('alembic' in sys.modules, sorted(schema_revisions(conn)))")

    def run_probe() -> str:
        done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert run_probe() == f"False {sorted(db.SCHEMA_HEADS)}"
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as conn:  # an empty database: migrate must run alembic and reach the heads
            conn.execute(sa.text("DROP SCHEMA repo_scoping CASCADE"))
    finally:
        engine.dispose()
    assert run_probe() == f"True {sorted(db.SCHEMA_HEADS)}"
