"""GitHub REST: which registered repositories live on GitHub, and their pull requests, incrementally
by updated_at, with Link pagination and an ETag on the first page."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from ..config import Settings
from .git import run_git
from .http import CollectorError, JsonClient, check_service_url, parse_time

_SLUG = re.compile(r"^/*(?P<owner>[A-Za-z0-9_.-]+)/(?P<name>[A-Za-z0-9_.-]+?)(?:\.git)?/*$")
_SCP = re.compile(r"^(?:[A-Za-z0-9._-]+@)?(?P<host>[A-Za-z0-9.-]+):(?P<path>[^/].*)$")
_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="next"')
PER_PAGE = 100


def github_hosts(settings: Settings) -> set[str]:
    """github.com, plus the web host of a GitHub Enterprise API URL."""
    hosts = {"github.com"}
    api_host = (urlsplit(settings.github_api_url).hostname or "").lower()
    if api_host and api_host != "api.github.com":
        hosts.add(api_host)
    return hosts


def slug_from_url(url: str, settings: Settings) -> str | None:
    """'owner/name' when the git URL points at GitHub, else None."""
    url = url.strip()
    if "://" in url:
        parts = urlsplit(url)
        host, path = (parts.hostname or "").lower(), parts.path
    else:
        m = _SCP.match(url)
        if not m:
            return None
        host, path = m.group("host").lower(), m.group("path")
    if host not in github_hosts(settings):
        return None
    m = _SLUG.match(path)
    return f"{m.group('owner')}/{m.group('name')}" if m else None


def github_slug(source: str, source_kind: str, settings: Settings) -> str | None:
    """The GitHub repository behind a registered source: its URL, or a local clone's `origin`."""
    if source_kind == "git_url":
        return slug_from_url(source, settings)
    if source_kind == "local_path" and Path(source).exists():
        origin = run_git(["config", "--get", "remote.origin.url"], cwd=Path(source), check=False,
                         timeout=10).strip()
        return slug_from_url(origin, settings) if origin else None
    return None


@dataclass
class PullSync:
    pulls: list[dict] = field(default_factory=list)  # rows for storage.metrics.pull_requests
    etag: str | None = None
    etag_url: str | None = None
    not_modified: bool = False
    pages: int = 0
    requests: int = 0
    waited_s: float = 0.0


def _pull_row(item: object) -> dict:
    if not isinstance(item, dict) or not isinstance(item.get("number"), int) or not item.get("updated_at"):
        raise CollectorError("GitHub answered an unexpected pull request record (no number or updated_at)")
    user = item.get("user") if isinstance(item.get("user"), dict) else {}
    base = item.get("base") if isinstance(item.get("base"), dict) else {}
    merged_at = parse_time(item.get("merged_at"))
    return {
        "number": item["number"],
        "title": str(item.get("title") or ""),
        "body": str(item.get("body") or ""),
        "state": "merged" if merged_at else str(item.get("state") or "open"),
        "author_login": user.get("login"),
        "url": item.get("html_url"),
        "base_ref": base.get("ref"),
        "merge_commit_sha": item.get("merge_commit_sha"),
        "created_at": parse_time(item.get("created_at")),
        "updated_at": parse_time(item["updated_at"]),
        "merged_at": merged_at,
        "closed_at": parse_time(item.get("closed_at")),
    }


