"""Engineering metrics from git history (and GitHub / Redmine when configured): plain functions the
metrics assets call; storage lives in storage/metrics.py."""
