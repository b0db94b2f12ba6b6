"""Manifests and declared dependencies, read with each format's own parser (tomllib, json, configparser,
expat); tomllib and json give no positions, so lines are located afterwards in the text."""

from __future__ import annotations

import configparser
import json
import re
import tomllib
import xml.parsers.expat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from .entrypoints import script_fact
from .license_docs_tests import declared_license_fact
from .model import Fact, FileExtraction, Lines, key_pattern, quoted

_REQUIREMENTS = re.compile(r"(^|/)(requirements[^/]*|[^/]*requirements)\.(txt|in)$|(^|/)requirements/[^/]+\.(txt|in)$",
                           re.IGNORECASE)
_NAMES = {"pyproject.toml", "setup.cfg", "Pipfile", "package.json", "go.mod", "Cargo.toml", "pom.xml",
          "build.gradle", "build.gradle.kts", "Gemfile", "composer.json"}
# Extras and groups with these names hold tools for developers, not what the software needs to run.
_DEV_GROUPS = re.compile(r"^(dev|develop|development|test|tests|testing|lint|linting|docs?|typing|mypy|"
                         r"style|check|ci|coverage|bench|benchmark|tox|pre-commit)([-_].*)?$", re.IGNORECASE)


def is_manifest(path: str) -> bool:
    return PurePosixPath(path).name in _NAMES or bool(_REQUIREMENTS.search(path))


def extract(path: str, text: str) -> FileExtraction:
    """Manifest, dependency (and script / license) facts of one manifest file."""
    name = PurePosixPath(path).name
    parser = _PARSERS.get(name)
    if parser is None:
        parser = _requirements if _REQUIREMENTS.search(path) else None
    if parser is None:
        return FileExtraction()
    out = _Out(path, Lines(text))
    try:
        parser(out, text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, configparser.Error, xml.parsers.expat.ExpatError,
            _Malformed) as exc:
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        return FileExtraction(warnings=[f"{path}: malformed {_FORMAT.get(name, 'manifest')} ({reason}); skipped"])
    return FileExtraction(facts=out.facts, warnings=out.warnings)


class _Malformed(ValueError):
    """The file parses but is not the shape its format requires (e.g. package.json is a list)."""


_FORMAT = {"pyproject.toml": "TOML", "Pipfile": "TOML", "Cargo.toml": "TOML", "package.json": "JSON",
           "composer.json": "JSON", "pom.xml": "XML", "setup.cfg": "INI", "go.mod": "go.mod"}


@dataclass
class _Out:
    path: str
    lines: Lines
    facts: list[Fact] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    deps: int = 0

    def manifest(self, ecosystem: str, fmt: str, name: str | None, version: str | None, line: int) -> None:
        self.facts.insert(0, Fact("manifest", self.path, {"ecosystem": ecosystem, "format": fmt, "name": name,
                                                          "version": version}, self.path, line))

    def dependency(self, ecosystem: str, name: str, constraint: str, scope: str, line: int, *,
                   group: str | None = None, **extra) -> None:
        value = {"ecosystem": ecosystem, "constraint": constraint, "scope": scope, "group": group,
                 "manifest": self.path, **{k: v for k, v in extra.items() if v not in (None, "", False)}}
        self.facts.append(Fact("dependency", name, value, self.path, line))
        self.deps += 1

    def finish(self) -> None:
        for i, fact in enumerate(self.facts):
            if fact.kind == "manifest":
                self.facts[i] = Fact("manifest", fact.subject, {**fact.value, "dependencies": self.deps},
                                     fact.path, fact.line)
                break


def _dev_or(default: str, group: str | None) -> str:
    return "dev" if group and _DEV_GROUPS.match(group) else default


# --- TOML: sections by header line --------------------------------------------------------------

_HEADER = re.compile(r"^\s*\[\[?\s*([^\]\[]+?)\s*\]\]?\s*(#.*)?$")


def _toml_sections(lines: Lines) -> list[tuple[str, int, int]]:
    """(dotted name without quotes, first line, last line) of every [table] / [[array]] header."""
    headers = []
    for number, line in enumerate(lines.lines, 1):
        match = _HEADER.match(line)
        if match:
            name = re.sub(r"\s*\.\s*", ".", match.group(1)).replace('"', "").replace("'", "")
            headers.append((name, number))
    return [(name, start, (headers[i + 1][1] - 1) if i + 1 < len(headers) else len(lines.lines))
            for i, (name, start) in enumerate(headers)]


