"""The local deployment as separate processes, the way production runs it (`repo-scoping up|down|status`).

One owner per server: a holder process keeps the embedded pgserver Postgres up, one managed
`milvus-lite server` serves Milvus (embedded.py), a Dagster gRPC code server loads the code location
and launches runs, `dagster-webserver` and `dagster-daemon` (schedules, sensors, the run queue, run
monitoring and retries) read a workspace file pointing at that code server, and the read API serves
`/health` and the rest. Every process gets the same REPO_SCOPING_* environment and DAGSTER_HOME.

State lives under settings.home/run/: `<name>.json` (pid, port, command), `<name>.log`, and the
`workspace.yaml` the webserver and daemon load. Each process starts in its own session (process
group), so stopping it also stops its children (run workers of the code server).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from repo_scoping_pipelines.config import Settings
from repo_scoping_pipelines.operations.embedded import (
    _pid_alive,
    _port_open,
    ensure_milvus_server,
    running_milvus_server,
    stop_milvus_server,
)

LOCATION_NAME = "repo_scoping_pipelines"
CODE_LOCATION_MODULE = "repo_scoping_pipelines.definitions"
IN_FLIGHT = ("STARTING", "STARTED", "CANCELING")


class DeploymentError(RuntimeError):
    """A process could not be started or stopped; the message says which and why."""


class PortInUse(DeploymentError):
    pass


def run_dir(settings: Settings) -> Path:
    return settings.home / "run"


def _executable(name: str) -> str:
    """A console script of this environment (the venv's bin/), else from PATH."""
    local = Path(sys.executable).parent / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if not found:
        raise DeploymentError(f"{name} not found next to {sys.executable} or on PATH")
    return found


# -- process table --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Component:
    name: str
    port_setting: str | None  # Settings field holding the port (None: no TCP port)
    start_timeout_s: float

    def port(self, settings: Settings) -> int | None:
        return getattr(settings, self.port_setting) if self.port_setting else None


POSTGRES = Component("postgres", None, 60)
MILVUS = Component("milvus", None, 90)
CODE_SERVER = Component("code-server", "code_server_port", 180)
WEBSERVER = Component("webserver", "webserver_port", 120)
DAEMON = Component("daemon", None, 120)
API = Component("api", "api_port", 60)
COMPONENTS = [POSTGRES, MILVUS, CODE_SERVER, WEBSERVER, DAEMON, API]


def commands(settings: Settings) -> dict[str, list[str]]:
    """The command line of each process we start (the compose file and Helm values use the same)."""
    host = settings.bind_host
    workspace = str(workspace_file(settings))
    return {
        "postgres": [sys.executable, "-m", "repo_scoping_pipelines.operations.deployment", "hold-postgres"],
        "code-server": [_executable("dagster"), "code-server", "start", "-m", CODE_LOCATION_MODULE,
                        "-h", host, "-p", str(settings.code_server_port), "--location-name", LOCATION_NAME,
                        "--use-python-environment-entry-point"],
        "webserver": [_executable("dagster-webserver"), "-w", workspace, "-h", host,
                      "-p", str(settings.webserver_port)],
        "daemon": [_executable("dagster-daemon"), "run", "-w", workspace],
        "api": [sys.executable, "-m", "repo_scoping_pipelines.cli", "serve", "--host", host,
                "--port", str(settings.api_port)],
    }


def workspace_file(settings: Settings) -> Path:
    return run_dir(settings) / "workspace.yaml"


def write_workspace(settings: Settings) -> Path:
    """The webserver and daemon load the code location from our gRPC code server, not in-process."""
    path = workspace_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    host = "127.0.0.1" if settings.bind_host in ("0.0.0.0", "") else settings.bind_host
    path.write_text(
        "load_from:\n"
        "  - grpc_server:\n"
        f"      host: {host}\n"
        f"      port: {settings.code_server_port}\n"
        f"      location_name: {LOCATION_NAME}\n"
    )
    return path


_children: dict[int, subprocess.Popen] = {}


def _alive(pid: int) -> bool:
    """True while the process runs; reaps it first when this process started it (no zombie counts)."""
    child = _children.get(pid)
    if child is not None and child.poll() is not None:
        return False
    return _pid_alive(pid)


def _state_path(settings: Settings, name: str) -> Path:
    return run_dir(settings) / f"{name}.json"


def log_path(settings: Settings, name: str) -> Path:
    return run_dir(settings) / f"{name}.log"


def read_state(settings: Settings, name: str) -> dict | None:
    """{pid, port, argv, started_at, log} of a process we started and that is still alive."""
    if name == "milvus":
        state = running_milvus_server(settings)
        return {**state, "log": str(settings.home / "milvus-server.log")} if state else None
    path = _state_path(settings, name)
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return state if _alive(int(state["pid"])) else None


def _port_free(host: str, port: int) -> bool:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def check_ports(settings: Settings, names: list[str]) -> None:
    """Fail before starting anything when a port we need is taken by a process we did not start."""
    for component in COMPONENTS:
        port = component.port(settings)
        if component.name not in names or port is None or read_state(settings, component.name):
            continue
        if not _port_free(settings.bind_host, port):
            variable = f"REPO_SCOPING_{component.port_setting.upper()}"
            raise PortInUse(f"port {port} is already in use ({component.name}): stop what listens there "
                            f"or choose another port with {variable} or --{component.name}-port")


def child_environment(settings: Settings) -> dict[str, str]:
    """This process's environment plus DAGSTER_HOME and the ports in use (all as REPO_SCOPING_*)."""
    from repo_scoping_pipelines.operations.dagster_instance import prepare_dagster_home

    home = prepare_dagster_home(settings)
    env = dict(os.environ)
    env.update({
        "DAGSTER_HOME": str(home), "PYTHONUNBUFFERED": "1",
        "REPO_SCOPING_HOME": str(settings.home.resolve()),
        "REPO_SCOPING_CODE_SERVER_PORT": str(settings.code_server_port),
        "REPO_SCOPING_WEBSERVER_PORT": str(settings.webserver_port),
        "REPO_SCOPING_API_PORT": str(settings.api_port),
        "REPO_SCOPING_BIND_HOST": settings.bind_host,
    })
    return env


def _spawn(settings: Settings, name: str, argv: list[str], env: dict[str, str], port: int | None) -> dict:
    run_dir(settings).mkdir(parents=True, exist_ok=True)  # also creates settings.home, the cwd
    log = log_path(settings, name)
    with open(log, "ab") as handle:
        handle.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} start: {' '.join(argv)}\n".encode())
        handle.flush()
        proc = subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, cwd=str(settings.home), start_new_session=True)
    _children[proc.pid] = proc
    state = {"pid": proc.pid, "port": port, "argv": argv, "started_at": time.time(), "log": str(log)}
    _state_path(settings, name).write_text(json.dumps(state))
    return state


