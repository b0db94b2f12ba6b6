"""CODEOWNERS compared with who actually wrote the code at the head (issue 16).

Inputs: the `codeowners` facts of the CODEOWNERS file that applies (facts/codeowners.py), the files at
the head, line authorship from git blame (insight/knowledge.py: one row per file and author), the active
authors (a commit within REPO_SCOPING_INSIGHT_ACTIVE_DAYS) and the people registry (metrics/people.py).

Which rule governs a file: the last matching rule of the file wins (GitHub; GitLab within each section:
a GitLab file is governed by at most one rule per section, and every section applies). Patterns are read
in gitignore syntax with pathspec, as facts/codeowners.py validates them.

Declared owners are resolved to git author e-mails:
- `user@example.com` (e-mail): that address (case-insensitive), and the other e-mails of its person
  in the people registry;
- `@login` (user): the e-mails of the person whose GitHub login it is in the people registry; a login
  the registry does not know is `unresolved` (nothing is guessed from names);
- `@org/team`, `@group/subgroup` and GitLab roles `@@developer`: `unresolved` (membership is not known).

Per rule (all weighted by lines at the head):
- files, lines: what it governs;
- declared_share: governed lines last written by a resolved declared owner / governed lines; None when
  the rule governs no lines or none of its owners resolves;
- top_authors: the authors holding most governed lines, with share, active, declared;
- owner_inactive: a resolved user owner (e-mail or @login) has no commit in the active window;
- undeclared_top_author: the active author holding most governed lines is not a declared owner (None when
  an unresolved owner could be that author; False when no active author holds a governed line);
- no_files: the rule governs nothing (nothing matches, or later rules take every match).
A rule drifts when any flag is true. Files no rule governs are counted with their lines.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..facts.codeowners import matcher

TOP_AUTHORS = 5
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def owner_kind(owner: str) -> str:
    """email | user | team | role."""
    if _EMAIL.match(owner):
        return "email"
    if owner.startswith("@@"):
        return "role"
    return "team" if "/" in owner else "user"


@dataclass
class DriftRule:
    order: int
    pattern: str
    owners: list[str]
    line: int
    section: str | None = None


@dataclass
class Drift:
    rules: list[dict]  # one dict per rule in file order, keys RULE_COLUMNS
    files: int = 0
    lines: int = 0
    governed_files: int = 0
    unowned_files: int = 0
    unowned_lines: int = 0
    section_files: dict[str, int] = field(default_factory=dict)  # section ("" = none) -> files governed there

    @property
    def rules_with_drift(self) -> int:
        return sum(1 for r in self.rules if drifts(r))


RULE_COLUMNS = ["order", "pattern", "line", "section", "owners", "owner_status", "files", "lines", "declared_lines",
                "declared_share", "top_authors", "inactive_owners", "unresolved_owners", "owner_inactive",
                "undeclared_top_author", "no_files"]


def drifts(rule: Mapping) -> bool:
    return bool(rule["owner_inactive"] or rule["no_files"] or rule["undeclared_top_author"])


def rule_from_fact(fact: Mapping) -> DriftRule:
    value = fact.get("value") or {}
    return DriftRule(order=int(value.get("order", fact["line"])), pattern=str(value.get("pattern", fact["subject"])),
                     owners=[str(o) for o in value.get("owners") or []], line=int(fact["line"]),
                     section=value.get("section"))


def _match(pattern: str, paths: pd.Series) -> np.ndarray:
    """Boolean mask of `paths` the CODEOWNERS pattern matches (pathspec's regex over the whole column)."""
    spec = matcher(pattern)
    mask = np.zeros(len(paths), dtype=bool)
    for p in spec.patterns:
        regex = getattr(p, "regex", None)
        if p.include is None:
            continue
        if regex is None:  # not a regex pattern: pathspec's own matching, file by file
            hit = np.fromiter((spec.match_file(x) for x in paths), dtype=bool, count=len(paths))
        else:
            hit = paths.str.match(regex.pattern, flags=regex.flags).to_numpy(dtype=bool)
        mask = mask | hit if p.include else mask & ~hit
    return mask


def assign(rules: list[DriftRule], paths: Collection[str]) -> pd.DataFrame:
    """(section, path, order): the rule that governs each path, per section; the last matching rule wins.

    Only files not yet governed by a later rule of the same section are matched against a rule."""
    frames = []
    all_paths = pd.Series(sorted(set(paths)), dtype=object)
    by_section: dict[str, list[DriftRule]] = {}
    for rule in rules:
        by_section.setdefault(rule.section or "", []).append(rule)
    for section, section_rules in by_section.items():
        remaining = all_paths
        for rule in sorted(section_rules, key=lambda r: r.order, reverse=True):
            if remaining.empty:
                break
            mask = _match(rule.pattern, remaining)
            if mask.any():
                frames.append(pd.DataFrame({"section": section, "path": remaining[mask].to_numpy(),
                                            "order": rule.order}))
                remaining = remaining[~mask]
    if not frames:
        return pd.DataFrame({"section": pd.Series(dtype=object), "path": pd.Series(dtype=object),
                             "order": pd.Series(dtype="int64")})
    return pd.concat(frames, ignore_index=True)


def resolve_owner(owner: str, identities: Mapping[str, Collection[str]]) -> tuple[str, list[str] | None, str]:
    """(kind, lowercase e-mails or None when unresolved, why)."""
    kind = owner_kind(owner)
    if kind == "email":
        address = owner.lower()
        return kind, sorted({address, *identities.get(f"email:{address}", ())}), "e-mail"
    if kind == "user":
        emails = identities.get(f"github:{owner[1:].lower()}")
        if emails:
            return kind, sorted(emails), "github login in the people registry"
        return kind, None, "unresolved: GitHub login not in the people registry"
    return kind, None, f"unresolved: {'a GitLab role' if kind == 'role' else 'team membership is not known'}"


def drift(rules: list[DriftRule], files: Collection[str], owners: pd.DataFrame, active: Collection[str],
          identities: Mapping[str, Collection[str]], *, top: int = TOP_AUTHORS) -> Drift:
    """Per rule: what it governs, declared vs actual line authors, flags (see the module docstring).

    files: every path at the head; owners: path, author, author_name, lines (authors are e-mails or
    name:NAME); active: author keys of active authors; identities: `email:ADDR` / `github:LOGIN` -> the
    lowercase e-mails of that identity's person."""
    file_index = pd.Index(sorted(set(files)))
    o = owners[owners["lines"] > 0] if not owners.empty else owners
    o = o[o["path"].isin(file_index)] if not o.empty else o
    file_lines = (o.groupby("path")["lines"].sum() if not o.empty else pd.Series(dtype="int64")
                  ).reindex(file_index, fill_value=0).astype("int64")
    active_l = {a.lower() for a in active}
    assigned = assign(rules, file_index)
    governed = pd.Index(assigned["path"].unique())
    unowned = file_index.difference(governed)
    result = Drift(rules=[], files=len(file_index), lines=int(file_lines.sum()),
                   governed_files=len(governed), unowned_files=len(unowned),
                   unowned_lines=int(file_lines.reindex(unowned).sum()),
                   section_files={s: int(n) for s, n in assigned.groupby("section").size().items()})
    if not rules:
        return result

    # Declared owners: (order -> resolved e-mails), statuses, the unresolved ones.
    declared_pairs, statuses = [], {}
    for rule in rules:
        status = []
        for owner in rule.owners:
            kind, emails, why = resolve_owner(owner, identities)
            owner_active = None if emails is None else any(e in active_l for e in emails)
            status.append({"owner": owner, "kind": kind, "resolved": emails is not None, "emails": emails or [],
                           "active": owner_active, "how": why})
            declared_pairs += [(rule.order, e) for e in emails or []]
        statuses[rule.order] = status
    declared = pd.DataFrame({"order": pd.Series([d[0] for d in declared_pairs], dtype="int64"),
                             "author_l": pd.Series([d[1] for d in declared_pairs], dtype=object)}).drop_duplicates()
    declared["declared"] = True

    # Line authors of governed files, per rule (a GitLab file counts once in each section governing it).
    held = assigned.merge(o[["path", "author", "author_name", "lines"]], on="path") if not o.empty else \
        pd.DataFrame(columns=["section", "path", "order", "author", "author_name", "lines"])
    per = held.groupby(["order", "author"], sort=False).agg(author_name=("author_name", "first"),
                                                            lines=("lines", "sum")).reset_index()
    per["author_l"] = per["author"].str.lower()
    per = per.merge(declared, on=["order", "author_l"], how="left")
    per["declared"] = per["declared"].fillna(False).astype(bool)
    per["active"] = per["author_l"].isin(active_l)
    per["declared_lines"] = np.where(per["declared"], per["lines"], 0)
    rule_lines = assigned.assign(lines=assigned["path"].map(file_lines).fillna(0).astype("int64")).groupby(
        "order").agg(files=("path", "size"), lines=("lines", "sum"))
    totals = per.groupby("order").agg(declared_lines=("declared_lines", "sum"))
    per = per.join(rule_lines["lines"].rename("rule_lines"), on="order")
    per["share"] = per["lines"] / per["rule_lines"]
    per = per.sort_values(["order", "lines", "author"], ascending=[True, False, True])
    top_active = per[per["active"]].drop_duplicates("order").set_index("order")
    # Each rule's top authors in one pass over the sorted frame (not one scan of it per rule).
    top_authors = {order: [{"author": r.author, "author_name": r.author_name, "lines": int(r.lines),
                            "share": round(float(r.share), 6), "active": bool(r.active),
                            "declared": bool(r.declared)} for r in group.itertuples(index=False)]
                   for order, group in per.groupby("order", sort=False).head(top).groupby("order", sort=False)}

    rows = []
    for rule in sorted(rules, key=lambda r: r.order):
        n_files = int(rule_lines["files"].get(rule.order, 0))
        n_lines = int(rule_lines["lines"].get(rule.order, 0))
        status = statuses[rule.order]
        resolved = [s for s in status if s["resolved"]]
        unresolved = [s["owner"] for s in status if not s["resolved"]]
        declared_lines = int(totals["declared_lines"].get(rule.order, 0))
        share = round(declared_lines / n_lines, 6) if n_lines and resolved else None
        authors = top_authors.get(rule.order, [])
        inactive = [s["owner"] for s in resolved if s["active"] is False]
        if rule.order in top_active.index:
            undeclared = None if unresolved and not bool(top_active.at[rule.order, "declared"]) else \
                not bool(top_active.at[rule.order, "declared"])
        else:
            undeclared = False
        rows.append({"order": rule.order, "pattern": rule.pattern, "line": rule.line, "section": rule.section,
                     "owners": list(rule.owners), "owner_status": status, "files": n_files, "lines": n_lines,
                     "declared_lines": declared_lines, "declared_share": share, "top_authors": authors,
                     "inactive_owners": inactive, "unresolved_owners": unresolved,
                     "owner_inactive": bool(inactive), "undeclared_top_author": undeclared, "no_files": n_files == 0})
    result.rules = rows
    return result
