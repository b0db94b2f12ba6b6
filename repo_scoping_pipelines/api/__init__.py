"""The read API (FastAPI): repositories, search, health; OpenAPI at /docs."""

from .app import create_app

__all__ = ["create_app"]
