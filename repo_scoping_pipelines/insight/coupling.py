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

Across repositories (shared issue keys): insight/cross_coupling.py.
"""

from __future__ import annotations

import pandas as pd

MIN_REVS = 5
MIN_SHARED_REVS = 5
MIN_COUPLING = 0.30
MAX_CHANGESET_SIZE = 30

COLUMNS = ["path_a", "path_b", "shared_revisions", "revisions_a", "revisions_b", "average_revisions", "degree"]


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

