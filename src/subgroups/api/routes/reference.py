"""GET /openapi.json and GET /docs: the API described, for tools and for people. No key needed."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from subgroups.api.reference import document_bytes, page
from subgroups.api.responses import JSONBytes


async def openapi_document(_request: Request) -> Response:
    return JSONBytes(document_bytes())


async def docs_page(_request: Request) -> Response:
    return HTMLResponse(page())
