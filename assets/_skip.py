"""Skipping unchanged work with Dagster's data versions and code versions.

Every per-repository asset carries a code version (a hash of the source of its stage, so a code
change re-runs it). Dagster records with each materialization its data version and its code version;
the gate adds the data versions of its upstreams (`skip/upstream`). Before doing any work an
asset compares those with now: same code, every upstream at the data version it last consumed and
the same settings-dependent inputs -> it does no work and reports a materialization with
`skipped: true` and the `reason` (the last check results carried over), keeping its data version, so
its own dependents skip too. A run tagged `repo_scoping/full_refresh=true` never skips.

An asset that did run but changed nothing (`changed: false`) also keeps its previous data version:
a new commit that leaves the facts as they were does not re-run what depends only on the facts.
"""

import hashlib
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources

import dagster as dg

from repo_scoping_pipelines.run_tags import is_full_refresh

DATA_VERSION_TAG = "dagster/data_version"
CODE_VERSION_TAG = "dagster/code_version"
INPUTS_KEY = "skip/inputs"
CHECKS_KEY = "skip/checks"
# The upstream data versions this materialization saw. Dagster's own `input_data_version` tags are
# not comparable with the upstream's `data_version` tag for `deps=` upstreams materialized in the
# same run (a stable hash, not the user-provided version), so the gate records what it compares.
UPSTREAM_KEY = "skip/upstream"


@lru_cache
def code_version(*packages: str) -> str:
    """A short hash of every .py file of these subpackages of repo_scoping_pipelines (and of this
    package's asset modules and of storage/, whose queries every stage's results depend on): a change
    to a stage's code re-runs that stage's assets."""
    digest = hashlib.sha256()
    roots = [resources.files("repo_scoping_pipelines").joinpath(p) for p in dict.fromkeys((*packages, "storage"))]
    roots.append(resources.files("repo_scoping_pipelines.assets"))
    for root in roots:
        for entry in sorted((e for e in root.iterdir() if e.name.endswith(".py")), key=lambda e: e.name):
            digest.update(entry.name.encode())
            digest.update(entry.read_bytes())
    return digest.hexdigest()[:16]


def _latest(instance: dg.DagsterInstance, key: dg.AssetKey, partition: str) -> dg.EventLogRecord | None:
    return instance.get_latest_data_version_record(key, is_source=False, partition_key=partition)


# The data versions this process's steps reported in the current run, by (run id, asset, partition):
# a downstream gate in the same in-process run reads its upstreams here instead of one event-log
# query each. Only versions the gate itself set are kept (Dagster's own default version is not known
# here); steps in other processes (the multiprocess executor) find nothing and read the event log.
_emitted: dict[tuple[str, str, str], str] = {}


def _remember(context: dg.AssetExecutionContext, version: dg.DataVersion | None) -> None:
    if len(_emitted) > 10_000:
        _emitted.clear()
    key = (context.run_id, context.asset_key.to_user_string(), context.partition_key)
    if version is None:
        _emitted.pop(key, None)
    else:
        _emitted[key] = version.value


