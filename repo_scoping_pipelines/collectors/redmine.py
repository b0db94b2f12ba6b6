"""Redmine REST: a project's issues from /issues.json, incrementally by updated_on."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..config import Settings
from .http import CollectorError, JsonClient, check_service_url, parse_time

PAGE = 100


def redmine_project(repository: str, settings: Settings) -> str:
    """The Redmine project of a repository: REPO_SCOPING_REDMINE_PROJECTS ("repo=project,...") or its name."""
    for pair in settings.redmine_projects.split(","):
        if "=" in pair:
            repo, project = (p.strip() for p in pair.split("=", 1))
            if repo == repository and project:
                return project
    return repository


@dataclass
class IssueSync:
    issues: list[dict] = field(default_factory=list)
    pages: int = 0
    requests: int = 0


def _name(value: object) -> str | None:
    return str(value.get("name")) if isinstance(value, dict) and value.get("name") is not None else None


class RedmineCollector:
    def __init__(self, settings: Settings, *, sleep: Callable[[float], None] = time.sleep) -> None:
        if not settings.redmine_url:
            raise CollectorError("REPO_SCOPING_REDMINE_URL is not set")
        if settings.redmine_api_key is None:
            raise CollectorError("REPO_SCOPING_REDMINE_API_KEY is not set")
        key = settings.redmine_api_key.get_secret_value()
        base = check_service_url(settings.redmine_url, settings, "REPO_SCOPING_REDMINE_URL")
        self.client = JsonClient.from_settings(
            "Redmine", base, {"X-Redmine-API-Key": key, "Accept": "application/json",
                              "User-Agent": "repo-scoping-pipelines"},
            (key,), settings, sleep=sleep, credential_hint="REPO_SCOPING_REDMINE_API_KEY")

    def issues(self, project: str, *, since: datetime | None) -> IssueSync:
        """Every issue (any status) of the project updated at or after `since`, oldest update first."""
        out = IssueSync()
        offset = 0
        while True:
            params = {"project_id": project, "status_id": "*", "sort": "updated_on", "limit": PAGE,
                      "offset": offset}
            if since is not None:
                params["updated_on"] = ">=" + since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            answer = self.client.get(f"{self.client.base_url}/issues.json", params=params)
            out.pages += 1
            data = answer.data
            if not isinstance(data, dict) or not isinstance(data.get("issues"), list):
                raise CollectorError("Redmine answered JSON without an 'issues' list for /issues.json")
            for item in data["issues"]:
                out.issues.append(self._row(item))
            total = data.get("total_count")
            offset += len(data["issues"])
            if not data["issues"] or not isinstance(total, int) or offset >= total:
                break
        out.requests = self.client.requests_made
        return out

    def _row(self, item: object) -> dict:
        if not isinstance(item, dict) or not isinstance(item.get("id"), int) or not item.get("updated_on"):
            raise CollectorError("Redmine answered an unexpected issue record (no id or updated_on)")
        return {
            "issue_id": item["id"],
            "project": _name(item.get("project")),
            "tracker": _name(item.get("tracker")),
            "status": _name(item.get("status")),
            "subject": str(item.get("subject") or ""),
            "description": str(item.get("description") or ""),
            "author": _name(item.get("author")),
            "assigned_to": _name(item.get("assigned_to")),
            "url": f"{self.client.base_url}/issues/{item['id']}",
            "created_on": parse_time(item.get("created_on")),
            "updated_on": parse_time(item["updated_on"]),
            "closed_on": parse_time(item.get("closed_on")),
        }
