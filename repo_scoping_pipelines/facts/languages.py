"""Languages with lines of code, from the snapshot's inventory: vendored, generated, documentation and
binary files excluded, and only programming and markup languages counted, as github-linguist does."""

from __future__ import annotations

from ..collectors import languages as classify
from .model import Fact


def counted(record: dict) -> bool:
    return (record.get("language") in classify.COUNTED and not record["is_vendored"] and not record["is_generated"]
            and not record["is_documentation"] and not record["is_binary"])


def language_facts(inventory: list[dict]) -> list[Fact]:
    """One fact per language: lines, files and share of all counted lines; evidence is its largest file."""
    totals: dict[str, list] = {}
    for record in inventory:
        if not counted(record):
            continue
        entry = totals.setdefault(record["language"], [0, 0, None])
        entry[0] += record["lines"]
        entry[1] += 1
        if entry[2] is None or (record["lines"], entry[2]["path"]) > (entry[2]["lines"], record["path"]):
            entry[2] = record
    all_lines = sum(t[0] for t in totals.values()) or 1
    facts = []
    for language, (lines, files, largest) in sorted(totals.items(), key=lambda kv: (-kv[1][0], kv[0])):
        facts.append(Fact("language", language, {"lines": lines, "files": files,
                                                 "share": round(100.0 * lines / all_lines, 1),
                                                 "largest_file": largest["path"]},
                          largest["path"], 1, 1.0))
    return facts
