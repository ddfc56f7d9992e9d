"""GET /openapi.json and GET /docs: the API described, for tools and for people. No key needed."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from subgroups.web.api.reference import document_bytes, page, page_policy
from subgroups.web.responses import JSONBytes


async def openapi_document(_request: Request) -> Response:
    return JSONBytes(document_bytes())


async def docs_page(_request: Request) -> Response:
    # Its own policy: the API's default forbids everything, which would also block the stylesheet.
    return HTMLResponse(page(), headers={"Content-Security-Policy": page_policy()})
