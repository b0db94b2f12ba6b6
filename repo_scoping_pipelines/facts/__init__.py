"""Observed facts with evidence (path, line) and the import graph of a repository snapshot.

One module per family of facts: manifests, frameworks, entrypoints, routes, delivery, license_docs_tests,
languages; imports and graph for the import graph. extract.py reads one file, observe.py assembles the
repository-level facts, pipeline.py stores them (the only module here that touches the database).
"""

from .model import KINDS, Fact, FileExtraction, Import

__all__ = ["KINDS", "Fact", "FileExtraction", "Import"]
