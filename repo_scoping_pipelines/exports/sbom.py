"""A CycloneDX 1.6 JSON SBOM from observed manifest, dependency and locked_dependency facts, built with
the CycloneDX Python library (cyclonedx-python-lib).

One component per dependency fact (a direct dependency, `repo-scoping:direct=true`): the manifest path
and line are its evidence (an occurrence) and its properties. Its version is the one the nearest
lockfile of its ecosystem (in the manifest's directory or above it) pins for it, with that lockfile's
path and line as a second occurrence; without a lockfile, a version only where the manifest pins one
exactly (`==1.2`, a go.mod version, a bare npm/Composer/Gem version...), otherwise the declared
constraint is a property and the version is left out. Every locked package no manifest declares is a
component of its own (`repo-scoping:direct=false`, the lockfile line as evidence). Which package requires
which is not recorded, and the document says so.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from cyclonedx.model import Property
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.bom_ref import BomRef
from cyclonedx.model.component import Component, ComponentScope, ComponentType
from cyclonedx.model.component_evidence import (
    AnalysisTechnique,
    ComponentEvidence,
    Identity,
    IdentityField,
    Method,
    Occurrence,
)
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

MEDIA_TYPE = "application/vnd.cyclonedx+json"
SPEC_VERSION = "1.6"
NS = "repo-scoping"  # namespace of our properties (CycloneDX property taxonomy: name your own namespace)
TOOL_NAME = "repo-scoping-pipelines"
TOOL_VERSION = "0.1.0"

# Package URL types (github.com/package-url/purl-spec) of the ecosystems the manifest extractors know.
# gradle-plugin ids have no purl type of their own: those components carry no purl.
_PURL_TYPES = {"pypi": "pypi", "npm": "npm", "go": "golang", "cargo": "cargo", "maven": "maven",
               "rubygems": "gem", "packagist": "composer"}
# Our scopes -> CycloneDX's: required at run time, optional, or excluded (tooling, never shipped).
_SCOPES = {"runtime": ComponentScope.REQUIRED, "optional": ComponentScope.OPTIONAL, "peer": ComponentScope.OPTIONAL,
           "dev": ComponentScope.EXCLUDED, "build": ComponentScope.EXCLUDED, "parent": ComponentScope.REQUIRED}
# Value keys of a dependency fact written as properties (besides ecosystem, constraint, scope, manifest).
_EXTRA_KEYS = ("group", "extras", "markers", "url", "indirect", "maven_scope", "optional", "configuration")

_LOCK_KEYS = ("source", "resolved", "index", "groups", "nested")

_SEMVER = re.compile(r"^v?\d+(\.\d+)*([-+][0-9A-Za-z.+-]+)?$")


@dataclass(frozen=True)
class Document:
    """One generated export: its text, media type and a hash of the text (stable for the same facts)."""

    kind: str
    media_type: str
    content: str
    commit: str | None

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.content.encode()).hexdigest()

    def as_json(self) -> dict:
        return json.loads(self.content)


def pinned_version(ecosystem: str, constraint: str) -> str | None:
    """The one version a declared constraint allows, or None when it allows a range (or says nothing)."""
    spec = (constraint or "").strip()
    if not spec:
        return None
    if ecosystem == "pypi":
        match = re.fullmatch(r"===?\s*([^,;*\s]+)", spec)
        return match.group(1) if match else None
    if ecosystem == "go":
        return spec if _SEMVER.match(spec) else None
    if ecosystem in ("npm", "packagist"):
        spec = spec[1:].strip() if spec.startswith("=") and not spec.startswith("==") else spec
        if not _SEMVER.match(spec):
            return None
        return spec.lstrip("v") if ecosystem == "npm" else spec
    if ecosystem == "cargo":  # a bare version is a caret requirement; only =x.y.z is exact
        match = re.fullmatch(r"=\s*(\d+(\.\d+)*([-+][0-9A-Za-z.+-]+)?)", spec)
        return match.group(1) if match else None
    if ecosystem == "rubygems":  # "1.2" and "= 1.2" are exact; "~> 1.2", ">= 1" and several are not
        match = re.fullmatch(r"(=\s*)?(\d+(\.\d+)*([.-][0-9A-Za-z.]+)?)", spec)
        return match.group(2) if match else None
    if ecosystem in ("maven", "gradle-plugin"):  # a plain Maven version; ranges, ${unresolved}, LATEST are not
        if re.search(r"[\[\](),${}]", spec) or spec in ("LATEST", "RELEASE") or " " in spec:
            return None
        return spec
    return None


def _coordinates(ecosystem: str, subject: str) -> tuple[str | None, str]:
    """(group, name) as CycloneDX tools write them: npm @scope, Maven groupId, Composer vendor."""
    if ecosystem == "npm" and subject.startswith("@") and "/" in subject:
        scope, name = subject.split("/", 1)
        return scope, name
    if ecosystem == "maven" and ":" in subject:
        group, name = subject.split(":", 1)
        return (None if group in ("", "None") else group), name
    if ecosystem == "packagist" and "/" in subject:
        vendor, name = subject.split("/", 1)
        return vendor, name
    return None, subject


def package_url(ecosystem: str, subject: str, version: str | None) -> PackageURL | None:
    purl_type = _PURL_TYPES.get(ecosystem)
    if purl_type is None or not subject:
        return None
    if purl_type == "golang":
        namespace, _, name = subject.rpartition("/")
        return PackageURL(type=purl_type, namespace=namespace or None, name=name, version=version)
    group, name = _coordinates(ecosystem, subject)
    if purl_type == "maven" and group is None:
        return None  # a Maven purl needs its groupId
    return PackageURL(type=purl_type, namespace=group, name=name, version=version)


def _prop(name: str, value: object) -> Property:
    if isinstance(value, list | tuple):
        value = ",".join(str(v) for v in value)
    return Property(name=f"{NS}:{name}", value=str(value).lower() if isinstance(value, bool) else str(value))


def _lock_properties(lock: dict) -> list[Property]:
    value = lock.get("value") or {}
    return [_prop("lock-fact-id", lock["fact_id"]), _prop("lockfile", lock["path"]),
            _prop("lockfile-line", lock["line"]), _prop("locked-version", value.get("version") or "")] + [
        _prop(f"lock-{key}", value[key]) for key in _LOCK_KEYS if value.get(key) not in (None, "", False, [])]


def _evidence(purl: PackageURL | None, facts: list[dict]) -> ComponentEvidence:
    confidence = Decimal(str(round(min(float(f.get("confidence", 1.0)) for f in facts), 4)))
    return ComponentEvidence(
        identity=[Identity(field=IdentityField.PURL if purl else IdentityField.NAME, confidence=confidence,
                           methods=[Method(technique=AnalysisTechnique.MANIFEST_ANALYSIS, confidence=confidence,
                                           value=f"{f['path']}:{f['line']}") for f in facts])],
        occurrences=[Occurrence(location=f["path"], line=int(f["line"])) for f in facts])


def _component(fact: dict, lock: dict | None = None) -> Component:
    """A declared (direct) dependency; `lock` is the locked_dependency fact pinning it, if any."""
    value = fact.get("value") or {}
    ecosystem = str(value.get("ecosystem") or "")
    constraint = str(value.get("constraint") or "")
    scope = str(value.get("scope") or "")
    locked = str((lock.get("value") or {}).get("version") or "") if lock else ""
    version = locked or pinned_version(ecosystem, constraint)
    purl = package_url(ecosystem, fact["subject"], version)
    group, name = _coordinates(ecosystem, fact["subject"])
    properties = [_prop("fact-id", fact["fact_id"]), _prop("ecosystem", ecosystem), _prop("direct", True),
                  _prop("manifest", fact["path"]), _prop("manifest-line", fact["line"]),
                  _prop("scope", scope or "unknown"),
                  _prop("version-constraint", constraint if constraint else "none declared")]
    if version is None:
        properties.append(_prop("unknown", "version: the manifest declares "
                                + (f"the range {constraint!r}" if constraint else "no version")
                                + "; the resolved version is not observed"))
    properties += [_prop(key, value[key]) for key in _EXTRA_KEYS if value.get(key) not in (None, "", False, [])]
    if lock:
        properties += _lock_properties(lock)
    return Component(
        type=ComponentType.LIBRARY, name=name, group=group, version=version, purl=purl,
        bom_ref=BomRef(f"dependency:{fact['fact_id']}"), scope=_SCOPES.get(scope), properties=properties,
        evidence=_evidence(purl, [fact, lock] if lock else [fact]))


def _locked_component(lock: dict) -> Component:
    """A package a lockfile pins that no manifest declares: a transitive dependency."""
    value = lock.get("value") or {}
    ecosystem = str(value.get("ecosystem") or "")
    scope = str(value.get("scope") or "")
    version = str(value.get("version") or "") or None
    purl = package_url(ecosystem, lock["subject"], version)
    group, name = _coordinates(ecosystem, lock["subject"])
    properties = [_prop("ecosystem", ecosystem), _prop("direct", False), _prop("scope", scope or "unknown")]
    properties += _lock_properties(lock)
    return Component(
        type=ComponentType.LIBRARY, name=name, group=group, version=version, purl=purl,
        bom_ref=BomRef(f"locked:{lock['fact_id']}"), scope=_SCOPES.get(scope), properties=properties,
        evidence=_evidence(purl, [lock]))


def _directory(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""


def _package_key(ecosystem: str, subject: str) -> tuple[str, str]:
    return ecosystem, subject.lower() if ecosystem == "packagist" else subject  # Composer names: any case


def _match_locks(dependencies: list[dict], locks: list[dict]) -> dict[str, dict]:
    """fact_id of a dependency -> the locked_dependency pinning it: same ecosystem and name, in the
    nearest lockfile at or above the manifest's directory (the entry locked for the manifest's range
    where the lockfile records ranges, as yarn.lock and pnpm-lock.yaml do; a top-level copy before a
    nested one)."""
    by_package: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for lock in locks:
        by_package[_package_key(str((lock.get("value") or {}).get("ecosystem") or ""), lock["subject"])].append(lock)
    matched = {}
    for fact in dependencies:
        value = fact.get("value") or {}
        directory = _directory(str(value.get("manifest") or fact["path"]))
        constraint = str(value.get("constraint") or "")
        candidates = [lock for lock in by_package.get(_package_key(str(value.get("ecosystem") or ""),
                                                                   fact["subject"]), [])
                      if (d := _directory(lock["path"])) == "" or directory == d or directory.startswith(d + "/")]
        if candidates:
            matched[fact["fact_id"]] = min(candidates, key=lambda lock: (
                -len(_directory(lock["path"])), constraint not in ((lock.get("value") or {}).get("ranges") or ()),
                bool((lock.get("value") or {}).get("nested")), lock["path"], lock["line"]))
    return matched


def build_sbom(repository: str, commit: str | None, facts: Iterable[dict], *,
               timestamp: datetime | None = None) -> Document:
    """The SBOM of one repository's snapshot from its facts (dicts with fact_id, kind, subject, value, path,
    line, confidence; other kinds than manifest and dependency are ignored). Deterministic: the serial
    number is derived from the content, the timestamp is the caller's (the snapshot's time)."""
    facts = list(facts)
    manifests = sorted((f for f in facts if f["kind"] == "manifest"), key=lambda f: (f["path"], f["line"]))
    dependencies = sorted((f for f in facts if f["kind"] == "dependency"),
                          key=lambda f: (f["path"], f["line"], f["subject"], f["fact_id"]))
    locks = sorted((f for f in facts if f["kind"] == "locked_dependency"),
                   key=lambda f: (f["path"], f["line"], f["subject"], f["fact_id"]))
    matched = _match_locks(dependencies, locks)
    used = {lock["fact_id"] for lock in matched.values()}
    transitive = [lock for lock in locks if lock["fact_id"] not in used]
    lockfiles = sorted({lock["path"] for lock in locks})
    unknown = []
    if not manifests and not dependencies and not locks:
        unknown.append("dependencies: no dependency manifest was observed in this repository, so its "
                       "dependencies are unknown (not known to be none)")
    elif not locks:
        unknown.append("transitive dependencies and resolved versions: only the dependencies declared in "
                       "manifests are listed; no lockfile was observed and installed packages are not read")
    else:
        unknown.append("dependency edges: the packages the lockfiles pin are listed, but which package "
                       "requires which is not recorded; dependencies of manifests without a lockfile are "
                       "declared, not resolved")
    metadata_properties = [_prop("repository", repository), _prop("commit", commit or "unknown"),
                           _prop("manifests", len(manifests)), _prop("dependencies", len(dependencies)),
                           _prop("lockfiles", len(lockfiles)), _prop("locked-packages", len(locks))]
    metadata_properties += [_prop("manifest", f"{m['path']}:{m['line']}") for m in manifests]
    metadata_properties += [_prop("lockfile", path) for path in lockfiles]
    metadata_properties += [_prop("unknown", text) for text in unknown]

    root = Component(type=ComponentType.APPLICATION, name=repository, version=commit,
                     bom_ref=BomRef(f"repository:{repository}"),
                     properties=[_prop("component", "the registered repository (source at this commit)")])
    tool = Component(type=ComponentType.APPLICATION, name=TOOL_NAME, version=TOOL_VERSION,
                     bom_ref=BomRef(f"tool:{TOOL_NAME}"))
    direct = [_component(f, matched.get(f["fact_id"])) for f in dependencies]
    components = direct + [_locked_component(lock) for lock in transitive]
    key = json.dumps([repository, commit, [(f["fact_id"], f["value"]) for f in dependencies],
                      [(m["path"], m["line"]) for m in manifests]]
                     + ([[(f["fact_id"], f["value"]) for f in locks]] if locks else []), sort_keys=True, default=str)
    bom = Bom(serial_number=uuid.uuid5(uuid.NAMESPACE_URL, f"repo-scoping:sbom:{key}"),
              metadata=BomMetaData(component=root, properties=metadata_properties,
                                   timestamp=timestamp or datetime.now(UTC)),
              components=components)
    bom.metadata.tools.components.add(tool)
    # Only the root's direct dependencies: a component without its own entry has unknown dependencies
    # (CycloneDX 1.6), which is what a manifest tells of them; an empty entry would claim it has none.
    bom.register_dependency(root, direct)
    data = json.loads(JsonV1Dot6(bom).output_as_string())
    # The library writes an empty entry for every component without one, which in CycloneDX 1.6 says
    # "depends on nothing": keep only the entries we know (the root's direct dependencies).
    for component in data.get("components", []):
        # Occurrences without a bom-ref compare equal, so the library's set writes them in memory order:
        # the manifest's line first, then the lockfile's, for the same text from the same facts.
        manifest = next((p["value"] for p in component.get("properties", []) if p["name"] == f"{NS}:manifest"), None)
        component.get("evidence", {}).get("occurrences", []).sort(
            key=lambda o: (o.get("location") != manifest, o.get("location", ""), o.get("line", 0)))
    data["dependencies"] = [d for d in data.get("dependencies", []) if d.get("dependsOn")]
    if not data["dependencies"]:
        del data["dependencies"]
    order = ["$schema", "bomFormat", "specVersion", "serialNumber", "version", "metadata", "components",
             "dependencies"]
    data = {k: data[k] for k in sorted(data, key=lambda k: (order.index(k) if k in order else len(order), k))}
    return Document("sbom", MEDIA_TYPE, json.dumps(data, indent=2) + "\n", commit)