class GitHubCollector:
    def __init__(self, settings: Settings, *, sleep: Callable[[float], None] = time.sleep) -> None:
        if settings.github_token is None:
            raise CollectorError("REPO_SCOPING_GITHUB_TOKEN is not set")
        token = settings.github_token.get_secret_value()
        base = check_service_url(settings.github_api_url, settings, "REPO_SCOPING_GITHUB_API_URL")
        self.client = JsonClient.from_settings(
            "GitHub", base,
            {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
             "X-GitHub-Api-Version": "2022-11-28", "User-Agent": "repo-scoping-pipelines"},
            (token,), settings, sleep=sleep, credential_hint="REPO_SCOPING_GITHUB_TOKEN")

    def pull_requests(self, slug: str, *, since: datetime | None, etag: str | None,
                      etag_url: str | None) -> PullSync:
        """Pull requests updated after `since` (all when None), newest update first.

        The first page is asked with If-None-Match: a 304 means nothing changed since the last sync
        (and costs no rate limit).
        """
        url = f"{self.client.base_url}/repos/{slug}/pulls"
        params: dict | None = {"state": "all", "sort": "updated", "direction": "desc", "per_page": PER_PAGE}
        first_url = f"{url}?state=all&sort=updated&direction=desc&per_page={PER_PAGE}"
        out = PullSync(etag_url=first_url)
        conditional = etag if etag and etag_url == first_url and since is not None else None
        page_url: str | None = url
        while page_url:
            answer = self.client.get(page_url, params=params, etag=conditional if out.pages == 0 else None)
            out.pages += 1
            if answer.not_modified:
                out.not_modified, out.etag = True, etag
                break
            if out.pages == 1:
                out.etag = answer.headers.get("ETag")
            if not isinstance(answer.data, list):
                raise CollectorError(f"GitHub answered {type(answer.data).__name__} instead of a list of pull "
                                     f"requests for /repos/{slug}/pulls")
            reached_old = False
            for item in answer.data:
                row = _pull_row(item)
                if since is not None and row["updated_at"] <= since:
                    reached_old = True  # sorted by update, newest first: the rest is stored already
                    break
                out.pulls.append(row)
            if reached_old:
                break
            match = _NEXT.search(answer.headers.get("Link", ""))
            page_url, params = (match.group(1), None) if match else (None, None)
        out.requests, out.waited_s = self.client.requests_made, self.client.waited_s
        return out

    # --- details of one pull request: reviews, files, commits (issue 16) ------------------------------

    def _pages(self, path: str) -> tuple[list, int]:
        """Every item of a paginated list endpoint (Link rel="next"), and the pages read."""
        items: list = []
        pages = 0
        page_url: str | None = f"{self.client.base_url}{path}"
        params: dict | None = {"per_page": PER_PAGE}
        while page_url:
            answer = self.client.get(page_url, params=params)
            pages += 1
            if not isinstance(answer.data, list):
                raise CollectorError(f"GitHub answered {type(answer.data).__name__} instead of a list for {path}")
            items.extend(answer.data)
            match = _NEXT.search(answer.headers.get("Link", ""))
            page_url, params = (match.group(1), None) if match else (None, None)
        return items, pages

    def pull_details(self, slug: str, number: int) -> PullDetails:
        """Reviews, changed files and commits of one pull request (three paginated lists).

        Commits carry GitHub's commit-author linkage: the login GitHub attributes the commit to
        (`author.login`, null when the e-mail belongs to no account) next to the git e-mail.
        """
        base = f"/repos/{slug}/pulls/{number}"
        out = PullDetails(number=number)
        reviews, p1 = self._pages(f"{base}/reviews")
        files, p2 = self._pages(f"{base}/files")
        commits, p3 = self._pages(f"{base}/commits")
        out.pages = p1 + p2 + p3
        for item in reviews:
            if not isinstance(item, dict) or not isinstance(item.get("id"), int):
                out.skipped += 1
                continue
            user = item.get("user") if isinstance(item.get("user"), dict) else {}
            out.reviews.append({"review_id": item["id"], "reviewer_login": user.get("login"),
                                "state": item.get("state"), "submitted_at": parse_time(item.get("submitted_at"))})
        seen_paths: set[str] = set()
        for item in files:
            if not isinstance(item, dict) or not item.get("filename") or item["filename"] in seen_paths:
                out.skipped += 1
                continue
            seen_paths.add(item["filename"])
            out.files.append({"path": str(item["filename"]), "additions": _count(item.get("additions")),
                              "deletions": _count(item.get("deletions")), "status": item.get("status")})
        for item in commits:
            if not isinstance(item, dict) or not isinstance(item.get("sha"), str):
                out.skipped += 1
                continue
            commit = item.get("commit") if isinstance(item.get("commit"), dict) else {}
            git_author = commit.get("author") if isinstance(commit.get("author"), dict) else {}
            account = item.get("author") if isinstance(item.get("author"), dict) else {}
            out.commits.append({"sha": item["sha"], "author_login": account.get("login"),
                                "author_email": git_author.get("email"), "author_name": git_author.get("name")})
        out.requests = self.client.requests_made
        return out


def _count(value: object) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


@dataclass
class PullDetails:
    number: int
    reviews: list[dict] = field(default_factory=list)
    files: list[dict] = field(default_factory=list)
    commits: list[dict] = field(default_factory=list)
    pages: int = 0
    requests: int = 0
    skipped: int = 0  # records GitHub answered without the fields we need