def _section(sections: list[tuple[str, int, int]], name: str) -> tuple[int, int]:
    for section, start, end in sections:
        if section == name:
            return start, end
    parents = [s for s in sections if name.startswith(s[0] + ".")]  # holding it inline or as dotted keys
    if parents:
        _, start, end = max(parents, key=lambda s: len(s[0]))
        return start, end
    return 1, 10**9


def _pep508(out: _Out, ecosystem: str, spec: str, scope: str, line: int, group: str | None = None) -> None:
    try:
        req = Requirement(spec)
    except InvalidRequirement as exc:
        out.warnings.append(f"{out.path}:{line}: not a valid requirement {spec!r} ({str(exc)[:80]})")
        return
    out.dependency(ecosystem, canonicalize_name(req.name), str(req.specifier), scope, line, group=group,
                   extras=sorted(req.extras) or None, markers=str(req.marker) if req.marker else None,
                   url=req.url)


def _pyproject(out: _Out, text: str) -> None:
    data = tomllib.loads(text)
    sections = _toml_sections(out.lines)
    project = data.get("project") or {}
    poetry = (data.get("tool") or {}).get("poetry") or {}
    name = project.get("name") or poetry.get("name")
    start, end = _section(sections, "project" if project.get("name") else "tool.poetry")
    out.manifest("pypi", "pyproject.toml", name, project.get("version") or poetry.get("version"),
                 out.lines.first(key_pattern("name"), start=start, end=end, default=start))

    def in_section(section: str, needle) -> int:
        lo, hi = _section(sections, section)
        return out.lines.first(needle, start=lo, end=hi, default=lo)

    def in_list(section: str, key: str, spec: str) -> int:
        """The line of `spec` in the array `key = [...]` of a table (the same spec may be in several)."""
        lo, hi = _section(sections, section)
        start = out.lines.first(key_pattern(key), start=lo, end=hi, default=lo)
        return out.lines.first(quoted(spec), start=start, end=hi, default=start)

    for spec in project.get("dependencies") or []:
        _pep508(out, "pypi", spec, "runtime", in_list("project", "dependencies", spec))
    for extra, specs in (project.get("optional-dependencies") or {}).items():
        for spec in specs:
            _pep508(out, "pypi", spec, _dev_or("optional", extra),
                    in_list("project.optional-dependencies", extra, spec), extra)
    for group, specs in (data.get("dependency-groups") or {}).items():  # PEP 735
        for spec in specs:
            if isinstance(spec, str):  # not {include-group = "..."}
                _pep508(out, "pypi", spec, "dev", in_list("dependency-groups", group, spec), group)
    build = data.get("build-system") or {}
    for spec in build.get("requires") or []:
        _pep508(out, "pypi", spec, "build", in_section("build-system", quoted(spec)))

    poetry_groups = [("tool.poetry.dependencies", None, "runtime"), ("tool.poetry.dev-dependencies", "dev", "dev")]
    poetry_groups += [(f"tool.poetry.group.{g}.dependencies", g, _dev_or("optional", g) if g != "main" else "runtime")
                      for g in (poetry.get("group") or {})]
    for section, group, scope in poetry_groups:
        table = poetry
        for part in section.split(".")[2:]:
            table = (table or {}).get(part) or {}
        for dep, spec in (table or {}).items():
            if dep.lower() == "python":
                continue
            constraint, optional = _poetry_constraint(spec)
            out.dependency("pypi", canonicalize_name(dep), constraint, "optional" if optional and scope == "runtime"
                           else scope, in_section(section, key_pattern(dep)), group=group)

    for table_name, kind in (("scripts", "console_script"), ("gui-scripts", "gui_script")):
        for script, target in (project.get(table_name) or {}).items():
            out.facts.append(script_fact(script, kind, str(target), out.path,
                                         in_section(f"project.{table_name}", key_pattern(script))))
    for script, target in (poetry.get("scripts") or {}).items():
        target = target.get("reference", "") if isinstance(target, dict) else target
        out.facts.append(script_fact(script, "console_script", str(target), out.path,
                                     in_section("tool.poetry.scripts", key_pattern(script))))
    license_value = project.get("license") or poetry.get("license")
    if isinstance(license_value, dict):
        license_value = license_value.get("text") or license_value.get("file")
    if isinstance(license_value, str) and license_value:
        lo, hi = _section(sections, "project" if project else "tool.poetry")
        out.facts.extend(declared_license_fact(license_value, out.path,
                                               out.lines.first(key_pattern("license"), start=lo, end=hi, default=lo)))
    out.finish()