class Gate:
    """Whether this asset's partition can be skipped, and how to report either outcome."""

    def __init__(self, context: dg.AssetExecutionContext, inputs: Mapping[str, object] | None = None, *,
                 decide: bool = True) -> None:
        self.context = context
        self.inputs = {k: str(v) for k, v in (inputs or {}).items()}
        self.previous: dg.AssetMaterialization | None = None
        self.previous_run: str | None = None
        self.reason: str | None = None
        self.rerun_because: str = "first materialization"
        self.upstream = self._upstream_versions()
        if decide:
            self._decide()
        else:  # only the previous materialization, for finish()
            self._load_previous()

    def _upstream_versions(self) -> dict[str, str | None]:
        """The latest data version of each upstream asset's partition, as this run sees it."""
        context = self.context
        out = {}
        for upstream in sorted(context.assets_def.asset_deps[context.asset_key], key=lambda k: k.to_user_string()):
            name = upstream.to_user_string()
            known = _emitted.get((context.run_id, name, context.partition_key))
            if known is not None:
                out[name] = known
                continue
            latest = _latest(context.instance, upstream, context.partition_key)
            out[name] = (latest.asset_materialization.tags or {}).get(DATA_VERSION_TAG) if latest else None
        return out

    @property
    def skipped(self) -> bool:
        return self.reason is not None

    def previous_value(self, key: str) -> object:
        """A metadata value of the previous materialization (None when absent)."""
        entry = self.previous.metadata.get(key) if self.previous else None
        return entry.value if entry is not None else None

    def _load_previous(self) -> bool:
        record = _latest(self.context.instance, self.context.asset_key, self.context.partition_key)
        if record is None or record.asset_materialization is None:
            return False
        self.previous, self.previous_run = record.asset_materialization, record.run_id
        return True

    def _decide(self) -> None:
        context = self.context
        key = context.asset_key
        if is_full_refresh(context.run.tags):
            self.rerun_because = "full refresh"
            return
        if not self._load_previous():
            return
        tags = self.previous.tags or {}
        metadata = self.previous.metadata
        current_code = context.assets_def.code_versions_by_key.get(key)
        if tags.get(CODE_VERSION_TAG) != current_code:
            self.rerun_because = "code version changed"
            return
        stored_inputs = metadata.get(INPUTS_KEY)
        if (stored_inputs.value if stored_inputs else {}) != self.inputs:
            self.rerun_because = "settings changed"
            return
        if CHECKS_KEY not in metadata:
            self.rerun_because = "no recorded check results"
            return
        recorded = metadata.get(UPSTREAM_KEY)
        consumed_versions = recorded.value if recorded is not None else {}
        unchanged = []
        for name, current in self.upstream.items():
            consumed = consumed_versions.get(name)
            if consumed is None or current != consumed:
                self.rerun_because = f"{name} changed"
                return
            unchanged.append(name)
        self.reason = (f"unchanged since run {self.previous_run[:8]}: same code version, "
                       f"inputs at the versions it consumed ({', '.join(unchanged) or 'none'})")

    def result(self) -> dg.MaterializeResult:
        """The skipped materialization: the previous row count and data version, the reason, and the
        previous check results carried over (the data they judged has not changed)."""
        assert self.previous is not None and self.reason is not None
        self.context.log.info(f"{self.context.asset_key.to_user_string()} skipped: {self.reason}")
        metadata = self.previous.metadata
        checks = metadata[CHECKS_KEY].value
        rows = metadata.get("dagster/row_count")
        version = dg.DataVersion((self.previous.tags or {})[DATA_VERSION_TAG])
        _remember(self.context, version)
        return dg.MaterializeResult(
            metadata={"skipped": True, "reason": self.reason, "changed": False,
                      "skipped_since_run": self.previous_run,
                      **({"dagster/row_count": rows.value} if rows is not None else {}),
                      INPUTS_KEY: dg.MetadataValue.json(self.inputs),
                      UPSTREAM_KEY: dg.MetadataValue.json(self.upstream),
                      CHECKS_KEY: dg.MetadataValue.json(checks)},
            data_version=version,
            check_results=[dg.AssetCheckResult(
                check_name=name, passed=passed,
                metadata={"skipped": True, "carried_over_from_run": self.previous_run})
                for name, passed in checks.items()],
        )

    def finish(self, result: dg.MaterializeResult, *, changed: bool, fresh: bool = False) -> dg.MaterializeResult:
        """The asset's own result, with what the next run's gate needs: the inputs, the check results,
        `changed` (also in the metadata: whether the stored rows changed) and a data version (the
        previous one when nothing changed; a new one when `fresh`, for assets fed from outside the graph
        whose content changes without an upstream change)."""
        version = result.data_version
        previous = (self.previous.tags or {}).get(DATA_VERSION_TAG) if self.previous else None
        if version is None and not changed and previous:
            version = dg.DataVersion(previous)
        elif version is None and fresh:
            version = dg.DataVersion(hashlib.sha256(f"{previous}:{self.context.run_id}".encode()).hexdigest()[:24])
        checks = {c.check_name: bool(c.passed) for c in result.check_results or []}
        _remember(self.context, version)
        return dg.MaterializeResult(
            asset_key=result.asset_key,
            # `changed` unless the asset says otherwise (a fetch that failed is a new version to the
            # gate, so that the next run retries it, while no stored row changed).
            metadata={"changed": changed, **(result.metadata or {}), "skipped": False,
                      "rerun_because": self.rerun_because,
                      INPUTS_KEY: dg.MetadataValue.json(self.inputs),
                      UPSTREAM_KEY: dg.MetadataValue.json(self.upstream),
                      CHECKS_KEY: dg.MetadataValue.json(checks)},
            check_results=result.check_results, data_version=version, tags=result.tags,
        )