def _log_tail(path: str | Path, lines: int = 15) -> str:
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


# -- health probes --------------------------------------------------------------------------------

def _http_json(url: str, timeout: float = 5.0) -> tuple[int, dict | None]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        body, status = exc.read(), exc.code
    try:
        return status, json.loads(body)
    except ValueError:
        return status, None


def code_server_health(host: str, port: int) -> dict:
    """Ping the gRPC code server and ask it for its repositories: a load error comes back as an error."""
    # Dagster has no public client for this; the webserver uses the same gRPC client.
    from dagster import deserialize_value
    from dagster._grpc.client import DagsterGrpcClient

    client = DagsterGrpcClient(host=host, port=port)
    client.ping("health")
    payload = client.list_repositories()
    try:
        response = deserialize_value(payload)
    except Exception:  # an answer this Dagster cannot read is still a live code server
        return {"ok": True}
    if type(response).__name__ == "SerializableErrorInfo":
        message = (response.message or "").strip()
        cause = response.cause
        while cause is not None:
            message = (cause.message or message).strip()
            cause = cause.cause
        return {"ok": False, "error": f"code location failed to load: {message.splitlines()[-1] if message else '?'}"}
    return {"ok": True}


def daemon_health(settings: Settings) -> dict:
    """Age of the newest dagster-daemon heartbeat in the instance (Postgres)."""
    from repo_scoping_pipelines.operations.dagster_instance import dagster_instance
    from repo_scoping_pipelines.operations.health import daemon_liveness

    with dagster_instance(settings) as instance:
        liveness = daemon_liveness(instance.get_daemon_heartbeats())
    if liveness["heartbeat_age_s"] is None:
        return {"ok": False, "error": "no daemon heartbeat yet"}
    detail = {"ok": liveness["alive"], "heartbeat_age_s": liveness["heartbeat_age_s"], "daemons": liveness["daemons"]}
    if not liveness["alive"]:
        detail["error"] = f"last heartbeat {liveness['heartbeat_age_s']:.0f} s ago"
    return detail


