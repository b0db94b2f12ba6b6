"""Facts extraction benchmark: observed_facts + dependency_graph work on real repositories.

    .venv/bin/python bench/bench_facts.py [--repo owner+name ...] [--no-db] [--no-cloc]

Each repository is cloned from its fetched mirror (/work/.mirror/<owner>+<name>/repo) into
bench/.work/facts-src/<name> (git-ignored; fetched code is never committed). Two measurements:

1. extraction alone (plain Python, no database): inventory, per-file extraction, repository-level
   assembly and the import graph, reported as seconds per 1,000 files of the tree;
2. the stored pipeline on a throwaway Postgres database: take_snapshot, then observe_repository and
   build_repository_graph first, again with no change, and after touching one source file.

Language lines are compared with `cloc` (apt install cloc) on exactly the files we count, and on the
whole tree. Goal: under 10 s per 1,000 files on the 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import time
from collections import Counter
from pathlib import Path

from _common import WORK, git, throwaway_stack

MIRRORS = Path("/work/.mirror")
SOURCES = WORK / "facts-src"
DEFAULT_REPOS = ["pallets+flask", "expressjs+express", "gin-gonic+gin", "spring-projects+spring-petclinic",
                 "fastapi+fastapi"]
# cloc's language names for ours, where they differ.
CLOC_NAMES = {"Shell": "Bourne Shell", "TSX": "TypeScript", "Groovy": "Gradle", "Makefile": "make",
              "Dockerfile": "Dockerfile"}


def checkout(mirror: str) -> Path:
    name = mirror.split("+", 1)[1]
    target = SOURCES / name
    if not (target / ".git").exists():
        source = MIRRORS / mirror / "repo"
        if not source.exists():
            raise SystemExit(f"{source} is missing: fetch github:{mirror.replace('+', '/')} first")
        SOURCES.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "clone", "--quiet", str(source), str(target)], check=True)
    return target


def extract_only(root: Path) -> dict:
    """Extraction without the database: what one first refresh costs in Python."""
    from repo_scoping_pipelines.collectors.git import list_tree
    from repo_scoping_pipelines.collectors.inventory import build_inventory
    from repo_scoping_pipelines.facts.extract import decode, extract_file, family_of, skip_reason
    from repo_scoping_pipelines.facts.graph import build_graph
    from repo_scoping_pipelines.facts.model import FileExtraction
    from repo_scoping_pipelines.facts.observe import repository_facts

    timings = {}
    started = time.perf_counter()
    inventory = [r.as_row() for r in build_inventory(root, list_tree(root), {}, max_file_bytes=1 << 20)]
    timings["inventory"] = time.perf_counter() - started
    started = time.perf_counter()
    extractions: dict[str, FileExtraction] = {}
    for record in inventory:
        family = family_of(record)
        if family is None:
            continue
        data = (root / record["path"]).read_bytes()
        reason = skip_reason(record, data)
        text = None if reason else decode(data)
        extractions[record["path"]] = FileExtraction(warnings=[reason or "encoding"]) if text is None else \
            extract_file(record["path"], family, text, record["language"])
    timings["extract"] = time.perf_counter() - started
    started = time.perf_counter()
    facts = repository_facts(inventory, extractions)
    timings["assemble"] = time.perf_counter() - started
    started = time.perf_counter()
    graph = build_graph(inventory, extractions)
    timings["graph"] = time.perf_counter() - started
    total = sum(timings.values())
    return {"files": len(inventory), "extracted_files": len(extractions), "seconds": timings, "total": total,
            "per_1000_files": total / len(inventory) * 1000, "facts": len(facts),
            "by_kind": dict(sorted(Counter(f.kind for f in facts).items())),
            "nodes": len(graph.nodes), "edges": len(graph.edges),
            "internal_edges": sum(1 for e in graph.edges if e["kind"] == "internal"),
            "warnings": [w for e in extractions.values() for w in e.warnings],
            "facts_list": facts, "graph": graph, "inventory": inventory}


def with_database(root: Path, name: str) -> dict:
    """The stored pipeline: first run, no-change run, one touched file."""
    from repo_scoping_pipelines.collectors.pipeline import take_snapshot
    from repo_scoping_pipelines.collectors.registration import register_repository
    from repo_scoping_pipelines.facts.pipeline import build_repository_graph, observe_repository

    args = argparse.Namespace(embedded_postgres=False, milvus_local=True, keep=False)
    out = {}
    with throwaway_stack(args, f"facts_{name}") as (_settings, services):
        register_repository(services, name, str(root))
        take_snapshot(services, name)
        for label in ("first", "unchanged"):
            started = time.perf_counter()
            facts = observe_repository(services, name)
            graph = build_repository_graph(services, name)
            out[label] = {"seconds": time.perf_counter() - started, "files_extracted": facts.sync.extracted,
                          "facts": sum(facts.by_kind.values()), "added": facts.added, "removed": facts.removed,
                          "nodes": len(graph.graph.nodes)}
        source = next(p for p in sorted(extracted_paths(services, name))
                      if p.endswith((".py", ".js", ".go", ".java")) and "/" in p)
        path = root / source
        original = path.read_bytes()
        path.write_bytes(original + b"\n")
        git(root, "commit", "-qam", "bench: touch one file")
        try:
            take_snapshot(services, name)
            started = time.perf_counter()
            facts = observe_repository(services, name)
            graph = build_repository_graph(services, name)
            out["one_file_changed"] = {"seconds": time.perf_counter() - started, "file": source,
                                       "files_extracted": facts.sync.extracted, "added": facts.added,
                                       "removed": facts.removed}
        finally:
            git(root, "reset", "-q", "--hard", "HEAD~1")
    return out


def extracted_paths(services, name: str) -> list[str]:
    """Files the facts stage reads (a source file touched among them must be read again)."""
    from repo_scoping_pipelines.storage import catalog
    from repo_scoping_pipelines.storage import facts as fact_store

    return list(fact_store.extraction_state(services.engine, catalog.get_repository(services.engine, name).id))


def cloc_compare(root: Path, inventory: list[dict], ours: dict[str, int]) -> dict:
    """cloc on the files we count (blank + comment + code = our lines), and cloc code lines on the whole tree."""
    from repo_scoping_pipelines.facts.languages import counted

    if shutil.which("cloc") is None:
        return {}
    listed = WORK / f"facts-cloc-{root.name}.txt"
    listed.write_text("\n".join(str(root / r["path"]) for r in inventory if counted(r)) + "\n")
    same = json.loads(subprocess.run(["cloc", "--json", "--quiet", "--skip-uniqueness", f"--list-file={listed}"], capture_output=True,
                                     text=True, check=True).stdout or "{}")
    whole = json.loads(subprocess.run(["cloc", "--json", "--quiet", "--vcs=git", "."], cwd=root, capture_output=True,
                                      text=True, check=True).stdout or "{}")
    rows = {}
    for language, lines in ours.items():
        key = CLOC_NAMES.get(language, language)
        entry, tree = same.get(key, {}), whole.get(key, {})
        rows[language] = {"ours": lines,
                          "cloc_same_files_total": sum(entry.get(k, 0) for k in ("blank", "comment", "code")),
                          "cloc_same_files_code": entry.get("code", 0), "cloc_whole_tree_code": tree.get("code", 0),
                          "cloc_whole_tree_files": tree.get("nFiles", 0)}
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", action="append", help="owner+name of a fetched mirror (repeatable)")
    parser.add_argument("--no-db", action="store_true", help="skip the stored-pipeline measurement")
    parser.add_argument("--no-cloc", action="store_true")
    parser.add_argument("--show", default="", help="comma-separated fact kinds to print for each repository")
    args = parser.parse_args()
    results = {}
    for mirror in args.repo or DEFAULT_REPOS:
        root = checkout(mirror)
        commit = git(root, "rev-parse", "HEAD").strip()
        result = extract_only(root)
        languages = {f.subject: f.value["lines"] for f in result["facts_list"] if f.kind == "language"}
        row = {k: v for k, v in result.items() if k not in ("facts_list", "graph", "inventory")}
        row["commit"] = commit
        row["languages"] = languages
        if not args.no_cloc:
            row["cloc"] = cloc_compare(root, result["inventory"], languages)
        if not args.no_db:
            row["stored"] = with_database(root, root.name)
        results[mirror] = row
        seconds = result["seconds"]
        print(f"\n## {mirror} @ {commit[:12]}: {result['files']} files, {result['extracted_files']} read for facts")
        print(f"extraction {result['total']:.2f} s ({result['per_1000_files']:.2f} s per 1,000 files; inventory "
              f"{seconds['inventory']:.2f}, extract {seconds['extract']:.2f}, assemble {seconds['assemble']:.2f}, "
              f"graph {seconds['graph']:.2f}); {result['facts']} facts {row['by_kind']}; graph {result['nodes']} "
              f"nodes / {result['edges']} edges ({result['internal_edges']} internal)")
        for language, c in row.get("cloc", {}).items():
            print(f"  {language}: ours {c['ours']}, cloc same files {c['cloc_same_files_total']} "
                  f"(code {c['cloc_same_files_code']}), cloc whole tree code {c['cloc_whole_tree_code']} "
                  f"in {c['cloc_whole_tree_files']} files")
        for label, stored in row.get("stored", {}).items():
            print(f"  stored {label}: {json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in stored.items()})}")
        for fact in result["facts_list"]:
            if fact.kind in args.show.split(","):
                print(f"  {fact.kind:12} {fact.subject[:60]:60} {fact.path}:{fact.line}")
    out = WORK / "facts_results.json"
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"\nresults: {out}")


if __name__ == "__main__":
    main()
