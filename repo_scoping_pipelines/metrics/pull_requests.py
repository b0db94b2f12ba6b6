"""Pull-request metrics per author over a time range (pure, pandas): what `author_prs_window` stores.

For the range (start, end] and each GitHub login:
- opened: PRs created in the range; merged: PRs merged in the range;
- median_hours_to_first_review: over the PRs opened in the range, the hours from creation to the first
  submitted review by someone other than the author (PRs never reviewed are left out);
- median_hours_to_merge: over the PRs merged in the range, creation to merge;
- reviews_given: reviews the login submitted in the range on other people's PRs (pending drafts not counted);
- median_lines / median_files: size of the PRs opened in the range, from their files (additions +
  deletions; PRs whose files were not fetched are left out).
Bad input is counted, not fatal: PRs without an author login, timestamps that go backwards (merged or
reviewed before created) are left out of the durations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

COLUMNS = ["author_login", "opened", "merged", "reviews_given", "median_hours_to_first_review",
           "median_hours_to_merge", "median_lines", "median_files"]
PR_COLUMNS = ["number", "author_login", "created_at", "merged_at"]
REVIEW_COLUMNS = ["number", "reviewer_login", "state", "submitted_at"]
SIZE_COLUMNS = ["number", "files", "lines"]


@dataclass
class PrFrames:
    prs: pd.DataFrame
    reviews: pd.DataFrame
    sizes: pd.DataFrame
    counts: dict[str, int] = field(default_factory=dict)


def prepare(prs: list | pd.DataFrame, reviews: list | pd.DataFrame, sizes: list | pd.DataFrame) -> PrFrames:
    """Typed frames (UTC timestamps, lowercased logins) and the counts of bad input found."""
    p = pd.DataFrame(prs, columns=PR_COLUMNS) if not isinstance(prs, pd.DataFrame) else prs[PR_COLUMNS].copy()
    r = (pd.DataFrame(reviews, columns=REVIEW_COLUMNS) if not isinstance(reviews, pd.DataFrame)
         else reviews[REVIEW_COLUMNS].copy())
    s = pd.DataFrame(sizes, columns=SIZE_COLUMNS) if not isinstance(sizes, pd.DataFrame) else sizes[SIZE_COLUMNS].copy()
    for frame, cols in ((p, ["created_at", "merged_at"]), (r, ["submitted_at"])):
        for col in cols:
            frame[col] = pd.to_datetime(frame[col], utc=True, errors="coerce")
    p["author_login"] = p["author_login"].fillna("").astype(str).str.lower()
    r["reviewer_login"] = r["reviewer_login"].fillna("").astype(str).str.lower()
    counts = {"prs_without_author": int((p["author_login"] == "").sum()),
              "merged_before_created": int((p["merged_at"] < p["created_at"]).sum()),
              "reviews_without_reviewer": int((r["reviewer_login"] == "").sum())}
    p = p[p["author_login"] != ""]
    r = r[(r["reviewer_login"] != "") & (r["state"].fillna("") != "PENDING") & r["submitted_at"].notna()]
    r = r.merge(p[["number", "author_login", "created_at"]], on="number", how="left")
    counts["reviewed_before_created"] = int((r["submitted_at"] < r["created_at"]).sum())
    counts["prs"], counts["reviews"] = len(p), len(r)
    return PrFrames(prs=p, reviews=r, sizes=s, counts=counts)


def _in(series: pd.Series, start: datetime | None, end: datetime | None) -> pd.Series:
    mask = series.notna()
    if start is not None:
        mask &= series > pd.Timestamp(start)
    if end is not None:
        mask &= series <= pd.Timestamp(end)
    return mask


def author_metrics(frames: PrFrames, start: datetime | None, end: datetime | None) -> pd.DataFrame:
    """One row per login active in (start, end]: COLUMNS, medians NaN where there is nothing to take."""
    prs, reviews = frames.prs, frames.reviews
    hour = pd.Timedelta(hours=1)
    opened = prs[_in(prs["created_at"], start, end)]
    merged = prs[_in(prs["merged_at"], start, end)]
    # First review by someone else, per PR (reviews of the author's own PR are comments, not reviews).
    others = reviews[(reviews["reviewer_login"] != reviews["author_login"]) & reviews["author_login"].notna()]
    first = others.groupby("number")["submitted_at"].min().rename("first_review")
    # a merge, not Series.map: map of an empty datetime Series fails to cast to float
    op = opened.merge(first, left_on="number", right_index=True, how="left")
    op = op.assign(to_review=(op["first_review"] - op["created_at"]) / hour)
    op.loc[op["to_review"] < 0, "to_review"] = float("nan")
    op = op.merge(frames.sizes, on="number", how="left")
    mg = merged.assign(to_merge=(merged["merged_at"] - merged["created_at"]) / hour)
    mg.loc[mg["to_merge"] < 0, "to_merge"] = float("nan")
    given = others[_in(others["submitted_at"], start, end)]

    by_open = op.groupby("author_login").agg(opened=("number", "size"),
                                             median_hours_to_first_review=("to_review", "median"),
                                             median_lines=("lines", "median"), median_files=("files", "median"))
    by_merge = mg.groupby("author_login").agg(merged=("number", "size"), median_hours_to_merge=("to_merge", "median"))
    by_review = given.groupby("reviewer_login").agg(reviews_given=("number", "size"))
    by_review.index.name = "author_login"
    out = by_open.join(by_merge, how="outer").join(by_review, how="outer")
    for col in ("opened", "merged", "reviews_given"):
        out[col] = out[col].fillna(0).astype(int)
    out = out.reset_index()
    if out.empty:
        return pd.DataFrame(columns=COLUMNS)
    out = out[COLUMNS].sort_values(["opened", "merged", "reviews_given", "author_login"],
                                   ascending=[False, False, False, True])
    return out.reset_index(drop=True)


def records(frame: pd.DataFrame) -> list[dict]:
    """JSON-ready rows: NaN medians become None, floats rounded to 2 places."""
    out = []
    for row in frame.to_dict("records"):
        out.append({k: (None if isinstance(v, float) and pd.isna(v) else
                        round(float(v), 2) if isinstance(v, float) else
                        int(v) if k in ("opened", "merged", "reviews_given") else v) for k, v in row.items()})
    return out