def probe(settings: Settings, name: str, state: dict | None) -> dict:
    """{"ok": bool, ...} for one component; never raises."""
    try:
        if name == "postgres":
            if settings.database_url is not None:
                return {"ok": True, "external": True}
            if state is None:
                return {"ok": False, "error": "not running"}
            import sqlalchemy as sa

            engine = sa.create_engine(state["uri"].replace("postgresql://", "postgresql+psycopg://", 1))
            try:
                with engine.connect() as conn:
                    conn.execute(sa.text("SELECT 1"))
            finally:
                engine.dispose()
            return {"ok": True}
        if name == "milvus":
            if settings.milvus_uri is not None:
                return {"ok": True, "external": True}
            return {"ok": state is not None and _port_open(int(state["port"]))} if state else \
                {"ok": False, "error": "not running"}
        if name == "daemon":
            if state is None:
                return {"ok": False, "error": "not running"}
            return daemon_health(settings)
        if state is None:
            return {"ok": False, "error": "not running"}
        host = "127.0.0.1" if settings.bind_host in ("0.0.0.0", "") else settings.bind_host
        if name == "code-server":
            return code_server_health(host, int(state["port"]))
        if name == "webserver":
            status, body = _http_json(f"http://{host}:{state['port']}/server_info")
            return {"ok": status == 200, **({"version": body.get("dagster_version")} if body else {})}
        if name == "api":
            status, body = _http_json(f"http://{host}:{state['port']}/health", timeout=30)
            daemon = ((body or {}).get("dagster") or {}).get("daemon") or {}
            return {"ok": status in (200, 503) and body is not None, "status": (body or {}).get("status"),
                    "daemon_alive": daemon.get("alive")}
    except Exception as exc:  # a probe reports, it does not raise
        return {"ok": False, "error": f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ''}"}
    return {"ok": False, "error": f"unknown component {name}"}


def status(settings: Settings) -> list[dict]:
    """One row per component: name, pid, port, running, health."""
    rows = []
    for component in COMPONENTS:
        state = read_state(settings, component.name)
        row = {"name": component.name, "pid": state["pid"] if state else None,
               "port": state.get("port") if state else component.port(settings),
               "running": state is not None, "log": state.get("log") if state else None}
        if component.name == "postgres" and settings.database_url is not None:
            row.update(running=True, pid=None, port=None, external=True)
        if component.name == "milvus" and settings.milvus_uri is not None:
            row.update(running=True, pid=None, port=None, external=True)
        if component.name == "postgres" and state:
            row["port"] = state.get("socket_dir")
        row["health"] = probe(settings, component.name, state)
        rows.append(row)
    return rows


# -- start and stop -------------------------------------------------------------------------------

def _wait_healthy(settings: Settings, component: Component, state: dict, echo: Callable[[str], None]) -> dict:
    deadline = time.monotonic() + component.start_timeout_s
    health: dict = {"ok": False}
    while time.monotonic() < deadline:
        if not _alive(int(state["pid"])):
            raise DeploymentError(f"{component.name} exited during start-up (log {state['log']}):\n"
                                  f"{_log_tail(state['log'])}")
        health = probe(settings, component.name, state)
        if health.get("ok"):
            return health
        if component.name == "code-server" and "failed to load" in str(health.get("error", "")):
            return health  # it is up and says why the code location does not load: no point waiting
        time.sleep(0.5)
    raise DeploymentError(f"{component.name} not healthy after {component.start_timeout_s:.0f} s: "
                          f"{health.get('error', 'no answer')} (log {state['log']})")


