"""The shipped deployment files agree with the code: no container engine or cluster runs here, so check
what can be checked — they parse, every REPO_SCOPING_* variable they set is a setting, and their
commands, ports and images match the CLI, the Dockerfile and the Dagster instance config."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from repo_scoping_pipelines.config import PROJECT_ROOT, Settings
from repo_scoping_pipelines.operations import deployment

DEPLOY = PROJECT_ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
HELM = DEPLOY / "helm" / "values.yaml"
MILVUS_HELM = DEPLOY / "helm" / "milvus-values.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
DEFAULTS = Settings(home=Path("/nonexistent"))
IMAGE = "repo-scoping-pipelines"


def _load(path: Path):
    return yaml.safe_load(path.read_text())


def _dockerfile() -> dict:
    """Instructions of the Dockerfile: {"ENV": {...}, "EXPOSE": [...], "CMD": [...], "COPY": [...]}."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    parsed: dict = {"ENV": {}, "EXPOSE": [], "COPY": [], "FROM": []}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, rest = line.partition(" ")
        if instruction == "ENV":
            parsed["ENV"].update(dict(pair.split("=", 1) for pair in shlex.split(rest)))
        elif instruction == "EXPOSE":
            parsed["EXPOSE"] += [int(p) for p in rest.split()]
        elif instruction == "CMD":
            parsed["CMD"] = yaml.safe_load(rest)  # JSON exec form
        elif instruction in ("COPY", "FROM"):
            parsed[instruction].append(rest.split())
    return parsed


def _env_names(obj) -> set[str]:
    """Every REPO_SCOPING_* name set anywhere in a parsed YAML document (mappings, lists, "K=V" strings)."""
    found: set[str] = set()
    if isinstance(obj, dict):
        for key, value in obj.items():
            if isinstance(key, str) and key.startswith("REPO_SCOPING_"):
                found.add(key)
            if key == "name" and isinstance(value, str) and value.startswith("REPO_SCOPING_"):
                found.add(value)
            found |= _env_names(value)
    elif isinstance(obj, list):
        for item in obj:
            found |= _env_names(item)
    elif isinstance(obj, str):
        found |= set(re.findall(r"\b(REPO_SCOPING_[A-Z0-9_]+)=", obj))
    return found


KNOWN = {f"REPO_SCOPING_{name.upper()}" for name in Settings.model_fields}


@pytest.mark.parametrize("path", [COMPOSE, HELM, MILVUS_HELM, DEPLOY / "workspace.yaml",
                                  PROJECT_ROOT / "dagster.yaml", PROJECT_ROOT / "workspace.yaml"])
def test_yaml_files_parse(path):
    assert isinstance(_load(path), dict)


def test_every_variable_set_is_a_setting():
    mentioned = _env_names(_load(COMPOSE)) | _env_names(_load(HELM)) | set(_dockerfile()["ENV"])
    repo_vars = {v for v in mentioned if v.startswith("REPO_SCOPING_")}
    assert repo_vars, "the deployment files configure the project through REPO_SCOPING_*"
    assert repo_vars <= KNOWN, f"unknown settings: {sorted(repo_vars - KNOWN)}"
    # Secrets named in the Helm header exist too.
    header = re.findall(r"REPO_SCOPING_[A-Z0-9_]+", HELM.read_text())
    assert set(header) <= KNOWN


def test_dockerfile_matches_cli_and_settings():
    docker = _dockerfile()
    assert docker["FROM"][0][0].startswith("python:3.11")
    assert set(docker["EXPOSE"]) == {DEFAULTS.code_server_port, DEFAULTS.webserver_port, DEFAULTS.api_port}
    cmd = docker["CMD"]
    assert cmd[:3] == ["dagster", "code-server", "start"]
    assert cmd[cmd.index("-m") + 1] == deployment.CODE_LOCATION_MODULE
    assert int(cmd[cmd.index("-p") + 1]) == DEFAULTS.code_server_port
    assert cmd[cmd.index("--location-name") + 1] == deployment.LOCATION_NAME
    # Everything the package needs at run time is copied into the image.
    copied = {source for parts in docker["COPY"] for source in parts[:-1]}
    for needed in ("pyproject.toml", "dagster.yaml", "repo_scoping_pipelines", "assets", "sensors", "schedules",
                   "migrations", "deploy/workspace.yaml"):
        assert needed in copied, needed
        assert (PROJECT_ROOT / needed).exists(), needed
    assert docker["ENV"]["DAGSTER_HOME"] and docker["ENV"]["REPO_SCOPING_BIND_HOST"] == "0.0.0.0"