def _poetry_constraint(spec) -> tuple[str, bool]:
    if isinstance(spec, str):
        return ("" if spec == "*" else spec), False
    if isinstance(spec, dict):
        source = next((f"{k}:{spec[k]}" for k in ("git", "path", "url") if k in spec), "")
        return str(spec.get("version", source)), bool(spec.get("optional"))
    if isinstance(spec, list):  # multiple constraints by marker
        return " || ".join(_poetry_constraint(s)[0] for s in spec), False
    return "", False


def _pipfile(out: _Out, text: str) -> None:
    data = tomllib.loads(text)
    sections = _toml_sections(out.lines)
    out.manifest("pypi", "Pipfile", None, None, 1)
    for section, scope in (("packages", "runtime"), ("dev-packages", "dev")):
        lo, hi = _section(sections, section)
        for dep, spec in (data.get(section) or {}).items():
            constraint, _ = _poetry_constraint(spec)
            out.dependency("pypi", canonicalize_name(dep), constraint, scope,
                           out.lines.first(key_pattern(dep), start=lo, end=hi, default=lo))
    out.finish()


def _setup_cfg(out: _Out, text: str) -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    header = {name: out.lines.first(re.compile(r"^\s*\[" + re.escape(name) + r"\]"), default=1)
              for name in parser.sections()}
    metadata = parser["metadata"] if parser.has_section("metadata") else {}
    out.manifest("pypi", "setup.cfg", metadata.get("name"), metadata.get("version"),
                 out.lines.first(key_pattern("name"), start=header.get("metadata", 1), default=1))

    def specs(raw: str) -> Iterable[str]:
        for item in raw.splitlines():
            item = item.split("#", 1)[0].strip()
            if item:
                yield item

    if parser.has_option("options", "install_requires"):
        start = header["options"]
        for spec in specs(parser.get("options", "install_requires")):
            _pep508(out, "pypi", spec, "runtime", out.lines.first(spec, start=start, default=start))
    if parser.has_section("options.extras_require"):
        start = header["options.extras_require"]
        for extra, raw in parser.items("options.extras_require"):
            for spec in specs(raw):
                _pep508(out, "pypi", spec, _dev_or("optional", extra), out.lines.first(spec, start=start,
                                                                                      default=start), extra)
    if parser.has_option("options.entry_points", "console_scripts"):
        start = header["options.entry_points"]
        for item in specs(parser.get("options.entry_points", "console_scripts")):
            script, _, target = item.partition("=")
            out.facts.append(script_fact(script.strip(), "console_script", target.strip(), out.path,
                                         out.lines.first(key_pattern(script.strip()), start=start, default=start)))
    if metadata.get("license"):
        out.facts.extend(declared_license_fact(metadata["license"], out.path,
                                               out.lines.first(key_pattern("license"), default=1)))
    out.finish()


def _requirements(out: _Out, text: str) -> None:
    scope = "dev" if re.search(r"dev|test|lint|doc|ci\b", out.path.rsplit("/", 1)[-1], re.IGNORECASE) \
        or re.search(r"(^|/)requirements/(dev|test|lint|doc)", out.path, re.IGNORECASE) else "runtime"
    out.manifest("pypi", "requirements", None, None, 1)
    pending, first = "", 0
    for number, raw in enumerate(out.lines.lines, 1):
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if line.endswith("\\"):  # continuation: the requirement starts on `first`
            pending, first = pending + line[:-1] + " ", first or number
            continue
        line, start = (pending + line).strip(), first or number
        pending, first = "", 0
        if not line or line.startswith("-") or re.match(r"^(\.|/|[a-z+]+://|git\+)", line):
            continue  # options (-r, -e, --index-url), paths and URLs name no package
        _pep508(out, "pypi", line.split(" --", 1)[0].strip(), scope, start)
    out.finish()


# --- JSON ---------------------------------------------------------------------------------------------

def _json_object(text: str) -> dict:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise _Malformed("top level is not an object")
    return data