def up(settings: Settings, echo: Callable[[str], None] = print, only: list[str] | None = None) -> list[dict]:
    """Start every component that is not already running, in dependency order; return the status rows.

    Raises PortInUse (before starting anything) when a port is taken, DeploymentError when a process
    dies or stays unhealthy. A code location that fails to load is reported in the rows, not raised:
    the code server, webserver and `status` show the error. `only` limits it to some components
    (Postgres and Milvus always start when embedded).
    """
    names = [c.name for c in COMPONENTS if only is None or c.name in only]
    check_ports(settings, names)
    env = child_environment(settings)
    argv = commands(settings)
    write_workspace(settings)

    if settings.database_url is None and not read_state(settings, "postgres"):
        state = _spawn(settings, "postgres", argv["postgres"], env, None)
        state = _wait_postgres_state(settings, state)
        echo(f"postgres    pid {state['pid']} (embedded, socket {state.get('socket_dir')})")
    if settings.milvus_uri is None:
        uri = ensure_milvus_server(settings)
        echo(f"milvus      pid {read_state(settings, 'milvus')['pid']} {uri}")
    try:
        ensure_pools(settings)
    except Exception as exc:  # the code location does not load here: the code server will say why
        echo(f"pools not initialised ({type(exc).__name__}); the code server reports the load error")
    # Runs left in flight by a crash while nothing was up: fail them so run retries re-queue them.
    if not read_state(settings, "code-server"):
        for run_id in fail_orphaned_runs(settings, "its worker was gone when the deployment started"):
            echo(f"run {run_id[:8]} was left in flight by a stopped deployment: marked failed (will retry)")

    for component in (CODE_SERVER, WEBSERVER, DAEMON, API):
        if component.name not in names:
            continue
        state = read_state(settings, component.name)
        if state:
            echo(f"{component.name:<11} already running (pid {state['pid']})")
            continue
        state = _spawn(settings, component.name, argv[component.name], env, component.port(settings))
        health = _wait_healthy(settings, component, state, echo)
        port = f" port {state['port']}" if state["port"] else ""
        problem = "" if health.get("ok") else f"  ERROR: {health.get('error')}"
        echo(f"{component.name:<11} pid {state['pid']}{port}{problem}")
    return status(settings)


def _wait_postgres_state(settings: Settings, state: dict) -> dict:
    deadline = time.monotonic() + POSTGRES.start_timeout_s
    path = _state_path(settings, "postgres")
    while time.monotonic() < deadline:
        current = json.loads(path.read_text())
        if current.get("uri"):
            return current
        if not _alive(int(state["pid"])):
            raise DeploymentError(f"postgres holder exited during start-up:\n{_log_tail(state['log'])}")
        time.sleep(0.2)
    raise DeploymentError(f"embedded postgres did not start within {POSTGRES.start_timeout_s:.0f} s")


