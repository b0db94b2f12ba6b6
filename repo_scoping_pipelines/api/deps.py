"""Request dependencies shared by the routers."""

from __future__ import annotations

from fastapi import Request

from ..services import Services, open_services


def services(request: Request) -> Services:
    """The process's Services for the app's settings (opened on first use)."""
    return open_services(request.app.state.settings)
