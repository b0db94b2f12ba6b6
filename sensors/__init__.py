"""Dagster sensors, loaded from this package's modules by `repo_scoping_pipelines.definitions`."""
