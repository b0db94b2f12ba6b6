"""Change coupling (logical coupling) as code-maat defines it, on pandas.

- change set: the files of one non-merge commit of the default branch (renames followed to the
  head's names; only files that exist at the head are paired). Change sets with more than
  `max_changeset_size` files (counted over every file the commit touched) are dropped first, as
  code-maat does: large reformatting commits couple everything with everything.
- revisions of a file: the change sets (after that filter) it is in.
- shared revisions of a pair: the change sets both are in.
- degree = shared revisions ÷ average revisions of the two ((revs_a + revs_b) / 2), 0..1
  (code-maat prints it as a percentage).
- a pair is reported when average revisions ≥ `min_revs`, shared ≥ `min_shared_revs` and
  degree ≥ `min_coupling`. Defaults are code-maat's: 5, 5, 30%, max change set 30
  (REPO_SCOPING_INSIGHT_COUPLING_MIN_REVS, _MIN_SHARED_REVS, _MIN_DEGREE, _MAX_CHANGESET).

Across repositories: commits whose subject names the same issue key of a tracker that spans
repositories — Jira-style `PROJ-123` (`ISSUE_KEY`) — form one logical change set: every file of every
repository changed under that key. Cross-repository pairs are counted on those change sets with the
same thresholds. `#123` is not used across repositories: GitHub and GitLab numbers are per repository,
so `#12` in two repositories names two different issues.
"""

from __future__ import annotations

import re

import pandas as pd

ISSUE_KEY = re.compile(r"\b([A-Z][A-Z0-9_]{1,19}-[1-9][0-9]{0,8})\b")
ISSUE_KEY_SQL = r"[A-Z][A-Z0-9_]{1,19}-[1-9][0-9]{0,8}"  # the same, as a Postgres regex (pre-filter)

MIN_REVS = 5
MIN_SHARED_REVS = 5
MIN_COUPLING = 0.30
MAX_CHANGESET_SIZE = 30

COLUMNS = ["path_a", "path_b", "shared_revisions", "revisions_a", "revisions_b", "average_revisions", "degree"]


def issue_keys(subject: str) -> list[str]:
    return sorted(set(ISSUE_KEY.findall(subject or "")))


def _pairs(sets: pd.DataFrame, *, min_revs: float, min_shared_revs: int, min_coupling: float) -> pd.DataFrame:
    """sets: change (the change-set id), entity; one row per entity and change set (already filtered)."""
    sets = sets.drop_duplicates(["change", "entity"])
    revs = sets.groupby("entity")["change"].nunique()
    pairs = sets.merge(sets, on="change", suffixes=("_a", "_b"))
    pairs = pairs[pairs["entity_a"] < pairs["entity_b"]]
    shared = pairs.groupby(["entity_a", "entity_b"]).size().rename("shared_revisions").reset_index()
    shared["revisions_a"] = shared["entity_a"].map(revs).astype(int)
    shared["revisions_b"] = shared["entity_b"].map(revs).astype(int)
    shared["average_revisions"] = (shared["revisions_a"] + shared["revisions_b"]) / 2.0
    shared["degree"] = shared["shared_revisions"] / shared["average_revisions"]
    keep = ((shared["average_revisions"] >= min_revs) & (shared["shared_revisions"] >= min_shared_revs)
            & (shared["degree"] >= min_coupling))
    return shared[keep].rename(columns={"entity_a": "path_a", "entity_b": "path_b"})


def coupling(changes: pd.DataFrame, head_paths: set[str] | None = None, *, min_revs: float = MIN_REVS,
             min_shared_revs: int = MIN_SHARED_REVS, min_coupling: float = MIN_COUPLING,
             max_changeset_size: int = MAX_CHANGESET_SIZE) -> tuple[pd.DataFrame, dict]:
    """Coupled pairs of one repository, strongest first, and counts for the metadata.

    changes: sha, head_path (one row per commit and file, every file the commit touched).
    """
    sizes = changes.groupby("sha")["head_path"].size()
    too_large = sizes.index[sizes > max_changeset_size]
    kept = changes[~changes["sha"].isin(too_large)]
    if head_paths is not None:
        kept = kept[kept["head_path"].isin(head_paths)]
    sets = kept.rename(columns={"sha": "change", "head_path": "entity"})[["change", "entity"]]
    pairs = _pairs(sets, min_revs=min_revs, min_shared_revs=min_shared_revs, min_coupling=min_coupling)
    pairs = pairs.sort_values(["degree", "shared_revisions", "path_a", "path_b"],
                              ascending=[False, False, True, True]).reset_index(drop=True)
    stats = {"change_sets": int(sizes.size), "change_sets_too_large": len(too_large),
             "empty_change_sets": 0, "largest_change_set": int(sizes.max()) if sizes.size else 0}
    return pairs[COLUMNS], stats


def cross_coupling(keyed: pd.DataFrame, repository: str, *, min_revs: float = MIN_REVS,
                   min_shared_revs: int = MIN_SHARED_REVS, min_coupling: float = MIN_COUPLING,
                   max_changeset_size: int = MAX_CHANGESET_SIZE) -> pd.DataFrame:
    """Pairs between `repository`'s files and other repositories' files changed under the same issue keys.

    keyed: repository, head_path, issue_key (one row per file and key, any repository).
    Columns: path_a (in `repository`), repository_b, path_b, and the COLUMNS figures.
    """
    if keyed.empty:
        return pd.DataFrame(columns=["path_a", "repository_b", *COLUMNS[1:]])
    sets = keyed.assign(entity=keyed["repository"] + "\0" + keyed["head_path"]).rename(columns={"issue_key": "change"})
    sets = sets.drop_duplicates(["change", "entity"])
    sizes = sets.groupby("change").size()
    sets = sets[sets["change"].isin(sizes.index[sizes <= max_changeset_size])]
    pairs = _pairs(sets[["change", "entity"]], min_revs=min_revs, min_shared_revs=min_shared_revs,
                   min_coupling=min_coupling)
    if pairs.empty:
        return pd.DataFrame(columns=["path_a", "repository_b", *COLUMNS[1:]])
    a = pairs["path_a"].str.split("\0", n=1, expand=True)
    b = pairs["path_b"].str.split("\0", n=1, expand=True)
    frame = pairs.assign(repo_a=a[0], file_a=a[1], repo_b=b[0], file_b=b[1])
    frame = frame[frame["repo_a"] != frame["repo_b"]]
    # Orient every pair so that path_a is in `repository`.
    mine_a = frame["repo_a"] == repository
    mine_b = frame["repo_b"] == repository
    left = frame[mine_a].assign(path_a=lambda f: f["file_a"], repository_b=lambda f: f["repo_b"],
                                path_b=lambda f: f["file_b"])
    flipped = frame[mine_b]
    right = flipped.assign(path_a=flipped["file_b"], repository_b=flipped["repo_a"], path_b=flipped["file_a"],
                           revisions_a=flipped["revisions_b"], revisions_b=flipped["revisions_a"])
    out = pd.concat([left, right])[["path_a", "repository_b", *COLUMNS[1:]]]
    return out.sort_values(["degree", "shared_revisions", "path_a", "repository_b", "path_b"],
                           ascending=[False, False, True, True, True]).reset_index(drop=True)