def _json_key_line(lines: Lines, key: str, after: int = 1) -> int:
    return lines.first(re.compile(r'"' + re.escape(key) + r'"\s*:'), start=after, default=after)


def _package_json(out: _Out, text: str) -> None:
    data = _json_object(text)
    name = data.get("name") if isinstance(data.get("name"), str) else None
    out.manifest("npm", "package.json", name, data.get("version"), _json_key_line(out.lines, "name"))
    for section, scope in (("dependencies", "runtime"), ("devDependencies", "dev"),
                           ("peerDependencies", "peer"), ("optionalDependencies", "optional")):
        deps = data.get(section)
        if not isinstance(deps, dict):
            continue
        start = _json_key_line(out.lines, section)
        for dep, constraint in deps.items():
            out.dependency("npm", dep, str(constraint), scope, _json_key_line(out.lines, dep, start))
    bin_field = data.get("bin")
    if isinstance(bin_field, str) and name:
        bin_field = {name.rsplit("/", 1)[-1]: bin_field}
    if isinstance(bin_field, dict):
        start = _json_key_line(out.lines, "bin")
        for script, target in bin_field.items():
            line = start if isinstance(data.get("bin"), str) else _json_key_line(out.lines, script, start)
            out.facts.append(script_fact(script, "bin", str(target), out.path, line))
    scripts = data.get("scripts")
    if isinstance(scripts, dict):
        start = _json_key_line(out.lines, "scripts")
        for script in ("start", "serve"):
            if isinstance(scripts.get(script), str):
                out.facts.append(script_fact(f"npm run {script}", "npm_script", scripts[script], out.path,
                                             _json_key_line(out.lines, script, start)))
    if isinstance(data.get("license"), str):
        out.facts.extend(declared_license_fact(data["license"], out.path, _json_key_line(out.lines, "license")))
    out.finish()


def _composer_json(out: _Out, text: str) -> None:
    data = _json_object(text)
    out.manifest("packagist", "composer.json", data.get("name"), data.get("version"),
                 _json_key_line(out.lines, "name"))
    for section, scope in (("require", "runtime"), ("require-dev", "dev")):
        deps = data.get(section)
        if not isinstance(deps, dict):
            continue
        start = _json_key_line(out.lines, section)
        for dep, constraint in deps.items():
            if dep == "php" or dep.startswith(("ext-", "lib-")):
                continue  # platform requirements, not packages
            out.dependency("packagist", dep, str(constraint), scope, _json_key_line(out.lines, dep, start))
    bins = data.get("bin")
    for target in [bins] if isinstance(bins, str) else bins if isinstance(bins, list) else []:
        out.facts.append(script_fact(PurePosixPath(str(target)).name, "bin", str(target), out.path,
                                     out.lines.first(quoted(str(target)), default=1)))
    if isinstance(data.get("license"), str):
        out.facts.extend(declared_license_fact(data["license"], out.path, _json_key_line(out.lines, "license")))
    out.finish()


# --- go.mod (line-oriented format, parsed per the Go reference) ---------------------------------------

def _go_mod(out: _Out, text: str) -> None:
    module, module_line, block = None, 1, None  # block: the directive whose ( ... ) is open
    for number, raw in enumerate(out.lines.lines, 1):
        line = raw.split("//", 1)[0].strip()
        if not line:
            continue
        if block is not None:
            if line == ")":
                block = None
                continue
            if block != "require":
                continue
            fields = line.split()
        else:
            words = line.split()
            if words[0] == "module" and len(words) > 1:
                module, module_line = words[1].strip('"'), number
                continue
            if line.endswith("("):
                block = words[0]
                continue
            if words[0] != "require":
                continue
            fields = words[1:]
        if len(fields) >= 2:
            out.dependency("go", fields[0].strip('"'), fields[1], "runtime", number, indirect="// indirect" in raw)
    if module is None and out.deps == 0:
        raise _Malformed("no module directive")
    out.manifest("go", "go.mod", module, None, module_line)
    out.finish()


# --- Cargo.toml ---------------------------------------------------------------------------------------

