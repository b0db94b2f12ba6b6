"""Engineering metrics from git history (and GitHub / Redmine when configured): pure modules plus
pipeline.py, the one that reads and writes storage (its queries live in storage/metrics.py)."""
