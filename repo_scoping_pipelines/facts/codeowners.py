"""CODEOWNERS files in GitHub and GitLab syntax, read into one `codeowners` fact per rule.

Locations (the order each host reads them in; the first that exists applies):
GitHub `.github/CODEOWNERS`, `CODEOWNERS`, `docs/CODEOWNERS`; GitLab `CODEOWNERS`, `docs/CODEOWNERS`,
`.gitlab/CODEOWNERS`. `LOCATIONS` lists all four in the order this project prefers them
(`applicable_file` picks the one that applies when several exist).

Syntax read:
- `PATTERN OWNER...` — PATTERN in gitignore syntax (matched with `pathspec`); owners are `@user`,
  `@org/team` (GitLab `@group/subgroup`, roles `@@developer`) or e-mail addresses. A rule without
  owners is kept (GitHub: the path has no owner; GitLab: the section's default owners apply).
- `#` starts a comment (at the line start or after white space); `\\#` escapes a pattern that
  starts with `#`; `\\ ` escapes a space inside a pattern.
- GitLab sections: `[Section]`, `[Section][2]` (approvals required), `^[Optional section]`, each
  optionally followed by default owners (`[Docs] @docs-team`); rules below it belong to it.
- Malformed lines (an owner that is neither `@name` nor an e-mail, an unclosed section header,
  a pattern that gitignore syntax cannot read, `!` negation which CODEOWNERS does not support)
  become warnings `PATH:LINE: ...` on the file's extraction (counted in observed_facts' metadata);
  they never fail a run and never produce a fact.

The fact shape (other stages read it: Backstage export owners, insight's comparison with the
people who actually wrote the code) — keep it stable:

    Fact(kind="codeowners", subject=PATTERN, path=CODEOWNERS_FILE, line=LINE (1-based),
         value={"pattern": PATTERN,            # as written, escapes resolved
                "owners": ["@org/team", ...],  # in file order; the section defaults when the rule has none
                "explicit_owners": bool,       # False when owners came from the section's defaults
                "section": "Docs" | None,      # GitLab section, None outside sections (and on GitHub)
                "optional": bool,              # GitLab ^[Optional] section
                "approvals": int | None,       # GitLab [Section][N]
                "order": N,                    # 0-based rule index in the file: the last match wins
                "syntax": "github" | "gitlab", # gitlab when the file has sections or is .gitlab/CODEOWNERS
                "file": CODEOWNERS_FILE})
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .model import Fact, FileExtraction

LOCATIONS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS", ".gitlab/CODEOWNERS")

_SECTION = re.compile(r"^(?P<optional>\^)?\[(?P<name>[^\]]+)\](?:\[(?P<approvals>\d+)\])?(?P<rest>.*)$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_HANDLE = re.compile(r"^@@?[A-Za-z0-9](?:[A-Za-z0-9._-]*)(?:/[A-Za-z0-9._-]+)*$")


def is_codeowners_file(path: str) -> bool:
    return path in LOCATIONS


def applicable_file(paths) -> str | None:
    """Of the CODEOWNERS files present, the one that applies (first of LOCATIONS)."""
    present = set(paths)
    return next((p for p in LOCATIONS if p in present), None)


@dataclass
class Rule:
    pattern: str
    owners: list[str]
    line: int
    order: int
    explicit_owners: bool = True
    section: str | None = None
    optional: bool = False
    approvals: int | None = None


@dataclass
class Parsed:
    rules: list[Rule] = field(default_factory=list)
    malformed: list[tuple[int, str]] = field(default_factory=list)  # (line, why)
    syntax: str = "github"


def _strip_comment(line: str) -> str:
    """Drop a trailing comment: `#` at the start or after white space, unless escaped."""
    out = []
    i = 0
    while i < len(line):
        ch = line[i]
        if ch == "\\" and i + 1 < len(line):
            out.append(line[i:i + 2])
            i += 2
            continue
        if ch == "#" and (i == 0 or line[i - 1] in " \t"):
            break
        out.append(ch)
        i += 1
    return "".join(out).strip()


def _split(text: str) -> list[str]:
    """White-space separated tokens; `\\ ` keeps a space inside a token, `\\#` a literal #."""
    tokens, current, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in " \t#":
            current.append(text[i + 1])
            i += 2
            continue
        if ch in " \t":
            if current:
                tokens.append("".join(current))
                current = []
        else:
            current.append(ch)
        i += 1
    if current:
        tokens.append("".join(current))
    return tokens


def _valid_owner(owner: str) -> bool:
    return bool(_HANDLE.match(owner) or _EMAIL.match(owner))


def _valid_pattern(pattern: str) -> bool:
    import pathspec

    try:
        pathspec.PathSpec.from_lines("gitignore", [pattern])
    except Exception:  # pathspec raises its own GitWildMatchPatternError and ValueError
        return False
    return True


def parse(text: str, path: str = "CODEOWNERS") -> Parsed:
    """Rules and malformed lines of one CODEOWNERS text (never raises)."""
    out = Parsed(syntax="gitlab" if path.startswith(".gitlab/") else "github")
    section: str | None = None
    optional = False
    approvals: int | None = None
    defaults: list[str] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = _strip_comment(raw)
        if not line:
            continue
        if line.startswith(("[", "^[")):
            m = _SECTION.match(line)
            if not m:
                out.malformed.append((number, "unclosed section header"))
                continue
            out.syntax = "gitlab"
            owners = _split(m.group("rest"))
            bad = [o for o in owners if not _valid_owner(o)]
            if bad:
                out.malformed.append((number, f"section owner {bad[0]!r} is neither @name nor an e-mail"))
                continue
            section, optional = m.group("name").strip(), bool(m.group("optional"))
            approvals = int(m.group("approvals")) if m.group("approvals") else None
            defaults = owners
            continue
        tokens = _split(line)
        pattern, owners = tokens[0], tokens[1:]
        if pattern.startswith("!"):
            out.malformed.append((number, "negation (!) is not supported in CODEOWNERS"))
            continue
        bad = [o for o in owners if not _valid_owner(o)]
        if bad:
            out.malformed.append((number, f"owner {bad[0]!r} is neither @name nor an e-mail"))
            continue
        if not _valid_pattern(pattern):
            out.malformed.append((number, f"pattern {pattern!r} is not valid gitignore syntax"))
            continue
        explicit = bool(owners)
        out.rules.append(Rule(pattern=pattern, owners=owners or list(defaults), line=number, order=len(out.rules),
                              explicit_owners=explicit, section=section, optional=optional, approvals=approvals))
    return out


def extract(path: str, text: str) -> FileExtraction:
    """One `codeowners` fact per rule (shape in the module docstring); malformed lines as warnings."""
    parsed = parse(text, path)
    facts = [Fact("codeowners", r.pattern,
                  {"pattern": r.pattern, "owners": r.owners, "explicit_owners": r.explicit_owners,
                   "section": r.section, "optional": r.optional, "approvals": r.approvals, "order": r.order,
                   "syntax": parsed.syntax, "file": path},
                  path, r.line, 1.0) for r in parsed.rules]
    warnings = [f"{path}:{line}: malformed CODEOWNERS line ({why}); ignored" for line, why in parsed.malformed]
    return FileExtraction(facts=facts, warnings=warnings)


def matcher(pattern: str):
    """A gitignore-syntax matcher of one CODEOWNERS pattern (`.match_file(path)`)."""
    import pathspec

    return pathspec.PathSpec.from_lines("gitignore", [pattern])
