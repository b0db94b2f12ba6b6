"""Dagster schedules and the jobs they target, loaded from this package's modules by
`repo_scoping_pipelines.definitions`."""
