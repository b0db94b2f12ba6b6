"""repo-scoping-pipelines: know your organisation's code."""
