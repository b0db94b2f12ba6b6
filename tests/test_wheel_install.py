"""Installed from its wheel, not editable: `repo-scoping demo SOURCE` works from any folder.

The wheel is built from a copy of this checkout (the files git tracks or would track), installed
with `--no-deps` into a fresh venv that sees this venv's already-installed dependencies through a
plain .pth line (so the editable install's finder, itself a .pth, is never run there), and then run
from an unrelated folder against an empty database: the wheel's own migrations create the schema,
its own dagster.yaml becomes the Dagster home's, and all data lands under that folder's var/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import uuid
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from samples import SAMPLE_FILES

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIRS = {  # source folder -> where pyproject's package-dir puts it in the wheel
    "repo_scoping_pipelines": "repo_scoping_pipelines",
    "assets": "repo_scoping_pipelines/assets",
    "sensors": "repo_scoping_pipelines/sensors",
    "schedules": "repo_scoping_pipelines/schedules",
    "migrations": "repo_scoping_pipelines/migrations",
}
ADMIN_URL = os.environ.get("RSP_TEST_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
# pip's words when the build backend (setuptools) cannot be had at all: then no wheel can be built.
NO_BACKEND = ("No matching distribution found", "Could not find a version that satisfies")


def _run(args: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
         timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _source_files() -> list[str]:
    """The checkout's files as a fresh clone would have them plus untracked ones git does not ignore."""
    listed = _run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO_ROOT)
    if listed.returncode == 0:
        return [f for f in listed.stdout.split("\0") if f]
    skip = {".git", ".venv", "var", "build", "dist", "__pycache__", ".pytest_cache", ".ruff_cache"}
    return [str(p.relative_to(REPO_ROOT)) for p in REPO_ROOT.rglob("*")
            if not p.is_dir() and not (set(p.relative_to(REPO_ROOT).parts) & skip)
            and not any(part.endswith(".egg-info") for part in p.parts)]


def _copy_source(target: Path) -> None:
    for rel in _source_files():
        src = REPO_ROOT / rel
        if not src.exists() and not src.is_symlink():  # deleted in the work tree, still in the index
            continue
        dst = target / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst, follow_symlinks=False)  # the top-level dagster.yaml stays a symlink


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("wheel")
    source, out = base / "src", base / "dist"
    _copy_source(source)
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(source)]
    built = _run(pip_wheel)  # isolated, as `pip install .` builds it
    if built.returncode != 0:
        isolated = built.stdout + built.stderr
        built = _run([*pip_wheel, "--no-build-isolation"])  # this venv's own setuptools, if it can
        if built.returncode != 0:
            if any(words in isolated for words in NO_BACKEND):
                pytest.skip(f"cannot build a wheel: no build backend (setuptools) to be had: {isolated[-500:]}")
            pytest.fail(f"building the wheel failed:\n{isolated[-3000:]}\n{built.stdout[-1500:]}{built.stderr[-1500:]}")
    wheels = sorted(out.glob("repo_scoping_pipelines-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> tuple[Path, Path]:
    """(venv, its site-packages) holding the wheel; dependencies come from this venv, unreinstalled."""
    venv = tmp_path_factory.mktemp("venv") / "env"
    made = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    # Install first, with nothing else visible: pip then sees no other copy of the project.
    done = _run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                 "--no-index", str(wheel)])
    assert done.returncode == 0, done.stdout + done.stderr
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    assert site.is_dir() and site.is_relative_to(venv), site
    ours = sysconfig.get_paths()
    # Plain path lines: sys.path gains this venv's site-packages, but the .pth files there (the
    # editable install's finder among them) are not processed, so the project comes from the wheel.
    (site / "_rsp_test_dependencies.pth").write_text("".join(f"{ours[k]}\n" for k in ("purelib", "platlib")))
    return venv, site


@pytest.fixture
def empty_database():
    """A database without any schema: the installed package's migrations must create it."""
    name = f"rsp_wheel_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield sa.make_url(ADMIN_URL).set(database=name, drivername="postgresql").render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")
            if "__pycache__" not in p.parts and not p.name.endswith(".pyc")}


def test_wheel_ships_every_package_and_its_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "repo_scoping_pipelines/dagster.yaml" in names
    assert "repo_scoping_pipelines/migrations/script.py.mako" in names
    # Every module of the checkout is in the wheel (a package left out of pyproject's list is not).
    for folder, inside in PACKAGE_DIRS.items():
        for module in (REPO_ROOT / folder).rglob("*.py"):
            if "__pycache__" in module.parts:
                continue
            assert f"{inside}/{module.relative_to(REPO_ROOT / folder).as_posix()}" in names, module
    assert not any(n.startswith(("tests/", "bench/", "deploy/", "var/")) for n in names)
    assert (REPO_ROOT / "dagster.yaml").read_text() == zipfile.ZipFile(wheel).read(
        "repo_scoping_pipelines/dagster.yaml").decode()


def test_demo_from_any_folder_keeps_data_under_its_var(installed, empty_database, make_repo, tmp_path):
    venv, site = installed
    source = make_repo("payments", SAMPLE_FILES)
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("REPO_SCOPING_") and k not in ("DAGSTER_HOME", "PYTHONPATH", "PYTHONHOME")}
    env.update(REPO_SCOPING_DATABASE_URL=empty_database,
               REPO_SCOPING_MILVUS_URI=str(tmp_path / "milvus" / "milvus.db"))  # Milvus Lite in-process
    (tmp_path / "milvus").mkdir()

    where = _run([str(venv / "bin" / "python"), "-c",
                  "import repo_scoping_pipelines as p, repo_scoping_pipelines.migrations as m; "
                  "print(p.__file__); print(m.__file__)"], cwd=work, env=env)
    assert where.returncode == 0, where.stderr
    package_file, migrations_file = (Path(line) for line in where.stdout.split())
    assert package_file.is_relative_to(site) and migrations_file.is_relative_to(site), where.stdout

    before = _tree(venv)
    result = _run([str(venv / "bin" / "repo-scoping"), "demo", str(source.path), "--query", "overdue invoices"],
                  cwd=work, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"registered payments from {source.path}" in result.stdout
    assert f"== payments @ {source.head()[:12]}: {len(SAMPLE_FILES)} files" in result.stdout
    assert "Python" in result.stdout and "payments/invoices.py" in result.stdout
    assert "Traceback" not in result.stderr

    # Everything under the folder the command ran in: its var/ is the home.
    var = work / "var"
    assert (var / "dagster" / "dagster.yaml").read_text() == (site / "repo_scoping_pipelines" / "dagster.yaml").read_text()
    assert (var / "checkouts" / "payments" / "payments" / "invoices.py").is_file()
    assert (var / "logs" / "operations.jsonl").is_file()
    assert sorted(p.name for p in work.iterdir()) == ["var"]
    # Nothing beside the installed package (the old default home was the package's parent folder).
    assert _tree(venv) == before
    assert not (site / "var").exists() and not (site / "repo_scoping_pipelines" / "var").exists()
    # The wheel's migrations made the schema in the empty database.
    engine = sa.create_engine(empty_database)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM repo_scoping.repositories")).scalar() == 1
    finally:
        engine.dispose()

    # An installed package has no checkout of its own to default to.
    bare = _run([str(venv / "bin" / "repo-scoping"), "demo"], cwd=work, env=env)
    assert bare.returncode == 2 and "pass a git path or URL" in bare.stderr, bare.stdout + bare.stderr
