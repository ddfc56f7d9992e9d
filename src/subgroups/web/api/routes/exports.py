"""GET /exports/states and GET /exports/changes (contract §10): a workspace's states, now or as
of a moment, and its records, as CSV or NDJSON, streamed from one snapshot.

Permission `exports.get`; each export counts once against the workspace's GET rate limit (§8).
The parameters are checked, and the group looked up, before the first byte is sent: a bad one is a
400 with the CLI's message, never a broken download.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response

from subgroups.domain import exports
from subgroups.domain.exports import ExportFormat
from subgroups.domain.models import Permission
from subgroups.web.api.auth import authorised_key
from subgroups.web.api.query import query_params, single
from subgroups.web.state import services_of
from subgroups.web.streaming import CSV, NDJSON, TextDownload


async def export_states(request: Request) -> Response:
    services = services_of(request)
    key = await authorised_key(services, request, Permission.EXPORTS_GET)
    params = query_params(request)
    fmt = exports.export_format(single(params, "format"))
    lines = await services.exports.states(
        workspace_id=key.workspace_id,
        group_id=single(params, "group"),
        as_of=exports.moment(single(params, "as_of"), "as_of"),
        fmt=fmt,
    )
    return _download(lines, "states", fmt)


async def export_changes(request: Request) -> Response:
    services = services_of(request)
    key = await authorised_key(services, request, Permission.EXPORTS_GET)
    params = query_params(request)
    fmt = exports.export_format(single(params, "format"))
    lines = await services.exports.changes(
        workspace_id=key.workspace_id,
        group_id=single(params, "group"),
        since=exports.moment(single(params, "since"), "since"),
        until=exports.moment(single(params, "until"), "until"),
        source=exports.source(single(params, "source")),
        fmt=fmt,
    )
    return _download(lines, "changes", fmt)


def _download(lines: AsyncIterator[str], name: str, fmt: ExportFormat) -> Response:
    media_type = CSV if fmt is ExportFormat.CSV else NDJSON
    return TextDownload(lines, media_type=media_type, filename=f"{name}.{fmt.value}")
