"""What an app keeps for its requests: the services it was built with, typed."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request

from subgroups.container import Services


def keep_services(app: Starlette, services: Services) -> None:
    app.state.services = services


def services_of(request: Request) -> Services:
    """The services of the app answering `request` (the API's, or the dashboard's: the same)."""
    services: Services = request.app.state.services
    return services
