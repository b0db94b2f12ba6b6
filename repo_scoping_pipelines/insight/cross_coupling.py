"""Change coupling ACROSS repositories (issue 16), on pandas: files of different repositories that change
under the same issue key.

Issue keys, read from a commit's subject (the stored history keeps subjects only). The rule is
conservative: only references that name the same issue wherever they are written count.

- Jira-style `PROJ-123`: an upper-case project key (2-20 letters, digits, `_`, starting with a letter),
  a dash, a number without a leading zero; not glued to other word characters (`xPAY-1`, `PAY-1a` are
  not keys). Jira keys name one issue across every repository of the organisation. Prefixes that are
  standards or algorithms rather than projects (`UTF-8`, `SHA-256`, `ISO-8601`, `CVE-2024-…`, `RFC-…`,
  `PEP-8`, …: NOT_PROJECTS) are left out.
- Qualified GitHub / GitLab references: `owner/repo#123` (GitLab: `group/sub/project#123`) and issue or
  pull-request URLs `https://host/owner/repo/issues/123`, `…/pull/123`, `…/-/issues/123`,
  `…/-/merge_requests/123`. Normalised to `owner/repo#123` in lower case (GitHub and GitLab paths are
  case-insensitive); the host is not part of the key.
- A bare `#123` names an issue or pull request of the repository it is written in (GitHub's own
  reading of a commit message): in a repository whose GitHub slug is known (a GitHub URL, or a local
  clone's `origin`), it is that repository's `owner/repo#123`, so another repository's commit naming
  `owner/repo#123` meets it. Where no slug is known it is no key: `#12` in two such repositories names two
  different issues. Redmine's `refs #123` / `fixes #123` read the same way (nothing records that two
  repositories share one Redmine tracker, so a Redmine number is never taken as shared).

Change sets: all files touched by the commits whose subject names key K in repository R form the
change set (R, K). Commits with more than `max_changeset_size` files are left out first (as within a
repository: reformatting commits couple everything), then change sets with more than
`max_changeset_size` files. Then, as code-maat defines them:

- revisions of a file: the keys (change sets) it was touched under;
- shared revisions of a pair (file in repository A, file in repository B, A != B): the keys both were
  touched under;
- degree = shared ÷ ((revisions_a + revisions_b) / 2), in (0, 1];
- reported when average revisions ≥ `min_revs`, shared ≥ `min_shared_revs`, degree ≥ `min_coupling`
  (the within-repository settings, REPO_SCOPING_INSIGHT_COUPLING_*).

Each pair is reported once, ordered: repository_a < repository_b (whatever the repositories are
labelled with: ids in storage, names in tests).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import pandas as pd

from .coupling import MAX_CHANGESET_SIZE, MIN_COUPLING, MIN_REVS, MIN_SHARED_REVS

# Standards, encodings, algorithms and advisories written like Jira keys.
NOT_PROJECTS = frozenset({
    "AES", "AGPL", "BSD", "CP", "CVE", "ECMA", "ES", "GHSA", "GPL", "HTTP", "IEC", "IEEE", "ISO", "LGPL", "MD",
    "MPL", "PEP", "RFC", "RSA", "SHA", "SSL", "TLS", "UTF", "WIN", "X",
})

_JIRA = r"(?<![A-Za-z0-9_\-])(?P<jira>[A-Z][A-Z0-9_]{1,19}-[1-9][0-9]{0,8})(?![A-Za-z0-9_])"
_SLUG = r"[A-Za-z0-9][A-Za-z0-9._\-]*(?:/[A-Za-z0-9][A-Za-z0-9._\-]*)+"
_QUALIFIED = rf"(?<![A-Za-z0-9_./\-])(?P<slug>{_SLUG})#(?P<number>[1-9][0-9]{{0,8}})(?![0-9A-Za-z_])"
_URL = (rf"https?://[A-Za-z0-9.\-]+(?::[0-9]+)?/(?P<url_slug>{_SLUG}?)/(?:-/)?"
        r"(?:issues|pull|pulls|merge_requests)/(?P<url_number>[1-9][0-9]{0,8})(?![0-9A-Za-z_])")
# `#12` alone: not after a slug character (that is `owner/repo#12`), `&` (`&#12;`) or another `#`.
_BARE = r"(?<![A-Za-z0-9_./\-&#])#(?P<bare>[1-9][0-9]{0,8})(?![0-9A-Za-z_])"
ISSUE_REFERENCE = re.compile(f"{_URL}|{_QUALIFIED}|{_JIRA}|{_BARE}")

PAIR_COLUMNS = ["repository_a", "path_a", "repository_b", "path_b", "shared_revisions", "revisions_a",
                "revisions_b", "average_revisions", "degree", "shared_keys"]
SHOWN_KEYS = 5  # shared keys kept per pair (the first ones, sorted)


def _keys_frame(matches: pd.DataFrame, homes: pd.Series | None) -> pd.Series:
    """One key per extractall match (NaN where a match is not a key)."""
    url = matches["url_slug"].str.lower() + "#" + matches["url_number"]
    qualified = matches["slug"].str.lower() + "#" + matches["number"]
    jira = matches["jira"].where(~matches["jira"].str.split("-").str[0].isin(NOT_PROJECTS))
    keys = url.fillna(qualified).fillna(jira)
    if homes is not None:  # a bare number is its own repository's issue, where that repository's slug is known
        home = pd.Series(homes.reindex(matches.index.get_level_values(0)).to_numpy(), index=matches.index,
                         dtype="string").str.lower()
        keys = keys.fillna(home + "#" + matches["bare"])
    return keys


def extract_keys(subjects: pd.Series, homes: pd.Series | None = None) -> pd.DataFrame:
    """Issue keys of each subject, vectorised: one row per (index of `subjects`, key), duplicates dropped.
    `homes`: the GitHub slug (`owner/repo`) of each subject's repository, same index, NaN where unknown.
    Columns: the index as `row`, `issue_key`."""
    subjects = subjects.fillna("").astype(str)
    matches = subjects.str.extractall(ISSUE_REFERENCE).astype("string")
    if matches.empty:
        return pd.DataFrame({"row": pd.Series(dtype=subjects.index.dtype), "issue_key": pd.Series(dtype=object)})
    keys = _keys_frame(matches, homes).dropna()
    out = pd.DataFrame({"row": keys.index.get_level_values(0), "issue_key": keys.astype(object).to_numpy()})
    return out.drop_duplicates().reset_index(drop=True)


def issue_keys(subject: str, home: str | None = None) -> list[str]:
    """The issue keys one commit subject names, sorted (see the module's rule); `home`: the slug of the
    repository it was written in, for its bare `#N`."""
    homes = pd.Series([home], dtype=object) if home else None
    return sorted(extract_keys(pd.Series([subject]), homes)["issue_key"])


def change_sets(changes: pd.DataFrame, *, max_changeset_size: int = MAX_CHANGESET_SIZE,
                home_slugs: Mapping | None = None) -> tuple[pd.DataFrame, dict]:
    """The (repository, key) change sets of the history of every repository.

    changes: repository, sha, subject, path (one row per commit and file; the file's name at the head),
    optionally commit_files (how many files the commit touched, when `changes` holds only some of them).
    home_slugs: repository -> its GitHub slug, where known (their bare `#N` become keys).
    Returns (repository, issue_key, path) rows of the change sets kept, and counts for the metadata.
    """
    stats = {"commits": 0, "commits_with_keys": 0, "commits_too_large": 0, "keys": 0, "change_sets": 0,
             "change_sets_too_large": 0, "repositories_with_keys": 0}
    empty = pd.DataFrame(columns=["repository", "issue_key", "path"])
    if changes.empty:
        return empty, stats
    changes = changes.drop_duplicates(["repository", "sha", "path"])
    commits = changes.drop_duplicates(["repository", "sha"])[["repository", "sha", "subject"]].reset_index(drop=True)
    stats["commits"] = len(commits)
    homes = commits["repository"].map(dict(home_slugs)) if home_slugs else None
    keys = extract_keys(commits["subject"], homes)
    keyed_commits = commits.loc[keys["row"], ["repository", "sha"]].reset_index(drop=True)
    keyed_commits["issue_key"] = keys["issue_key"].to_numpy()
    stats["commits_with_keys"] = int(keyed_commits[["repository", "sha"]].drop_duplicates().shape[0])
    if "commit_files" in changes:
        sizes = changes.groupby(["repository", "sha"])["commit_files"].max().reset_index()
    else:
        sizes = changes.groupby(["repository", "sha"]).size().rename("commit_files").reset_index()
    keyed_commits = keyed_commits.merge(sizes, on=["repository", "sha"])
    large = keyed_commits["commit_files"] > max_changeset_size
    stats["commits_too_large"] = int(keyed_commits.loc[large, ["repository", "sha"]].drop_duplicates().shape[0])
    keyed_commits = keyed_commits[~large]
    files = keyed_commits.merge(changes[["repository", "sha", "path"]], on=["repository", "sha"])
    files = files[["repository", "issue_key", "path"]].drop_duplicates()
    set_sizes = files.groupby(["repository", "issue_key"]).size()
    too_large = set_sizes[set_sizes > max_changeset_size].index
    stats["change_sets_too_large"] = len(too_large)
    if len(too_large):
        files = files.set_index(["repository", "issue_key"]).drop(index=too_large).reset_index()
    stats["change_sets"] = int(set_sizes.size - len(too_large))
    stats["keys"] = int(files["issue_key"].nunique())
    stats["repositories_with_keys"] = int(files["repository"].nunique())
    return files.reset_index(drop=True)[["repository", "issue_key", "path"]], stats


def cross_coupling(sets: pd.DataFrame, *, min_revs: float = MIN_REVS, min_shared_revs: int = MIN_SHARED_REVS,
                   min_coupling: float = MIN_COUPLING) -> pd.DataFrame:
    """Coupled pairs of files of different repositories, strongest first (PAIR_COLUMNS).

    sets: repository, issue_key, path (change_sets' rows).
    """
    if sets.empty:
        return pd.DataFrame(columns=PAIR_COLUMNS)
    sets = sets[["repository", "issue_key", "path"]].drop_duplicates()
    revisions = sets.groupby(["repository", "path"]).size().rename("revisions").reset_index()
    pairs = sets.merge(sets, on="issue_key", suffixes=("_a", "_b"))
    pairs = pairs[pairs["repository_a"] < pairs["repository_b"]]
    ends = ["repository_a", "path_a", "repository_b", "path_b"]
    if pairs.empty:
        return pd.DataFrame(columns=PAIR_COLUMNS)
    pairs = pairs.sort_values("issue_key", kind="stable")
    shared = pairs.groupby(ends).size().rename("shared_revisions").reset_index()
    shown = pairs[pairs.groupby(ends).cumcount() < SHOWN_KEYS]
    shared = shared.merge(shown.groupby(ends)["issue_key"].agg(list).rename("shared_keys").reset_index(), on=ends)
    for side in ("a", "b"):
        shared = shared.merge(revisions.rename(columns={"repository": f"repository_{side}", "path": f"path_{side}",
                                                        "revisions": f"revisions_{side}"}),
                              on=[f"repository_{side}", f"path_{side}"])
    shared["average_revisions"] = (shared["revisions_a"] + shared["revisions_b"]) / 2.0
    shared["degree"] = shared["shared_revisions"] / shared["average_revisions"]
    keep = ((shared["average_revisions"] >= min_revs) & (shared["shared_revisions"] >= min_shared_revs)
            & (shared["degree"] >= min_coupling))
    out = shared[keep].sort_values(["degree", "shared_revisions", *ends], ascending=[False, False, True, True, True,
                                                                                    True])
    return out.reset_index(drop=True)[PAIR_COLUMNS]
