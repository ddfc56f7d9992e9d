"""Templates (Jinja2, autoescaped) and the URLs of static files.

A static file's URL carries a hash of its content, so browsers may keep it for a year: a new version
of the file gets a new URL.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, Final

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

HERE: Final = Path(__file__).parent
STATIC: Final = HERE / "static"


@cache
def _version(name: str) -> str:
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]


def static_url(request: Request, name: str) -> str:
    path = request.url_for("dashboard:static", path=name).path
    return f"{path}?v={_version(name)}"


def _when(value: datetime | None, precision: str = "minutes") -> str:
    if value is None:
        return ""
    if precision == "date":
        return f"{value:%Y-%m-%d}"
    return f"{value:%Y-%m-%d %H:%M} UTC"


def _count(value: int) -> str:
    return f"{value:,}"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["count"] = _count
    return env


ENVIRONMENT: Final = _environment()


def render(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    def url(name: str, /, **params: Any) -> str:
        return request.url_for(f"dashboard:{name}", **params).path

    html = ENVIRONMENT.get_template(template).render(
        request=request,
        url=url,
        static=lambda name: static_url(request, name),
        **values,
    )
    return HTMLResponse(html, status_code=status)
