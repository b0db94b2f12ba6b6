"""CI and delivery: GitHub Actions and GitLab CI jobs, Dockerfiles (base images, CMD/ENTRYPOINT),
compose services and Helm charts. YAML is read with PyYAML's safe loader, which keeps line marks."""

from __future__ import annotations

import json
import re
from pathlib import PurePosixPath

import yaml

from .entrypoints import script_fact
from .model import Fact, FileExtraction

_WORKFLOW = re.compile(r"^\.github/workflows/[^/]+\.ya?ml$")
_COMPOSE = re.compile(r"(^|/)(docker-)?compose(\.[\w-]+)?\.ya?ml$")
_GITLAB_RESERVED = {"stages", "variables", "image", "services", "before_script", "after_script", "cache", "include",
                    "default", "workflow", "types", "pages:deploy"}
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def is_dockerfile(path: str) -> bool:
    name = PurePosixPath(path).name
    return name in ("Dockerfile", "Containerfile") or name.startswith("Dockerfile.") or \
        name.lower().endswith(".dockerfile")


def delivery_kind(path: str) -> str | None:
    if _WORKFLOW.match(path):
        return "github_actions"
    if path == ".gitlab-ci.yml":
        return "gitlab_ci"
    if is_dockerfile(path):
        return "dockerfile"
    if _COMPOSE.search(path):
        return "compose"
    if PurePosixPath(path).name == "Chart.yaml":
        return "helm"
    return None


def extract(path: str, text: str) -> FileExtraction:
    kind = delivery_kind(path)
    if kind == "dockerfile":
        return FileExtraction(facts=dockerfile_facts(path, text))
    if kind is None:
        return FileExtraction()
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        reason = str(exc).replace("\n", " ")[:200]
        return FileExtraction(warnings=[f"{path}: malformed YAML ({reason}); skipped"])
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
        return FileExtraction(warnings=[f"{path}: not a YAML mapping; skipped"])
    lines = _key_lines(node)
    facts = {"github_actions": _github_actions, "gitlab_ci": _gitlab_ci, "compose": _compose,
             "helm": _helm}[kind](path, data, lines)
    return FileExtraction(facts=facts)


def _key_lines(node: yaml.MappingNode, depth: int = 0) -> dict:
    """{key: (line, nested lines)} for a mapping node, two levels deep."""
    out = {}
    for key, value in node.value:
        if not isinstance(key, yaml.ScalarNode):
            continue
        nested = _key_lines(value, depth + 1) if depth < 1 and isinstance(value, yaml.MappingNode) else {}
        out[key.value] = (key.start_mark.line + 1, nested)
    return out


def _strings(value) -> list[str]:
    if isinstance(value, str | int | float):
        return [str(value)]
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, str | int | float)]
    if isinstance(value, dict):
        return [str(k) for k in value]
    return []


def _github_actions(path: str, data: dict, lines: dict) -> list[Fact]:
    triggers = _strings(data.get("on", data.get(True)))  # YAML 1.1 reads a bare `on` key as true
    jobs = data.get("jobs")
    if not isinstance(jobs, dict):
        return []
    job_lines = lines.get("jobs", (1, {}))[1]
    facts = []
    for job_id, job in jobs.items():
        job = job if isinstance(job, dict) else {}
        steps = job.get("steps") if isinstance(job.get("steps"), list) else []
        uses = sorted({s["uses"].split("@")[0] for s in steps if isinstance(s, dict) and isinstance(s.get("uses"), str)})
        value = {"system": "github_actions", "workflow": data.get("name") if isinstance(data.get("name"), str)
                 else PurePosixPath(path).stem, "job": str(job_id), "name": job.get("name") if isinstance(
                     job.get("name"), str) else None, "triggers": triggers, "runs_on": _strings(job.get("runs-on")),
                 "steps": len(steps), "uses": uses[:20],
                 "reusable_workflow": job.get("uses") if isinstance(job.get("uses"), str) else None}
        facts.append(Fact("ci_job", str(job_id), value, path, job_lines.get(str(job_id), (1,))[0]))
    return facts


def _gitlab_ci(path: str, data: dict, lines: dict) -> list[Fact]:
    facts = []
    for job_id, job in data.items():
        if not isinstance(job_id, str) or job_id in _GITLAB_RESERVED or job_id.startswith(".") or \
                not isinstance(job, dict):
            continue
        script = job.get("script")
        value = {"system": "gitlab_ci", "job": job_id, "stage": job.get("stage", "test"),
                 "image": job.get("image") if isinstance(job.get("image"), str) else None,
                 "script_lines": len(script) if isinstance(script, list) else int(isinstance(script, str)),
                 "extends": _strings(job.get("extends"))}
        facts.append(Fact("ci_job", job_id, value, path, lines.get(job_id, (1,))[0]))
    return facts


