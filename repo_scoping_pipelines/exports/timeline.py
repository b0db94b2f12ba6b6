"""Abilities over time and similar repositories (pure: the callers load the rows).

Changes: ability_candidates records which candidates each snapshot had (ability_snapshots). Two
consecutive recorded snapshots are compared by ability key: a key only in the later one is *gained*, only
in the earlier one *lost*, in both with different evidence locations (path:line) *changed*. `since`
names where to start: a commit (full SHA or a prefix of at least 4 characters) or an ISO-8601 time;
the comparisons returned are those whose later snapshot comes after it.

Similar: repositories are compared by three sets — approved abilities (registry keys), frameworks and
declared dependency names (ecosystem:name). The score is the mean of the three Jaccard indices
|A and B| / |A or B| (intersection over union) over the sets that are not empty on both sides together (a set empty for both
repositories says nothing, so it does not count); the shared items are the reason. Repositories sharing
nothing are left out.
"""

from __future__ import annotations

import re
from datetime import datetime


class InvalidSince(ValueError):
    """`since` is neither a recorded commit nor an ISO-8601 time."""


def _entry(row: dict) -> dict:
    return {"key": row["ability_key"], "name": row["name"], "category": row["category"], "status": row["status"],
            "candidate_id": row["candidate_id"], "locations": list(row["locations"] or [])}


def compare(before: dict[str, dict], after: dict[str, dict]) -> dict:
    """gained / lost / changed between two snapshots' candidates (candidate_id -> row)."""
    old = {r["ability_key"]: r for r in before.values()}
    new = {r["ability_key"]: r for r in after.values()}
    gained = [_entry(new[k]) for k in sorted(new.keys() - old.keys())]
    lost = [_entry(old[k]) for k in sorted(old.keys() - new.keys())]
    changed = []
    for key in sorted(old.keys() & new.keys()):
        a, b = old[key], new[key]
        if a["evidence_hash"] != b["evidence_hash"] or list(a["locations"]) != list(b["locations"]):
            before_loc, after_loc = set(a["locations"] or []), set(b["locations"] or [])
            changed.append({**_entry(b), "evidence_added": sorted(after_loc - before_loc),
                            "evidence_removed": sorted(before_loc - after_loc)})
    return {"gained": gained, "lost": lost, "changed": changed}


def _start(timeline: list[dict], since: str | None) -> int:
    """Index of the first snapshot whose comparison with its predecessor is wanted."""
    if not since:
        return 1
    since = since.strip()
    if re.fullmatch(r"[0-9a-fA-F]{4,40}", since):
        hits = [i for i, s in enumerate(timeline) if s["commit"].lower().startswith(since.lower())]
        if hits:
            return hits[-1] + 1
    try:
        moment = datetime.fromisoformat(since.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidSince(f"since={since!r} is neither a recorded snapshot commit nor an ISO-8601 time") from None
    if moment.tzinfo is None:
        raise InvalidSince(f"since={since!r} has no time zone (add Z or +00:00)")
    return next((i for i, s in enumerate(timeline) if s["seen_at"] > moment), len(timeline))


def ability_changes(timeline: list[dict], since: str | None = None) -> list[dict]:
    """One entry per pair of consecutive snapshots (oldest first) after `since`."""
    out = []
    for i in range(max(_start(timeline, since), 1), len(timeline)):
        previous, current = timeline[i - 1], timeline[i]
        out.append({"from_commit": previous["commit"], "to_commit": current["commit"],
                    "seen_at": current["seen_at"], **compare(previous["candidates"], current["candidates"])})
    return out


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


ASPECTS = ("abilities", "frameworks", "dependencies")


def similar(target: dict[str, set[str]], others: dict[str, dict[str, set[str]]], limit: int = 10) -> list[dict]:
    """Rank `others` (repository -> {aspect: set}) by their similarity to `target` ({aspect: set})."""
    ranked = []
    for name, sets in others.items():
        scores, shared = {}, {}
        for aspect in ASPECTS:
            a, b = target.get(aspect, set()), sets.get(aspect, set())
            if a | b:
                scores[aspect] = round(jaccard(a, b), 4)
            shared[aspect] = sorted(a & b)
        if not any(shared.values()):
            continue
        score = round(sum(scores.values()) / len(scores), 4) if scores else 0.0
        ranked.append({"repository": name, "score": score, "scores": scores, "shared": shared})
    ranked.sort(key=lambda r: (-r["score"], r["repository"]))
    return ranked[:limit]


def digest_markdown(digest: list[dict], since: datetime) -> str:
    """The weekly digest as markdown: per repository, the abilities gained, lost and changed."""
    lines = [f"# Ability changes since {since:%Y-%m-%d %H:%M} UTC", ""]
    if not digest:
        return "\n".join([*lines, "No ability was gained, lost or changed."]) + "\n"
    for entry in digest:
        lines.append(f"## {entry['repository']}")
        for label in ("gained", "lost", "changed"):
            for ability in entry[label]:
                where = ", ".join(ability["locations"][:3])
                lines.append(f"- {label}: **{ability['name']}** ({ability['category']}){f' at {where}' if where else ''}")
        lines.append("")
    return "\n".join(lines)


def summarise(repository: str, changes: list[dict]) -> dict | None:
    """One repository's changes over several consecutive snapshots, net: an ability gained then lost
    within the period is not reported; `changed` lists each ability once (its latest state)."""
    gained: dict[str, dict] = {}
    lost: dict[str, dict] = {}
    changed: dict[str, dict] = {}
    for change in changes:
        for ability in change["gained"]:
            if lost.pop(ability["key"], None) is None:
                gained[ability["key"]] = ability
            else:  # lost then regained: an evidence change at most
                changed[ability["key"]] = ability
        for ability in change["lost"]:
            if gained.pop(ability["key"], None) is None:
                lost[ability["key"]] = ability
            changed.pop(ability["key"], None)
        for ability in change["changed"]:
            if ability["key"] not in gained:
                changed[ability["key"]] = ability
    if not (gained or lost or changed):
        return None
    return {"repository": repository, "gained": sorted(gained.values(), key=lambda a: a["key"]),
            "lost": sorted(lost.values(), key=lambda a: a["key"]),
            "changed": sorted(changed.values(), key=lambda a: a["key"])}