def _args(command: list[str]) -> list[str]:
    """A command without its executable path, host and port values, for comparing across files."""
    out, skip = [], False
    for part in command[1:]:
        if skip:
            skip = False
            continue
        if part in ("-h", "--host", "-p", "--port", "-w"):
            skip = True
            out.append(part)
            continue
        out.append(part)
    return [Path(command[0]).name, *out]


def test_compose_agrees_with_cli_dockerfile_and_ports():
    compose = _load(COMPOSE)
    services = compose["services"]
    assert {"postgres", "milvus", "code-server", "webserver", "daemon", "api"} <= set(services)
    local = deployment.commands(DEFAULTS)
    for name in ("code-server", "webserver", "daemon"):
        service = services[name]
        assert service["image"].split(":")[0] == IMAGE
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        assert _args(service["command"]) == _args(local[name]), name
    # The code server runs exactly the Dockerfile's command.
    assert services["code-server"]["command"] == _dockerfile()["CMD"]
    assert services["api"]["command"][:2] == ["repo-scoping", "serve"]
    assert local["api"][local["api"].index("serve"):][:1] == ["serve"]
    # Ports: published ones are the settings' defaults, and the workspace points at the code server.
    assert f"{DEFAULTS.webserver_port}:{DEFAULTS.webserver_port}" in services["webserver"]["ports"]
    assert f"{DEFAULTS.api_port}:{DEFAULTS.api_port}" in services["api"]["ports"]
    assert str(DEFAULTS.code_server_port) in services["code-server"]["expose"]
    (grpc,) = _load(DEPLOY / "workspace.yaml")["load_from"]
    assert grpc["grpc_server"] == {"host": "code-server", "port": DEFAULTS.code_server_port,
                                   "location_name": deployment.LOCATION_NAME}
    # External engines: the app talks to the compose Postgres and Milvus services.
    env = services["code-server"]["environment"]
    assert "@postgres:5432/" in env["REPO_SCOPING_DATABASE_URL"]
    assert env["REPO_SCOPING_MILVUS_URI"] == "http://milvus:19530"
    assert services["milvus"]["command"] == ["milvus", "run", "standalone"]


def test_helm_values_use_our_image_external_postgres_and_k8s_launcher():
    values = _load(HELM)
    (user,) = values["dagster-user-deployments"]["deployments"]
    assert user["image"]["repository"].endswith("/" + IMAGE)
    assert user["dagsterApiGrpcArgs"] == ["--module-name", deployment.CODE_LOCATION_MODULE]
    assert user["port"] == DEFAULTS.code_server_port
    assert values["postgresql"]["enabled"] is False and values["postgresql"]["postgresqlHost"]
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    coordinator = values["dagsterDaemon"]["runCoordinator"]
    assert coordinator["type"] == "QueuedRunCoordinator"
    limits = coordinator["config"]["queuedRunCoordinator"]["tagConcurrencyLimits"]
    assert {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in limits
    # The Milvus URI the code location and the run pods get is the Milvus chart's service.
    milvus = _load(MILVUS_HELM)
    assert milvus["cluster"]["enabled"] is False and milvus["service"]["port"] == 19530
    uri = next(e["value"] for e in user["env"] if e["name"] == "REPO_SCOPING_MILVUS_URI")
    assert uri.endswith(":19530")
    assert f"REPO_SCOPING_MILVUS_URI={uri}" in values["runLauncher"]["config"]["k8sRunLauncher"]["envVars"]


def test_instance_config_queues_runs_one_per_repository():
    instance = _load(PROJECT_ROOT / "dagster.yaml")
    assert instance["run_coordinator"]["class"] == "QueuedRunCoordinator"
    runs = instance["concurrency"]["runs"]
    assert runs["max_concurrent_runs"] >= 1
    assert {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1} \
        in runs["tag_concurrency_limits"]
    assert instance["concurrency"]["pools"]["default_limit"] >= 1
    assert instance["run_monitoring"]["enabled"] is True
    assert instance["run_retries"]["enabled"] is True


def test_code_location_validates_as_the_code_server_loads_it(tmp_path):
    """`dagster definitions validate` catches what loading in-process does not (e.g. name clashes)."""
    result = subprocess.run([sys.executable, "-m", "dagster", "definitions", "validate",
                             "-m", deployment.CODE_LOCATION_MODULE],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
