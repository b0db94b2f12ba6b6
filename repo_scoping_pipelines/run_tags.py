"""Run tags that change what assets do (set by schedules, sensors or a person launching a run)."""

# A run with this tag set to "true" re-extracts everything: commit history from the root, pull
# requests and tracker issues without watermark or ETag (the weekly full refresh sets it).
FULL_REFRESH_TAG = "repo_scoping/full_refresh"


def is_full_refresh(tags: dict[str, str] | None) -> bool:
    return str((tags or {}).get(FULL_REFRESH_TAG, "")).lower() in ("1", "true", "yes")