def _cargo(out: _Out, text: str) -> None:
    data = tomllib.loads(text)
    sections = _toml_sections(out.lines)
    package = data.get("package") or {}
    lo, hi = _section(sections, "package")
    out.manifest("cargo", "Cargo.toml", package.get("name"), _str(package.get("version")),
                 out.lines.first(key_pattern("name"), start=lo, end=hi, default=lo))
    tables: list[tuple[str, dict, str]] = []
    for section, scope in (("dependencies", "runtime"), ("dev-dependencies", "dev"), ("build-dependencies", "build")):
        tables.append((section, data.get(section) or {}, scope))
        for target, body in (data.get("target") or {}).items():
            tables.append((f"target.{target}.{section}", (body or {}).get(section) or {}, scope))
    tables.append(("workspace.dependencies", (data.get("workspace") or {}).get("dependencies") or {}, "runtime"))
    for section, deps, scope in tables:
        lo, hi = _section(sections, section)
        for dep, spec in deps.items():
            constraint, optional = _poetry_constraint(spec)
            out.dependency("cargo", dep, constraint, "optional" if optional else scope,
                           out.lines.first(key_pattern(dep), start=lo, end=hi, default=lo))
    bins = [s for s in sections if s[0] == "bin"]
    for i, item in enumerate(data.get("bin") or []):
        line = bins[i][1] if i < len(bins) else 1
        out.facts.append(script_fact(str(item.get("name", "")), "cargo_bin", str(item.get("path", "")), out.path,
                                     out.lines.first(key_pattern("name"), start=line, default=line)))
    if isinstance(package.get("license"), str):
        out.facts.extend(declared_license_fact(package["license"], out.path,
                                               out.lines.first(key_pattern("license"), start=lo, default=lo)))
    out.finish()


def _str(value) -> str | None:
    return value if isinstance(value, str) else None


# --- pom.xml (expat: positions for every element; no DTDs or entities) ---------------------------------

@dataclass
class _Element:
    tag: str
    line: int
    children: list[_Element] = field(default_factory=list)
    text: str = ""

    def child(self, tag: str) -> _Element | None:
        return next((c for c in self.children if c.tag == tag), None)

    def value(self, tag: str) -> str | None:
        found = self.child(tag)
        return found.text.strip() if found is not None else None


def parse_xml(text: str) -> _Element:
    parser = xml.parsers.expat.ParserCreate()
    root = _Element("", 0)
    stack = [root]

    def start(name, attrs):
        element = _Element(name.rsplit(":", 1)[-1], parser.CurrentLineNumber)
        stack[-1].children.append(element)
        stack.append(element)

    def end(name):
        stack.pop()

    def chars(data):
        stack[-1].text += data

    def refuse(*args):  # no DTDs: they bring entity expansion and external fetches
        raise _Malformed("DOCTYPE declarations are not accepted")

    parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = start, end, chars
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.Parse(text.encode("utf-8"), True)
    if not root.children:
        raise _Malformed("no root element")
    return root.children[0]


def _pom(out: _Out, text: str) -> None:
    project = parse_xml(text)
    if project.tag != "project":
        raise _Malformed(f"root element is <{project.tag}>, not <project>")
    props = {c.tag: c.text.strip() for c in (project.child("properties") or _Element("", 0)).children}
    parent = project.child("parent")
    group = project.value("groupId") or (parent.value("groupId") if parent is not None else None)
    props.setdefault("project.version", project.value("version") or "")

    def resolve(value: str | None) -> str:
        return re.sub(r"\$\{([^}]+)\}", lambda m: props.get(m.group(1), m.group(0)), value or "")

    artifact = project.child("artifactId")
    out.manifest("maven", "pom.xml", f"{group}:{project.value('artifactId')}", resolve(project.value("version")),
                 artifact.line if artifact is not None else project.line)
    if parent is not None and parent.value("artifactId"):
        out.dependency("maven", f"{parent.value('groupId')}:{parent.value('artifactId')}",
                       resolve(parent.value("version")), "parent", parent.line)
    deps = project.child("dependencies")
    for dep in deps.children if deps is not None else []:
        if dep.tag != "dependency":
            continue
        maven_scope = dep.value("scope") or "compile"
        line = dep.child("artifactId").line if dep.child("artifactId") is not None else dep.line
        out.dependency("maven", f"{dep.value('groupId')}:{dep.value('artifactId')}", resolve(dep.value("version")),
                       "dev" if maven_scope == "test" else "runtime", line, maven_scope=maven_scope,
                       optional=dep.value("optional") == "true")
    build = project.child("build")
    plugins = build.child("plugins") if build is not None else None
    for plugin in plugins.children if plugins is not None else []:
        if plugin.tag == "plugin" and plugin.value("artifactId"):
            out.dependency("maven", f"{plugin.value('groupId') or 'org.apache.maven.plugins'}:"
                           f"{plugin.value('artifactId')}", resolve(plugin.value("version")), "build",
                           plugin.child("artifactId").line)
    out.finish()