def _stop_pid(pid: int, timeout_s: float) -> bool:
    """SIGTERM the process group, SIGKILL it after timeout_s; True when it had to be killed."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return False
        except PermissionError:
            os.kill(pid, sig)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not _alive(pid):
                _kill_group_leftovers(pid)
                return sig == signal.SIGKILL
            time.sleep(0.1)
    return True


def _kill_group_leftovers(pgid: int) -> None:
    # Children (run workers, forkserver step processes) may outlive their group leader briefly.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def stop_component(settings: Settings, name: str, timeout_s: float = 20.0) -> bool:
    """Stop one component we started; True when it was running."""
    if name == "milvus":
        return stop_milvus_server(settings, timeout_s)
    state = read_state(settings, name)
    path = _state_path(settings, name)
    if state is None:
        path.unlink(missing_ok=True)
        return False
    _stop_pid(int(state["pid"]), timeout_s)
    path.unlink(missing_ok=True)
    return True


def down(settings: Settings, echo: Callable[[str], None] = print, timeout_s: float = 20.0,
         only: list[str] | None = None) -> None:
    """Stop everything in reverse order; runs that were in flight end failed and are retried on the next up.

    `only` stops just those components (the engines keep running unless named).
    """
    def wanted(name: str) -> bool:
        return only is None or name in only

    for name in ("api", "webserver", "daemon"):
        if wanted(name) and stop_component(settings, name, timeout_s):
            echo(f"stopped {name}")
    # The code server's process group holds the run workers: stopping it ends the runs in flight.
    if wanted("code-server"):
        storage_up = settings.database_url is not None or read_state(settings, "postgres") is not None
        interrupted = mark_interrupted_runs(settings) if storage_up and read_state(settings, "code-server") else []
        if stop_component(settings, "code-server", timeout_s):
            echo("stopped code-server")
        if storage_up:
            for run_id in fail_orphaned_runs(settings, "the deployment was stopped (repo-scoping down)"):
                echo(f"run {run_id[:8]} was in flight: marked failed (the daemon re-queues it as a retry)")
            free_pool_slots(settings, interrupted)
    if wanted("milvus") and settings.milvus_uri is None and stop_component(settings, "milvus", timeout_s):
        echo("stopped milvus")
    if wanted("postgres") and stop_component(settings, "postgres", timeout_s):
        echo("stopped postgres")


def ensure_pools(settings: Settings) -> list[str]:
    """Create the slot rows of every pool the code location uses (`pool=` on assets) at their default limit.

    Dagster creates a pool's row lazily when a step first claims it; two runs doing that at the same
    moment race on Postgres and one fails (`InFailedSqlTransaction`), so create them once, up front.
    Limits set by an operator (`dagster instance concurrency set POOL N`) are left alone.
    """
    from repo_scoping_pipelines.definitions import defs
    from repo_scoping_pipelines.operations.dagster_instance import dagster_instance

    graph = defs.resolve_asset_graph()
    pools = sorted({p for key in graph.get_all_asset_keys() for p in (graph.get(key).pools or ())})
    created = []
    with dagster_instance(settings) as instance:
        existing = instance.event_log_storage.get_concurrency_keys()
        for pool in pools:
            if pool not in existing:
                instance.event_log_storage.initialize_concurrency_limit_to_default(pool)
                created.append(pool)
    return created


def mark_interrupted_runs(settings: Settings) -> list[str]:
    """Tag the runs in flight so that their failure, whatever step it hits, is retried (Dagster's tag).

    A run worker stopped with SIGTERM fails the step it was running; without this tag a step failure
    is not retried (dagster.yaml `retry_on_asset_or_op_failure: false`).
    """
    import dagster as dg

    from repo_scoping_pipelines.operations.dagster_instance import dagster_instance

    marked = []
    with dagster_instance(settings) as instance:
        statuses = [dg.DagsterRunStatus[s] for s in IN_FLIGHT]
        for record in instance.get_run_records(filters=dg.RunsFilter(statuses=statuses)):
            instance.add_run_tags(record.dagster_run.run_id, {"dagster/retry_on_asset_or_op_failure": "true",
                                                              "repo_scoping/interrupted": "down"})
            marked.append(record.dagster_run.run_id)
    return marked


def free_pool_slots(settings: Settings, run_ids: list[str]) -> None:
    """Give back the pool slots of runs whose worker is gone (their retries need the same pools)."""
    from repo_scoping_pipelines.operations.dagster_instance import dagster_instance

    if run_ids:
        with dagster_instance(settings) as instance:
            for run_id in run_ids:
                instance.event_log_storage.free_concurrency_slots_for_run(run_id)


def fail_orphaned_runs(settings: Settings, reason: str) -> list[str]:
    """Mark runs still STARTING/STARTED/CANCELING failed (their worker is gone); return their ids.

    A failure reported this way carries no step-failure reason, so the daemon's run retries
    (dagster.yaml `run_retries`) launch a new attempt of the same partition.
    """
    import dagster as dg

    from repo_scoping_pipelines.operations.dagster_instance import dagster_instance

    failed = []
    with dagster_instance(settings) as instance:
        statuses = [dg.DagsterRunStatus[s] for s in IN_FLIGHT]
        for record in instance.get_run_records(filters=dg.RunsFilter(statuses=statuses)):
            run = record.dagster_run
            if run.status == dg.DagsterRunStatus.CANCELING:
                instance.report_run_canceled(run, message=f"Run worker gone: {reason}.")
            else:
                instance.report_run_failed(run, message=f"Run worker gone: {reason}.")
            # Pool slots its steps held would otherwise block the retry's steps of the same pool.
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
            failed.append(run.run_id)
    return failed


# -- the embedded Postgres holder -----------------------------------------------------------------

def hold_postgres() -> None:
    """Own the embedded pgserver Postgres until SIGTERM (pgserver stops it when its last user exits)."""
    from repo_scoping_pipelines.config import load_settings
    from repo_scoping_pipelines.operations.embedded import embedded_postgres_uri

    settings = load_settings()
    uri = embedded_postgres_uri(settings)
    stop = {"now": False}

    def _on_term(signum, frame):
        stop["now"] = True

    signal.signal(signal.SIGTERM, _on_term)
    signal.signal(signal.SIGINT, _on_term)
    path = _state_path(settings, "postgres")
    state = json.loads(path.read_text()) if path.exists() else {"pid": os.getpid()}
    socket_dir = uri.split("host=", 1)[1].split("&", 1)[0] if "host=" in uri else None
    path.write_text(json.dumps({**state, "pid": os.getpid(), "uri": uri, "socket_dir": socket_dir}))
    print(f"embedded postgres up: {socket_dir}", flush=True)
    while not stop["now"]:
        time.sleep(0.5)
    print("stopping embedded postgres", flush=True)
    from repo_scoping_pipelines.operations.embedded import _pg_servers

    for server in list(_pg_servers.values()):
        with contextlib.suppress(Exception):
            server.cleanup()


if __name__ == "__main__":
    if sys.argv[1:] == ["hold-postgres"]:
        hold_postgres()
    else:
        sys.exit("usage: python -m repo_scoping_pipelines.operations.deployment hold-postgres")
