"""POST /imports, GET /imports/{id} and GET /imports/{id}/errors (contract §10): CSV imports
over HTTP, run in the background by the import loop of `subgroups serve` or `subgroups worker`.

All three need the `imports.write` permission: a key that may send imports may follow them, and
reading a job shows nothing its sender did not already hold. POST counts against the workspace's
set rate limit, the two GETs against its GET limit (§8).
"""

from __future__ import annotations

import unicodedata
from typing import Final

from starlette.requests import Request
from starlette.responses import Response

from subgroups.domain.imports import import_document
from subgroups.domain.models import Permission
from subgroups.errors import InvalidRequest
from subgroups.services.csv_text import error_report
from subgroups.services.ratelimits import Pool
from subgroups.web.api.auth import authorised_key
from subgroups.web.api.query import query_params, single
from subgroups.web.body import read_upload
from subgroups.web.errors import HttpError
from subgroups.web.responses import json_response
from subgroups.web.state import services_of
from subgroups.web.streaming import CSV, TextDownload

DEFAULT_FILE_NAME: Final = "import.csv"
MAX_FILE_NAME: Final = 255


async def create_import(request: Request) -> Response:
    services = services_of(request)
    key = await authorised_key(services, request, Permission.IMPORTS_WRITE)
    _check_media_type(request)
    params = query_params(request)
    dry_run = _dry_run(single(params, "dry_run"))
    file_name = _file_name(single(params, "file_name"))
    settings = services.settings
    content = await read_upload(
        request,
        max_bytes=settings.import_max_bytes,
        grace_seconds=settings.body_timeout_seconds,
    )
    job = await services.imports.submit(
        workspace_id=key.workspace_id, file_name=file_name, content=content, dry_run=dry_run
    )
    return json_response({"import_id": job.id, "message": "success"}, 202)


async def get_import(request: Request) -> Response:
    services = services_of(request)
    key = await authorised_key(services, request, Permission.IMPORTS_WRITE, pool=Pool.GET)
    job = await services.imports.get(
        workspace_id=key.workspace_id, import_id=request.path_params["import_id"]
    )
    return json_response(import_document(job))


async def get_import_errors(request: Request) -> Response:
    services = services_of(request)
    key = await authorised_key(services, request, Permission.IMPORTS_WRITE, pool=Pool.GET)
    job = await services.imports.get(
        workspace_id=key.workspace_id, import_id=request.path_params["import_id"]
    )
    rows = services.imports.errors(workspace_id=job.workspace_id, import_id=job.id)
    return TextDownload(error_report(rows), media_type=CSV, filename=f"import-{job.id}-errors.csv")


def _check_media_type(request: Request) -> None:
    """`text/csv` (parameters such as a charset are fine; the file must be UTF-8 whatever they
    say), or no Content-Type at all."""
    content_type = request.headers.get("content-type")
    if content_type is None:
        return
    if content_type.partition(";")[0].strip().lower() != "text/csv":
        raise HttpError(415, "Unsupported Media Type")


def _dry_run(value: str | None) -> bool:
    if value is None:
        return False
    if value.lower() not in ("true", "false"):
        raise InvalidRequest("dry_run must be 'true' or 'false'")
    return value.lower() == "true"


def _file_name(value: str | None) -> str:
    if value is None:
        return DEFAULT_FILE_NAME
    if not 0 < len(value) <= MAX_FILE_NAME or any(unicodedata.category(c) == "Cc" for c in value):
        raise InvalidRequest(
            f"file_name must be 1 to {MAX_FILE_NAME} characters, with no control characters"
        )
    return value