# --- build.gradle and Gemfile: Groovy/Kotlin and Ruby DSLs, for which no Python parser exists, so their
# dependency declarations are matched line by line --------------------------------------------------------

_GRADLE_DEP = re.compile(
    r"^\s*(implementation|api|compileOnly|runtimeOnly|developmentOnly|annotationProcessor|kapt|compile|runtime"
    r"|testImplementation|testRuntimeOnly|testCompileOnly|testCompile|testAnnotationProcessor|classpath)"
    r"""\s*\(?\s*(?:platform\(\s*)?["']([^"':]+):([^"':]+)(?::([^"'@]+))?["']""")
_GRADLE_MAP = re.compile(
    r"""^\s*(\w+)\s*\(?\s*group\s*[:=]\s*["']([^"']+)["']\s*,\s*name\s*[:=]\s*["']([^"']+)["']"""
    r"""(?:\s*,\s*version\s*[:=]\s*["']([^"']+)["'])?""")
_GRADLE_PLUGIN = re.compile(r"""^\s*id\s*\(?\s*["']([^"']+)["']\s*\)?(?:\s*version\s*\(?\s*["']([^"']+)["'])?""")


def _gradle(out: _Out, text: str) -> None:
    out.manifest("maven", "build.gradle", None, None, 1)
    for number, line in enumerate(out.lines.lines, 1):
        match = _GRADLE_DEP.match(line) or _GRADLE_MAP.match(line)
        if match:
            config, group, artifact, version = match.groups()
            out.dependency("maven", f"{group}:{artifact}", version or "",
                           "dev" if config.startswith("test") else "build" if config == "classpath" else "runtime",
                           number, configuration=config)
            continue
        plugin = _GRADLE_PLUGIN.match(line)
        if plugin:
            out.dependency("gradle-plugin", plugin.group(1), plugin.group(2) or "", "build", number)
    out.finish()


_GEM = re.compile(r"""^\s*gem\s*\(?\s*["']([^"']+)["']((?:\s*,\s*["'][^"']*["'])*)(.*)$""")
_GROUP = re.compile(r"^\s*group\s*\(?\s*((?::\w+\s*,?\s*)+)\)?\s*do\b")


def _gemfile(out: _Out, text: str) -> None:
    out.manifest("rubygems", "Gemfile", None, None, 1)
    groups: list[list[str]] = []  # a stack: blocks opened by `do`, closed by `end`
    for number, line in enumerate(out.lines.lines, 1):
        stripped = line.split("#", 1)[0].strip()
        group = _GROUP.match(stripped)
        if group:
            groups.append(re.findall(r":(\w+)", group.group(1)))
            continue
        if re.search(r"\bdo\b(\s*\|.*\|)?$", stripped):
            groups.append([])
            continue
        if stripped == "end" and groups:
            groups.pop()
            continue
        gem = _GEM.match(stripped)
        if gem:
            names = [g for block in groups for g in block]
            inline = re.search(r"groups?:\s*(\[[^\]]*\]|:\w+)", gem.group(3))  # gem "x", group: :test
            if inline:
                names += re.findall(r":(\w+)", inline.group(1))
            constraint = ", ".join(re.findall(r"""["']([^"']*)["']""", gem.group(2)))
            scope = "dev" if names and all(n in ("development", "test") for n in names) else "runtime"
            out.dependency("rubygems", gem.group(1), constraint, scope, number, group=",".join(names) or None)
    out.finish()


_PARSERS = {
    "pyproject.toml": _pyproject, "Pipfile": _pipfile, "setup.cfg": _setup_cfg, "package.json": _package_json,
    "composer.json": _composer_json, "go.mod": _go_mod, "Cargo.toml": _cargo, "pom.xml": _pom,
    "build.gradle": _gradle, "build.gradle.kts": _gradle, "Gemfile": _gemfile,
}
