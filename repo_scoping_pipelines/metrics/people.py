"""The people registry (pure): identities from git, GitHub and Redmine merged into people.

An identity is a key `kind:value`:
- `email:<address>` a git author e-mail after .mailmap (lowercased), or an e-mail GitHub shows on a commit;
- `git-name:<name>` a git author without an e-mail (counted as bad input, kept apart);
- `github:<login>` a GitHub login (PR authors, reviewers, commit authors; lowercased, as GitHub compares);
- `redmine:<name>` a Redmine user (issue author or assignee), as Redmine's issue API shows them.

Links, strongest first (each with a reason and a confidence):
1. exact e-mail: the same address (case-insensitive) is one identity (1.0);
2. GitHub noreply addresses `123+login@users.noreply.github.com` / `login@users.noreply.github.com`
   belong to that login (1.0);
3. GitHub's commit-author linkage: a commit GitHub attributes to a login links the login with the
   commit's git e-mail (0.95);
4. a manual `merge` (1.0) links any two identities; a manual `split` detaches an identity from every
   link decided or found before it;
5. name similarity (same normalised name 0.8, similar 0.6-0.75, a name equal to a login 0.6) is only a
   suggestion: below MERGE_BAR it is stored for a person to decide, never applied.
People are the connected components of the applied links (scipy); a person's id is derived from the
component's anchor identity, so it is stable while the links are.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

MERGE_BAR = 0.9  # links at or above are applied; below are suggestions
_NOREPLY = re.compile(r"^(?:\d+\+)?(?P<login>[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)@users\.noreply\.github\.com$")
_KIND_ORDER = {"email": 0, "github": 1, "redmine": 2, "git-name": 3}
_CONFIDENCE = {"exact e-mail": 1.0, "manual merge": 1.0, "github noreply address": 1.0,
               "github commit author": 0.95}
SIMILAR_NAME_MIN = 85.0  # rapidfuzz token_sort_ratio (0-100) for a "similar name" suggestion


class PeopleError(ValueError):
    """A merge or split that cannot be made: not an identity, too few identities, an unknown action."""


class UnknownIdentity(PeopleError):
    """A merge or split names an identity the registry does not know."""


def email_key(email: str) -> str:
    return "email:" + email.strip().lower()


def identity_key(kind: str, value: str) -> str:
    value = value.strip()
    return f"{kind}:{value.lower() if kind in ('email', 'github') else value}"


def parse_identity(text: str) -> str:
    """What a user types (an e-mail, `github:login`, `redmine:Name`, a key) as an identity key."""
    text = text.strip()
    kind, sep, value = text.partition(":")
    if sep and kind in _KIND_ORDER and value.strip():
        return identity_key(kind, value)
    if "@" in text:
        return email_key(text)
    raise PeopleError(f"{text!r} is not an identity: give an e-mail, github:LOGIN, redmine:NAME or git-name:NAME")


def normalise_name(name: str) -> str:
    """Lowercase, accents and punctuation removed, tokens sorted ("Müller, Jan" == "jan muller")."""
    text = unicodedata.normalize("NFKD", name or "")
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    return " ".join(sorted(re.findall(r"[a-z0-9]+", text)))


def noreply_login(email: str) -> str | None:
    m = _NOREPLY.match(email.strip().lower())
    return m.group("login") if m else None


@dataclass
class Registry:
    identities: pd.DataFrame  # identity, kind, value, person_id, display_name, reason, confidence, linked_to, seen
    people: pd.DataFrame  # person_id, display_name, primary_email, github_login, identities
    suggestions: pd.DataFrame  # identity_a, identity_b, reason, confidence
    counts: dict[str, int] = field(default_factory=dict)


def _frame(rows, columns) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns) if not isinstance(rows, pd.DataFrame) else rows[columns]


def build_registry(git: pd.DataFrame, github: pd.DataFrame, linkage: pd.DataFrame, redmine: pd.DataFrame,
                   decisions: list[tuple[str, str, str | None]]) -> Registry:
    """git: email, name, commits; github: login, seen; linkage: email, login, name (GitHub's commit
    authors); redmine: name, seen; decisions: (action, identity_a, identity_b) oldest first."""
    counts = {"git_without_email": 0, "github_without_login": 0, "noreply_links": 0, "commit_author_links": 0,
              "manual_merges": 0, "manual_splits": 0, "unknown_decisions": 0}
    git = _frame(git, ["email", "name", "commits"]).copy()
    git["email"] = git["email"].fillna("").astype(str).str.strip().str.lower()
    git["name"] = git["name"].fillna("").astype(str).str.strip()
    no_email = git["email"] == ""
    counts["git_without_email"] = int(git.loc[no_email, "commits"].sum())
    git["identity"] = np.where(no_email, "git-name:" + git["name"].where(git["name"] != "", "(unknown)"),
                               "email:" + git["email"])
    git["kind"] = np.where(no_email, "git-name", "email")
    git["value"] = np.where(no_email, git["name"], git["email"])
    # One identity per address: the name of the most commits is its display name.
    git = git.sort_values(["identity", "commits", "name"], ascending=[True, False, True])
    git_ids = git.groupby("identity", sort=False).agg(kind=("kind", "first"), value=("value", "first"),
                                                       display_name=("name", "first"), seen=("commits", "sum"))

    gh = _frame(github, ["login", "seen"]).copy()
    gh["login"] = gh["login"].fillna("").astype(str).str.strip().str.lower()
    counts["github_without_login"] = int((gh["login"] == "").sum())
    gh = gh[gh["login"] != ""]
    link = _frame(linkage, ["email", "login", "name"]).copy()
    link["email"] = link["email"].fillna("").astype(str).str.strip().str.lower()
    link["login"] = link["login"].fillna("").astype(str).str.strip().str.lower()
    link = link[(link["email"] != "") & (link["login"] != "")].drop_duplicates(["email", "login"])

    # Noreply addresses name their login.
    emails = git_ids[git_ids["kind"] == "email"]["value"]
    noreply = emails.map(lambda e: noreply_login(e)).dropna()
    gh_all = pd.concat([gh[["login", "seen"]], pd.DataFrame({"login": noreply.values, "seen": 0}),
                        pd.DataFrame({"login": link["login"].values, "seen": 0})])
    gh_ids = gh_all.groupby("login").agg(seen=("seen", "sum"))
    gh_ids.index = "github:" + gh_ids.index
    gh_ids["kind"], gh_ids["value"] = "github", gh_ids.index.str.slice(len("github:"))
    gh_ids["display_name"] = gh_ids["value"]

    rm = _frame(redmine, ["name", "seen"]).copy()
    rm["name"] = rm["name"].fillna("").astype(str).str.strip()
    rm = rm[rm["name"] != ""]
    rm_ids = rm.groupby("name").agg(seen=("seen", "sum"))
    rm_ids["value"] = rm_ids.index
    rm_ids.index = "redmine:" + rm_ids.index
    rm_ids["kind"], rm_ids["display_name"] = "redmine", rm_ids["value"]

    # E-mails GitHub shows on commits that git history does not have (squash-merged branches).
    extra = link[~("email:" + link["email"]).isin(git_ids.index)].drop_duplicates("email")
    extra_ids = pd.DataFrame({"kind": "email", "value": extra["email"].values,
                              "display_name": extra["name"].fillna("").values, "seen": 0},
                             index="email:" + extra["email"].values)
    ids = pd.concat([git_ids, gh_ids, rm_ids, extra_ids])
    ids = ids[~ids.index.duplicated()]
    ids.index.name = "identity"

    # Automatic links.
    edges = [pd.DataFrame({"a": noreply.index.to_numpy(), "b": "github:" + noreply.to_numpy(),
                           "reason": "github noreply address"})]
    counts["noreply_links"] = len(noreply)
    edges.append(pd.DataFrame({"a": "email:" + link["email"].values, "b": "github:" + link["login"].values,
                               "reason": "github commit author"}))
    counts["commit_author_links"] = len(link)
    auto = pd.concat(edges, ignore_index=True)
    auto["confidence"] = auto["reason"].map(_CONFIDENCE)
    auto["order"] = -1  # before every decision

    # Decisions, in order: merges add links; a split drops every earlier link of the identity.
    manual = []
    split_at: dict[str, int] = {}
    for i, (action, a, b) in enumerate(decisions):
        if a not in ids.index or (action == "merge" and b not in ids.index):
            counts["unknown_decisions"] += 1  # an identity no longer seen: the decision waits
            continue
        if action == "merge":
            manual.append({"a": a, "b": b, "reason": "manual merge", "confidence": 1.0, "order": i})
            counts["manual_merges"] += 1
        elif action == "split":
            split_at[a] = i
            counts["manual_splits"] += 1
    links = pd.concat([auto, pd.DataFrame(manual, columns=auto.columns)], ignore_index=True)
    if split_at:
        cut = pd.Series(split_at)
        before_a = links["a"].map(cut).fillna(-2) > links["order"]
        before_b = links["b"].map(cut).fillna(-2) > links["order"]
        links = links[~(before_a | before_b)]
    links = links[links["confidence"] >= MERGE_BAR]

    # Components.
    position = pd.Series(np.arange(len(ids)), index=ids.index)
    a_pos, b_pos = position.reindex(links["a"]).to_numpy(), position.reindex(links["b"]).to_numpy()
    graph = coo_matrix((np.ones(len(links)), (a_pos, b_pos)), shape=(len(ids), len(ids)))
    _n, labels = connected_components(graph, directed=False)
    ids = ids.assign(component=labels, rank=ids["kind"].map(_KIND_ORDER))
    ids = ids.reset_index().sort_values(["component", "rank", "identity"])
    anchors = ids.groupby("component")["identity"].first()
    person_of = anchors.map(lambda key: "p-" + hashlib.sha1(key.encode()).hexdigest()[:12])
    ids["person_id"] = ids["component"].map(person_of)

    # Why each identity belongs: its strongest link (manual first), else it is the person's own.
    both = pd.concat([links.rename(columns={"a": "identity", "b": "linked_to"}),
                      links.rename(columns={"b": "identity", "a": "linked_to"})], ignore_index=True)
    both = both.sort_values(["identity", "confidence", "order"], ascending=[True, False, False])
    best = both.drop_duplicates("identity").set_index("identity")
    ids["reason"] = ids["identity"].map(best["reason"]).fillna("own identity")
    ids["confidence"] = ids["identity"].map(best["confidence"]).fillna(1.0).astype(float)
    ids["linked_to"] = ids["identity"].map(best["linked_to"])
    ids["display_name"] = ids["display_name"].fillna("").astype(str)
    ids["seen"] = ids["seen"].fillna(0).astype(int)

    people = _people(ids)
    suggestions = _suggestions(ids)
    identities = ids[["identity", "kind", "value", "person_id", "display_name", "reason", "confidence",
                      "linked_to", "seen"]].reset_index(drop=True)
    counts.update(identities=len(identities), people=len(people), suggestions=len(suggestions))
    return Registry(identities=identities, people=people, suggestions=suggestions, counts=counts)


def _people(ids: pd.DataFrame) -> pd.DataFrame:
    named = ids[(ids["display_name"] != "") & ids["kind"].isin(["email", "redmine", "git-name"])]
    named = named.sort_values(["person_id", "rank", "seen", "identity"], ascending=[True, True, False, True])
    name = named.groupby("person_id")["display_name"].first()
    mails = ids[(ids["kind"] == "email")].assign(noreply=lambda f: f["value"].str.endswith(
        "@users.noreply.github.com"))
    mails = mails.sort_values(["person_id", "noreply", "seen", "identity"], ascending=[True, True, False, True])
    email = mails.groupby("person_id")["value"].first()
    logins = ids[ids["kind"] == "github"].sort_values(["person_id", "seen", "identity"],
                                                      ascending=[True, False, True])
    login = logins.groupby("person_id")["value"].first()
    out = ids.groupby("person_id").agg(identities=("identity", "size"), fallback=("value", "first"))
    out["display_name"] = name.reindex(out.index).fillna(out["fallback"])
    out["primary_email"] = email.reindex(out.index)
    out["github_login"] = login.reindex(out.index)
    out = out.reset_index()[["person_id", "display_name", "primary_email", "github_login", "identities"]]
    return out.astype(object).where(out.notna(), None)


def _suggestions(ids: pd.DataFrame) -> pd.DataFrame:
    """Pairs of identities of different people whose names match or look alike (never applied)."""
    columns = ["identity_a", "identity_b", "reason", "confidence"]
    named = ids[ids["kind"].isin(["email", "redmine", "git-name"])].assign(
        norm=lambda f: f["display_name"].map(normalise_name))
    named = named[named["norm"].str.contains(" ")]  # one-word names ("admin", "ci") say too little
    out = []
    if len(named) > 1:
        same = named.merge(named, on="norm", suffixes=("_a", "_b"))
        same = same[(same["person_id_a"] != same["person_id_b"]) & (same["identity_a"] < same["identity_b"])]
        out.append(same.assign(reason="same name", confidence=0.8)[columns])
        # Similar (not equal) names, blocked by the first token so the comparison stays small.
        uniq = named.drop_duplicates("norm")
        uniq = uniq.assign(block=uniq["norm"].str.split(" ").str[0])
        for _block, group in uniq.groupby("block"):
            if len(group) < 2:
                continue
            scores = process.cdist(group["norm"].tolist(), group["norm"].tolist(), scorer=fuzz.token_sort_ratio)
            i, j = np.nonzero(np.triu(scores >= SIMILAR_NAME_MIN, k=1))
            if len(i):
                pairs = pd.DataFrame({"norm_a": group["norm"].to_numpy()[i], "norm_b": group["norm"].to_numpy()[j],
                                      "score": scores[i, j]})
                left = named[["identity", "person_id", "norm"]]
                pairs = pairs.merge(left.add_suffix("_a"), on="norm_a").merge(left.add_suffix("_b"), on="norm_b")
                pairs = pairs[pairs["person_id_a"] != pairs["person_id_b"]]
                pairs = pairs.assign(reason="similar name", confidence=(0.6 + (pairs["score"] - 85) / 100).round(3))
                swap = pairs["identity_a"] > pairs["identity_b"]
                pairs.loc[swap, ["identity_a", "identity_b"]] = pairs.loc[swap, ["identity_b", "identity_a"]].values
                out.append(pairs[columns])
    logins = ids[ids["kind"] == "github"][["identity", "person_id", "value"]]
    if len(logins) and len(named):
        flat = named.assign(flat=named["display_name"].str.casefold().str.replace(r"[^a-z0-9-]", "", regex=True))
        hit = flat.merge(logins, left_on="flat", right_on="value", suffixes=("_a", "_b"))
        hit = hit[hit["person_id_a"] != hit["person_id_b"]]
        out.append(hit.assign(reason="name equals login", confidence=0.6)[columns])
    if not out:
        return pd.DataFrame(columns=columns)
    result = pd.concat(out, ignore_index=True)
    result = result[result["confidence"] < MERGE_BAR]
    result = result.sort_values(["identity_a", "identity_b", "confidence"], ascending=[True, True, False])
    return result.drop_duplicates(["identity_a", "identity_b"]).reset_index(drop=True)