def _compose(path: str, data: dict, lines: dict) -> list[Fact]:
    services = data.get("services")
    if not isinstance(services, dict):
        return []
    service_lines = lines.get("services", (1, {}))[1]
    facts = []
    for name, service in services.items():
        service = service if isinstance(service, dict) else {}
        build = service.get("build")
        value = {"image": service.get("image") if isinstance(service.get("image"), str) else None,
                 "build": build if isinstance(build, str) else (build.get("context") if isinstance(build, dict)
                                                                else None),
                 "ports": _strings(service.get("ports")), "depends_on": _strings(service.get("depends_on")),
                 "compose_file": path}
        facts.append(Fact("compose_service", str(name), value, path, service_lines.get(str(name), (1,))[0]))
    return facts


def _helm(path: str, data: dict, lines: dict) -> list[Fact]:
    name = data.get("name")
    if not isinstance(name, str):
        return []
    dependencies = data.get("dependencies") if isinstance(data.get("dependencies"), list) else []
    value = {"version": str(data.get("version", "")), "app_version": str(data.get("appVersion", "")) or None,
             "type": data.get("type", "application"), "chart_dir": str(PurePosixPath(path).parent),
             "dependencies": [d.get("name") for d in dependencies if isinstance(d, dict)]}
    return [Fact("helm_chart", name, value, path, lines.get("name", (1,))[0])]


# --- Dockerfile: instructions per the Dockerfile reference (line continuations, parser directives) ----


def dockerfile_instructions(text: str) -> list[tuple[int, str, str]]:
    """(first line, INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    escape = "\\"
    out: list[tuple[int, str, str]] = []
    pending, start = "", 0
    directives = True
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.rstrip("\r")
        stripped = line.strip()
        if directives:
            directive = re.match(r"^#\s*escape\s*=\s*(\S)", stripped, re.IGNORECASE)
            if directive:
                escape = directive.group(1)
                continue
            if not stripped.startswith("#") or not re.match(r"^#\s*\w+\s*=", stripped):
                directives = False
        if stripped.startswith("#") or (not stripped and not pending):
            continue
        if line.rstrip().endswith(escape):
            pending, start = pending + line.rstrip()[:-1] + " ", start or number
            continue
        full, first = (pending + line).strip(), start or number
        pending, start = "", 0
        if full:
            word, _, args = full.partition(" ")
            out.append((first, word.upper(), args.strip()))
    if pending.strip():
        word, _, args = pending.strip().partition(" ")
        out.append((start, word.upper(), args.strip()))
    return out


def _command(args: str) -> str:
    """Exec form ["a", "b"] or shell form, as one command line."""
    if args.startswith("["):
        try:
            parts = json.loads(args)
            if isinstance(parts, list):
                return " ".join(str(p) for p in parts)
        except json.JSONDecodeError:
            pass
    return args


def dockerfile_facts(path: str, text: str) -> list[Fact]:
    instructions = dockerfile_instructions(text)
    stages: list[dict] = []
    for line, word, args in instructions:
        if word == "FROM":
            parts = [p for p in args.split() if not p.startswith("--")]
            image = parts[0] if parts else ""
            alias = parts[2] if len(parts) >= 3 and parts[1].lower() == "as" else None
            stages.append({"image": image, "name": alias, "line": line, "expose": [], "cmd": None,
                           "entrypoint": None, "user": None})
        elif stages and word == "EXPOSE":
            stages[-1]["expose"] += args.split()
        elif stages and word in ("CMD", "ENTRYPOINT"):
            stages[-1][word.lower()] = (line, _command(args))
        elif stages and word == "USER":
            stages[-1]["user"] = args
    if not stages:
        return []
    final = stages[-1]
    names = {s["name"] for s in stages if s["name"]}
    value = {"base_image": final["image"], "stages": [s["name"] or s["image"] for s in stages],
             "external_images": sorted({s["image"] for s in stages if s["image"] not in names}),
             "expose": final["expose"], "user": final["user"]}
    facts = [Fact("dockerfile", path, value, path, final["line"])]
    for key, kind in (("entrypoint", "docker_entrypoint"), ("cmd", "docker_cmd")):
        if final[key]:
            line, command = final[key]
            facts.append(script_fact(path, kind, command, path, line))
    return facts
